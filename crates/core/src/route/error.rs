//! Route errors: configuration and output errors (the `ip_error()` kinds), and the
//! input drops without an ICMP error. Linux errno values of net/ipv4/route.c.

use crate::errno::Errno;
use std::fmt;

/// Errors of route configuration and output resolution, and the `ip_error()` kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteError {
    NetUnreach,
    HostUnreach,
    Acces,
    Inval,
    NoDev,
    Exist,
    Srch,
    /// The nexthop device is down.
    NetDown,
    /// `del_addr` of an address that is not configured.
    AddrNotAvail,
}

impl RouteError {
    /// The Linux errno value.
    pub fn errno(self) -> i32 {
        self.as_errno().errno()
    }

    /// The errno, by name.
    pub fn as_errno(self) -> Errno {
        match self {
            RouteError::NetUnreach => Errno::NetUnreach,
            RouteError::HostUnreach => Errno::HostUnreach,
            RouteError::Acces => Errno::Access,
            RouteError::Inval => Errno::Inval,
            RouteError::NoDev => Errno::NoDev,
            RouteError::Exist => Errno::Exist,
            RouteError::Srch => Errno::Srch,
            RouteError::NetDown => Errno::NetDown,
            RouteError::AddrNotAvail => Errno::AddrNotAvail,
        }
    }
}

impl fmt::Display for RouteError {
    /// The errno's name (`ENETUNREACH`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_errno().name())
    }
}

impl std::error::Error for RouteError {}

/// Why an input packet is dropped without an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteInputError {
    /// Counted in `in_martian_src`.
    MartianSource,
    /// Counted in `in_martian_dst`.
    MartianDestination,
    /// Reverse-path filter failure (EXDEV): counted in `in_martian_src` and, by the
    /// caller, in `IPRPFilter` with drop reason IP_RPFILTER.
    RpFilter,
    /// Unknown input device, a bad multicast source, a multicast group not joined.
    Inval,
}

impl RouteInputError {
    /// The Linux errno value.
    pub fn errno(self) -> i32 {
        self.as_errno().errno()
    }

    /// The errno, by name.
    pub fn as_errno(self) -> Errno {
        match self {
            RouteInputError::RpFilter => Errno::XDev,
            _ => Errno::Inval,
        }
    }
}

impl fmt::Display for RouteInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            RouteInputError::MartianSource => "martian source",
            RouteInputError::MartianDestination => "martian destination",
            RouteInputError::RpFilter => "reverse path filter",
            RouteInputError::Inval => return f.write_str(self.as_errno().name()),
        };
        write!(f, "{what} ({})", self.as_errno().name())
    }
}

impl std::error::Error for RouteInputError {}
