//! Route errors: configuration and output errors (the `ip_error()` kinds), and the
//! input drops without an ICMP error. Linux errno values of net/ipv4/route.c.

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
        match self {
            RouteError::NetUnreach => 101,
            RouteError::HostUnreach => 113,
            RouteError::Acces => 13,
            RouteError::Inval => 22,
            RouteError::NoDev => 19,
            RouteError::Exist => 17,
            RouteError::Srch => 3,
            RouteError::NetDown => 100,
            RouteError::AddrNotAvail => 99,
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteError::NetUnreach => "ENETUNREACH",
            RouteError::HostUnreach => "EHOSTUNREACH",
            RouteError::Acces => "EACCES",
            RouteError::Inval => "EINVAL",
            RouteError::NoDev => "ENODEV",
            RouteError::Exist => "EEXIST",
            RouteError::Srch => "ESRCH",
            RouteError::NetDown => "ENETDOWN",
            RouteError::AddrNotAvail => "EADDRNOTAVAIL",
        })
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
    pub fn errno(self) -> i32 {
        match self {
            RouteInputError::RpFilter => 18,
            _ => 22,
        }
    }
}

impl fmt::Display for RouteInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteInputError::MartianSource => "martian source (EINVAL)",
            RouteInputError::MartianDestination => "martian destination (EINVAL)",
            RouteInputError::RpFilter => "reverse path filter (EXDEV)",
            RouteInputError::Inval => "EINVAL",
        })
    }
}

impl std::error::Error for RouteInputError {}
