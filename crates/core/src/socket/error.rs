//! Socket call errors. Each variant is one errno, as Linux returns it.

use crate::ipv4::output::OutputError;
use crate::route::RouteError;
use core::fmt;

macro_rules! sock_errors {
    ($($(#[$m:meta])* $v:ident = $errno:literal, $name:literal, $text:literal;)*) => {
        /// A socket call that failed. Each variant names its errno; `std::io::Error`
        /// converts from it with the matching `ErrorKind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum SockError {
            $($(#[$m])* $v,)*
        }

        impl SockError {
            /// The Linux errno value.
            pub const fn errno(self) -> i32 {
                match self { $(SockError::$v => $errno,)* }
            }

            /// The errno's symbolic name ("EMSGSIZE").
            pub const fn name(self) -> &'static str {
                match self { $(SockError::$v => $name,)* }
            }

            /// The variant for an errno the stack itself produces (a pending `sk_err`).
            pub(crate) fn from_errno(errno: i32) -> SockError {
                match errno {
                    $($errno => SockError::$v,)*
                    _ => SockError::Inval,
                }
            }
        }

        impl fmt::Display for SockError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(SockError::$v => write!(f, "{} ({})", $text, $name),)* }
            }
        }
    };
}

sock_errors! {
    /// Operation not permitted: SOCK_RAW without the raw capability, a netfilter drop.
    Perm = 1, "EPERM", "operation not permitted";
    /// An I/O error: UDP_SEGMENT on a datagram that cannot be checksummed partially.
    Io = 5, "EIO", "input/output error";
    /// No such socket.
    BadFd = 9, "EBADF", "bad file descriptor";
    /// Nothing to receive, or no room to send, on a non-blocking call.
    Again = 11, "EAGAIN", "resource temporarily unavailable";
    /// Broadcast without SO_BROADCAST, a prohibited route, a ping socket outside
    /// `ping_group_range`.
    Access = 13, "EACCES", "permission denied";
    /// No such device.
    NoDev = 19, "ENODEV", "no such device";
    /// An invalid argument.
    Inval = 22, "EINVAL", "invalid argument";
    /// Host is down (ICMP host unknown).
    NoNet = 64, "ENONET", "machine is not on the network";
    /// Protocol error (ICMP parameter problem).
    Proto = 71, "EPROTO", "protocol error";
    /// A send needs a destination.
    DestAddrReq = 89, "EDESTADDRREQ", "destination address required";
    /// The datagram is too large for the socket's limits.
    MsgSize = 90, "EMSGSIZE", "message too long";
    /// Protocol not available (ICMP protocol unreachable, an unknown option).
    NoProtoOpt = 92, "ENOPROTOOPT", "protocol not available";
    /// socket(): no such protocol for the type.
    ProtoNoSupport = 93, "EPROTONOSUPPORT", "protocol not supported";
    /// socket(): the type is not supported in this family.
    SocktNoSupport = 94, "ESOCKTNOSUPPORT", "socket type not supported";
    /// MSG_OOB on a datagram socket, an option the socket type lacks.
    OpNotSupp = 95, "EOPNOTSUPP", "operation not supported";
    /// The address family is not supported.
    AfNoSupport = 97, "EAFNOSUPPORT", "address family not supported by protocol";
    /// The local address and port are taken.
    AddrInUse = 98, "EADDRINUSE", "address already in use";
    /// The address is not local, or a membership to drop does not exist.
    AddrNotAvail = 99, "EADDRNOTAVAIL", "cannot assign requested address";
    /// The output device is down.
    NetDown = 100, "ENETDOWN", "network is down";
    /// No route to the network.
    NetUnreach = 101, "ENETUNREACH", "network is unreachable";
    /// No buffer space: the send buffer is full, or a hook dropped the datagram.
    NoBufs = 105, "ENOBUFS", "no buffer space available";
    /// The socket is not connected.
    NotConn = 107, "ENOTCONN", "transport endpoint is not connected";
    /// ICMP port unreachable reached a connected socket.
    ConnRefused = 111, "ECONNREFUSED", "connection refused";
    /// Host is down (ICMP host unknown).
    HostDown = 112, "EHOSTDOWN", "host is down";
    /// No route to the host.
    HostUnreach = 113, "EHOSTUNREACH", "no route to host";
    /// The route table has no such entry.
    Srch = 3, "ESRCH", "no such process";
    /// It exists already.
    Exist = 17, "EEXIST", "file exists";
}

impl std::error::Error for SockError {}

impl From<SockError> for std::io::Error {
    fn from(e: SockError) -> Self {
        std::io::Error::from_raw_os_error(e.errno())
    }
}

impl SockError {
    /// The `std::io::ErrorKind` of the errno.
    pub fn kind(self) -> std::io::ErrorKind {
        std::io::Error::from(self).kind()
    }
}

impl From<RouteError> for SockError {
    fn from(e: RouteError) -> Self {
        SockError::from_errno(e.errno())
    }
}

impl From<OutputError> for SockError {
    fn from(e: OutputError) -> Self {
        SockError::from_errno(e.errno())
    }
}
