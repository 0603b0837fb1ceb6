//! Linux errno values: one type for every error the stack returns that names one.
//! Linux include/uapi/asm-generic/errno-base.h, errno.h.

use core::fmt;

macro_rules! errnos {
    ($($(#[$m:meta])* $v:ident = $errno:literal, $name:literal, $text:literal;)*) => {
        /// A Linux errno. Socket calls return it (as [`SockError`](crate::socket::SockError)),
        /// and so does route configuration (as [`RouteError`](crate::route::RouteError));
        /// `std::io::Error` converts from it with the matching `ErrorKind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Errno {
            $($(#[$m])* $v,)*
        }

        impl Errno {
            /// The Linux errno value.
            pub const fn errno(self) -> i32 {
                match self { $(Errno::$v => $errno,)* }
            }

            /// The errno's symbolic name ("EMSGSIZE").
            pub const fn name(self) -> &'static str {
                match self { $(Errno::$v => $name,)* }
            }

            /// The variant for an errno the stack itself produces (a pending `sk_err`);
            /// EINVAL for any other value.
            pub(crate) fn from_errno(errno: i32) -> Errno {
                match errno {
                    $($errno => Errno::$v,)*
                    _ => Errno::Inval,
                }
            }
        }

        impl fmt::Display for Errno {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(Errno::$v => write!(f, "{} ({})", $text, $name),)* }
            }
        }
    };
}

errnos! {
    /// Operation not permitted: SOCK_RAW without the raw capability, a netfilter drop.
    Perm = 1, "EPERM", "operation not permitted";
    /// No such entry: an unknown sysctl.
    NoEnt = 2, "ENOENT", "no such file or directory";
    /// An I/O error: UDP_SEGMENT on a datagram that cannot be checksummed partially.
    Io = 5, "EIO", "input/output error";
    /// No such socket.
    BadFd = 9, "EBADF", "bad file descriptor";
    /// Nothing to receive, or no room to send, on a non-blocking call.
    Again = 11, "EAGAIN", "resource temporarily unavailable";
    /// Broadcast without SO_BROADCAST, a prohibited route, a ping socket outside
    /// `ping_group_range`.
    Access = 13, "EACCES", "permission denied";
    /// A reverse path filter refused the source (route input).
    XDev = 18, "EXDEV", "invalid cross-device link";
    /// No such device.
    NoDev = 19, "ENODEV", "no such device";
    /// An invalid argument.
    Inval = 22, "EINVAL", "invalid argument";
    /// Too many open files: a vif index or MFC parent past MAXVIFS.
    NFile = 23, "ENFILE", "too many open files in system";
    /// Not a typewriter: an ioctl the socket does not know.
    NoTty = 25, "ENOTTY", "inappropriate ioctl for device";
    /// The host is isolated (ICMP host isolated).
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
    /// In use by something else.
    Busy = 16, "EBUSY", "device or resource busy";
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.errno())
    }
}

impl Errno {
    /// The `std::io::ErrorKind` of the errno.
    pub fn kind(self) -> std::io::ErrorKind {
        std::io::Error::from(self).kind()
    }
}
