//! The stack's tunables, by their Linux sysctl names (`net.ipv4.*`, and the per-device
//! `net.ipv4.conf.all.*` ones that skiff applies to every device). Linux defaults.

use crate::errno::Errno;
use core::fmt;

macro_rules! sysctls {
    ($($(#[$meta:meta])* $name:ident: $ty:ty = $default:expr, [$min:expr, $max:expr];)*) => {
        /// Linux `net.ipv4` sysctls.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Sysctl {
            $($(#[$meta])* pub $name: $ty,)*
            /// Ephemeral ports for autobind and bind(port 0): `low high`, inclusive.
            pub ip_local_port_range: (u16, u16),
        }

        impl Default for Sysctl {
            fn default() -> Self {
                Sysctl { $($name: $default,)* ip_local_port_range: (32768, 60999) }
            }
        }

        impl Sysctl {
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name),)* "ip_local_port_range"];

            /// The value of `name` (the short name, `ip_forward`, or the full one,
            /// `net.ipv4.ip_forward`).
            pub fn get(&self, name: &str) -> Result<i64, SysctlError> {
                match short(name) {
                    "ip_local_port_range" => Err(SysctlError::Invalid(name.to_string(), "(two values; see Sysctl::render)".to_string())),
                    $(stringify!($name) => Ok(i64::from(self.$name)),)*
                    _ => Err(SysctlError::NoEntry(name.to_string())),
                }
            }

            /// Sets `name` from its decimal text. Values outside the kernel's range are
            /// refused with EINVAL, as proc_dointvec_minmax does.
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), SysctlError> {
                if short(name) == "ip_local_port_range" {
                    return self.set_port_range(name, value);
                }
                let v: i64 = value.trim().parse().map_err(|_| SysctlError::Invalid(name.to_string(), value.to_string()))?;
                match short(name) {
                    $(stringify!($name) => {
                        if !($min..=$max).contains(&v) || !self.cross_ok(stringify!($name), v) {
                            return Err(SysctlError::Invalid(name.to_string(), value.to_string()));
                        }
                        self.$name = <$ty>::try_from(v).map_err(|_| SysctlError::Invalid(name.to_string(), value.to_string()))?;
                        Ok(())
                    })*
                    _ => Err(SysctlError::NoEntry(name.to_string())),
                }
            }
        }
    };
}

impl Sysctl {
    /// Bounds that depend on another sysctl (Linux's `extra1`/`extra2` pointing at it):
    /// `ipfrag_high_thresh` may not go below `ipfrag_low_thresh`, nor low above high.
    fn cross_ok(&self, name: &str, v: i64) -> bool {
        match name {
            "ipfrag_high_thresh" => v >= i64::from(self.ipfrag_low_thresh),
            "ipfrag_low_thresh" => v <= i64::from(self.ipfrag_high_thresh),
            _ => true,
        }
    }
}

impl Sysctl {
    /// The value as `sysctl` prints it (`32768\t60999` for the port range).
    pub fn render(&self, name: &str) -> Result<String, SysctlError> {
        if short(name) == "ip_local_port_range" {
            let (lo, hi) = self.ip_local_port_range;
            return Ok(format!("{lo}\t{hi}"));
        }
        self.get(name).map(|v| v.to_string())
    }

    /// Linux ipv4_local_port_range(): two ports, low not above high.
    fn set_port_range(&mut self, name: &str, value: &str) -> Result<(), SysctlError> {
        let bad = || SysctlError::Invalid(name.to_string(), value.to_string());
        let mut it = value.split_whitespace().map(|v| v.parse::<u16>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(lo)), Some(Ok(hi)), None) if lo <= hi && lo >= 1 => {
                self.ip_local_port_range = (lo, hi);
                Ok(())
            }
            _ => Err(bad()),
        }
    }
}

/// The short name of a sysctl: `net.ipv4.ip_forward` and `conf.all.forwarding` (Linux's
/// two names of one value) are both `ip_forward`.
pub(crate) fn short(name: &str) -> &str {
    let name = name.strip_prefix("net.ipv4.").unwrap_or(name);
    let name = name.strip_prefix("net.core.").unwrap_or(name);
    let name = name.strip_prefix("route.").unwrap_or(name);
    match name.strip_prefix("conf.all.") {
        Some("forwarding") => "ip_forward",
        Some(name) => name,
        None => name,
    }
}

sysctls! {
    /// Forward packets between devices (also sets every device's `forwarding`).
    ip_forward: u8 = 0, [0, 1];
    /// TTL of locally generated packets.
    ip_default_ttl: u8 = 64, [1, 255];
    /// Accept source-routed packets (conf.all.accept_source_route; Linux default 0).
    accept_source_route: u8 = 0, [0, 1];
    /// Ignore ICMP echo and timestamp requests sent to broadcast/multicast.
    icmp_echo_ignore_broadcasts: u8 = 1, [0, 1];
    /// Ignore every ICMP echo request.
    icmp_echo_ignore_all: u8 = 0, [0, 1];
    /// Do not log (here: do not warn about) bogus ICMP errors sent to broadcast.
    icmp_ignore_bogus_error_responses: u8 = 1, [0, 1];
    /// Minimum ms between ICMP messages to one destination (per-peer bucket).
    icmp_ratelimit: u32 = 1000, [0, i32::MAX as i64];
    /// Which ICMP types the per-peer limit applies to (bit n = type n).
    icmp_ratemask: u32 = 0x1818, [0, i32::MAX as i64];
    /// Global ICMP token bucket rate.
    icmp_msgs_per_sec: u32 = 1000, [0, i32::MAX as i64];
    /// Global ICMP token bucket depth.
    icmp_msgs_burst: u32 = 50, [0, i32::MAX as i64];
    /// Use the inbound interface's address as the source of ICMP errors.
    icmp_errors_use_inbound_ifaddr: u8 = 0, [0, 1];
    /// Send ICMP redirects when forwarding out of the receiving device.
    send_redirects: u8 = 1, [0, 1];
    /// Reverse path filter: 0 off, 1 strict, 2 loose.
    rp_filter: u8 = 0, [0, 2];
    /// Accept packets whose source is one of our addresses.
    accept_local: u8 = 0, [0, 1];
    /// Route 127/8 on non-loopback devices.
    route_localnet: u8 = 0, [0, 1];
    /// Drop unicast IP carried in L2 multicast/broadcast frames.
    drop_unicast_in_l2_multicast: u8 = 0, [0, 1];
    /// Reassembly memory (bytes of truesize) above which every fragment is refused.
    ipfrag_high_thresh: u32 = 4 << 20, [0, i32::MAX as i64];
    /// Obsolete since Linux 4.17 (nothing reads it); kept, with its bound against high.
    ipfrag_low_thresh: u32 = 3 << 20, [0, i32::MAX as i64];
    /// Seconds a reassembly queue may wait for its fragments (IP_FRAG_TIME).
    ipfrag_time: u32 = 30, [0, (i32::MAX / 1000) as i64];
    /// Fragments from one source that may arrive between two of one queue's before the
    /// queue is restarted; 0 disables the check.
    ipfrag_max_dist: u32 = 64, [0, i32::MAX as i64];
    /// Path MTU discovery off: 1 sockets default to IP_PMTUDISC_DONT; 2 and 3 also ignore
    /// fragmentation-needed (3 keeps it for protocols that validate it; none here do).
    ip_no_pmtu_disc: u8 = 0, [0, 3];
    /// route.min_pmtu: the smallest path MTU learned; smaller ones are clamped and locked.
    min_pmtu: u32 = 552, [68, i32::MAX as i64];
    /// route.mtu_expires: seconds a learned path MTU lasts.
    mtu_expires: u32 = 600, [0, (i32::MAX / 1000) as i64];
    /// bind() may take an address that is not local.
    ip_nonlocal_bind: u8 = 0, [0, 1];
    /// net.core.rmem_default: a new socket's receive buffer.
    rmem_default: u32 = 212_992, [0, i32::MAX as i64];
    /// net.core.wmem_default: a new socket's send buffer.
    wmem_default: u32 = 212_992, [0, i32::MAX as i64];
    /// net.core.rmem_max: the largest SO_RCVBUF (before doubling).
    rmem_max: u32 = 212_992, [0, i32::MAX as i64];
    /// net.core.wmem_max: the largest SO_SNDBUF (before doubling).
    wmem_max: u32 = 212_992, [0, i32::MAX as i64];
    /// Groups one socket may join (ENOBUFS beyond).
    igmp_max_memberships: u32 = 20, [0, i32::MAX as i64];
    /// Sources in one socket's filter for a group (ENOBUFS beyond).
    igmp_max_msf: u32 = 10, [0, i32::MAX as i64];
    /// IGMP robustness variable: how often unsolicited reports and changes are sent.
    igmp_qrv: u32 = 2, [1, i32::MAX as i64];
    /// Report 224.0.0.0/24 groups (other than 224.0.0.1, never reported).
    igmp_link_local_mcast_reports: u8 = 1, [0, 255];
    /// conf.all.force_igmp_version: 1 or 2 forces that version, anything else is auto.
    force_igmp_version: i32 = 0, [i32::MIN as i64, i32::MAX as i64];
    /// conf.all.igmpv2_unsolicited_report_interval, in ms.
    igmpv2_unsolicited_report_interval: u32 = 10_000, [0, i32::MAX as i64];
    /// conf.all.igmpv3_unsolicited_report_interval, in ms.
    igmpv3_unsolicited_report_interval: u32 = 1_000, [0, i32::MAX as i64];
    // Early demux and directed-broadcast forwarding (Linux sysctl_net_ipv4.c, devinet.c).
    /// Look the socket up before routing and use its cached input route (any non-zero
    /// value is on, as Linux's u8 handler takes 0..=255).
    ip_early_demux: u8 = 1, [0, 255];
    /// Early demux for UDP: connected sockets (needs `ip_early_demux` too).
    udp_early_demux: u8 = 1, [0, 255];
    /// conf.all.bc_forwarding: forward directed broadcasts to another device's subnet
    /// (Linux 5.0, IN_DEV_BFORWARD()) instead of delivering them locally.
    bc_forwarding: u8 = 0, [0, 1];
}

/// A sysctl write or read that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlError {
    /// No such sysctl: ENOENT.
    NoEntry(String),
    /// Not a number, or out of range: EINVAL.
    Invalid(String, String),
    /// A read-only sysctl (mode 0444, `mc_forwarding`): EACCES, even for root.
    ReadOnly(String),
}

impl SysctlError {
    /// The Linux errno value.
    pub const fn errno(&self) -> i32 {
        self.as_errno().errno()
    }

    /// The errno, by name.
    pub const fn as_errno(&self) -> Errno {
        match self {
            SysctlError::NoEntry(_) => Errno::NoEnt,
            SysctlError::Invalid(..) => Errno::Inval,
            SysctlError::ReadOnly(_) => Errno::Access,
        }
    }
}

impl fmt::Display for SysctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errno = self.as_errno().name();
        match self {
            SysctlError::NoEntry(n) => write!(f, "sysctl {n}: no such key ({errno})"),
            SysctlError::Invalid(n, v) => write!(f, "sysctl {n}: invalid value {v:?} ({errno})"),
            SysctlError::ReadOnly(n) => write!(f, "sysctl {n}: read-only ({errno})"),
        }
    }
}

impl std::error::Error for SysctlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_get_set_and_ranges() {
        let mut s = Sysctl::default();
        assert_eq!(s.get("ip_default_ttl"), Ok(64));
        assert_eq!(s.get("net.ipv4.icmp_ratemask"), Ok(0x1818));
        s.set("net.ipv4.ip_forward", "1").unwrap();
        assert_eq!(s.ip_forward, 1);
        s.set("net.ipv4.conf.all.accept_source_route", "1").unwrap();
        assert_eq!(s.accept_source_route, 1);
        assert_eq!(s.set("ip_forward", "2").unwrap_err().errno(), 22);
        assert_eq!(s.set("ip_default_ttl", "0").unwrap_err().errno(), 22);
        assert_eq!(s.set("ip_default_ttl", "x").unwrap_err().errno(), 22);
        assert_eq!(s.set("nope", "1").unwrap_err().errno(), 2);
        assert_eq!(s.get("nope").unwrap_err().errno(), 2);
        assert!(Sysctl::NAMES.contains(&"icmp_msgs_burst"));
        // R1: Linux's reassembly defaults, and high may not drop below low.
        assert_eq!(s.get("ipfrag_high_thresh"), Ok(4194304));
        assert_eq!(s.get("ipfrag_low_thresh"), Ok(3145728));
        assert_eq!(s.get("ipfrag_time"), Ok(30));
        assert_eq!(s.get("ipfrag_max_dist"), Ok(64));
        assert_eq!(s.get("net.ipv4.route.min_pmtu"), Ok(552));
        assert_eq!(s.get("route.mtu_expires"), Ok(600));
        assert_eq!(s.set("min_pmtu", "67").unwrap_err().errno(), 22);
        assert_eq!(
            s.set("ipfrag_high_thresh", "3145727").unwrap_err().errno(),
            22
        );
        assert_eq!(
            s.set("ipfrag_low_thresh", "4194305").unwrap_err().errno(),
            22
        );
        s.set("ipfrag_high_thresh", "3145728").unwrap();
        assert_eq!(s.ipfrag_high_thresh, 3145728);
    }
}
