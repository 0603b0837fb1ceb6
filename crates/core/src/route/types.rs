//! The routing data types: routes, devices, interface addresses, flows and resolved
//! routes, with the address-class helpers and constants routing uses.
//! Linux include/net/ip_fib.h, include/net/route.h, include/linux/in.h.

use super::RouteError;
use skiff_wire::ipv4::IPPROTO_IP;
use std::net::Ipv4Addr;

/// Route type. Linux `RTN_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteType {
    /// The iproute2 name (`ip route` prints it before every non-unicast route).
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Multicast => "multicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
        }
    }
}

/// Route and address scope; smaller is wider. Linux `RT_SCOPE_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteScope(pub u8);

impl RouteScope {
    pub const UNIVERSE: RouteScope = RouteScope(0);
    pub const SITE: RouteScope = RouteScope(200);
    pub const LINK: RouteScope = RouteScope(253);
    pub const HOST: RouteScope = RouteScope(254);
    pub const NOWHERE: RouteScope = RouteScope(255);

    /// The iproute2 name (`/etc/iproute2/rt_scopes`).
    pub fn name(self) -> String {
        match self {
            RouteScope::UNIVERSE => "global".into(),
            RouteScope::SITE => "site".into(),
            RouteScope::LINK => "link".into(),
            RouteScope::HOST => "host".into(),
            RouteScope::NOWHERE => "nowhere".into(),
            RouteScope(n) => n.to_string(),
        }
    }
}

/// Routing table. Linux `RT_TABLE_LOCAL`, `RT_TABLE_MAIN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FibTableId {
    Local,
    Main,
}

impl FibTableId {
    /// The table number (255, 254).
    pub fn id(self) -> u32 {
        match self {
            FibTableId::Local => 255,
            FibTableId::Main => 254,
        }
    }
}

/// Who installed a route. Linux `RTPROT_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteProtocol {
    /// Installed by the stack for an interface address.
    Kernel,
    /// Installed by the administrator (the `ip route add` default).
    Boot,
    Static,
}

impl RouteProtocol {
    pub fn name(self) -> &'static str {
        match self {
            RouteProtocol::Kernel => "kernel",
            RouteProtocol::Boot => "boot",
            RouteProtocol::Static => "static",
        }
    }
}

/// One route. Linux `struct fib_config` as `ip route add` fills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibRoute {
    pub table: FibTableId,
    pub dst: Ipv4Addr,
    pub prefix_len: u8,
    pub rtype: RouteType,
    pub scope: RouteScope,
    /// Linux `fib_priority` (`ip route ... metric N`); lower wins.
    pub metric: u32,
    pub prefsrc: Option<Ipv4Addr>,
    pub gateway: Option<Ipv4Addr>,
    /// Output device, 0 for none. `add_route` fills it in from the gateway's route.
    pub oif: u32,
    /// Route MTU (`RTAX_MTU`), 0 for the device MTU.
    pub mtu: u32,
    /// `RTNH_F_ONLINK`: the gateway is on the link of `oif` even without a route to it.
    pub onlink: bool,
    pub protocol: RouteProtocol,
}

impl FibRoute {
    /// A route with iproute2's defaults for `ip route add [TYPE] DST/LEN`: local and
    /// broadcast routes go to the local table, everything else to main; scope host for
    /// local, link for broadcast and multicast, global otherwise; protocol boot.
    pub fn new(dst: Ipv4Addr, prefix_len: u8, rtype: RouteType) -> FibRoute {
        let (table, scope) = match rtype {
            RouteType::Local => (FibTableId::Local, RouteScope::HOST),
            RouteType::Broadcast => (FibTableId::Local, RouteScope::LINK),
            RouteType::Multicast => (FibTableId::Main, RouteScope::LINK),
            _ => (FibTableId::Main, RouteScope::UNIVERSE),
        };
        FibRoute {
            table,
            dst,
            prefix_len,
            rtype,
            scope,
            metric: 0,
            prefsrc: None,
            gateway: None,
            oif: 0,
            mtu: 0,
            onlink: false,
            protocol: RouteProtocol::Boot,
        }
    }

    /// `... via GW`: a gateway route has global scope.
    pub fn via(mut self, gateway: Ipv4Addr) -> FibRoute {
        self.gateway = Some(gateway);
        self.scope = RouteScope::UNIVERSE;
        self
    }

    /// `... dev IFINDEX`: a unicast route without a gateway gets link scope (iproute2).
    pub fn dev(mut self, oif: u32) -> FibRoute {
        self.oif = oif;
        if self.rtype == RouteType::Unicast && self.gateway.is_none() {
            self.scope = RouteScope::LINK;
        }
        self
    }

    /// `... metric N`.
    pub fn metric(mut self, metric: u32) -> FibRoute {
        self.metric = metric;
        self
    }
}

/// What routing needs to know of a device; the owner of the devices keeps it current
/// through [`Fib::set_device`](super::Fib::set_device). Linux `struct net_device` flags +
/// `struct in_device` conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibDevice {
    pub ifindex: u32,
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_LOOPBACK`.
    pub loopback: bool,
    pub mtu: u32,
    /// Effective `conf/{all,DEV}/forwarding` (Linux IN_DEV_FORWARD()).
    pub forwarding: bool,
    /// Effective `send_redirects` (all OR dev, IN_DEV_TX_REDIRECTS()).
    pub send_redirects: bool,
    /// Effective `accept_local` (all OR dev).
    pub accept_local: bool,
    /// Effective `route_localnet` (all OR dev).
    pub route_localnet: bool,
    /// Effective `rp_filter` (max of all and dev): 0 off, 1 strict, 2 loose.
    pub rp_filter: u8,
    /// Effective `bc_forwarding` (all AND dev, IN_DEV_BFORWARD()).
    pub bc_forwarding: bool,
    /// Effective `mc_forwarding` (all AND dev, IN_DEV_MFORWARD()): the device is a vif
    /// of an active multicast routing table (`ipv4/ipmr.rs`).
    pub mc_forwarding: bool,
}

impl FibDevice {
    /// A device with Linux's defaults: down, MTU 1500 (65536 for loopback), not
    /// forwarding, send_redirects on, the rest off.
    pub fn new(ifindex: u32, name: &str, loopback: bool) -> FibDevice {
        FibDevice {
            ifindex,
            name: name.to_string(),
            up: false,
            loopback,
            mtu: if loopback { LOOPBACK_MTU } else { 1500 },
            forwarding: false,
            send_redirects: true,
            accept_local: false,
            route_localnet: false,
            rp_filter: 0,
            bc_forwarding: false,
            mc_forwarding: false,
        }
    }
}

/// An interface address. Linux `struct in_ifaddr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InAddr {
    pub ifindex: u32,
    pub local: Ipv4Addr,
    pub prefix_len: u8,
    /// The subnet broadcast (as `brd +` sets it), `None` for /31 and /32.
    pub broadcast: Option<Ipv4Addr>,
    /// Host for 127/8, global otherwise (iproute2's default scope).
    pub scope: RouteScope,
    /// `IFA_F_SECONDARY`: another address of the same subnet was there first.
    pub secondary: bool,
}

impl InAddr {
    pub(super) fn mask(&self) -> u32 {
        inet_make_mask(self.prefix_len)
    }

    /// Linux inet_ifa_match(): is `addr` in this address's subnet?
    pub(super) fn matches(&self, addr: u32) -> bool {
        (addr ^ u32::from(self.local)) & self.mask() == 0
    }

    pub(super) fn same_subnet(&self, other: &InAddr) -> bool {
        self.ifindex == other.ifindex
            && self.prefix_len == other.prefix_len
            && self.matches(u32::from(other.local))
    }
}

/// A flow to route. Linux `struct flowi4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flowi4 {
    pub daddr: Ipv4Addr,
    /// 0.0.0.0: choose one.
    pub saddr: Ipv4Addr,
    /// 0: any device.
    pub oif: u32,
    pub tos: u8,
    /// LINK for `RTO_ONLINK`/`SO_DONTROUTE`, else UNIVERSE.
    pub scope: RouteScope,
    pub proto: u8,
    pub mark: u32,
}

impl Flowi4 {
    /// A flow to `daddr` with everything else left to routing.
    pub fn new(daddr: Ipv4Addr) -> Flowi4 {
        Flowi4 {
            daddr,
            saddr: Ipv4Addr::UNSPECIFIED,
            oif: 0,
            tos: 0,
            scope: RouteScope::UNIVERSE,
            proto: IPPROTO_IP,
            mark: 0,
        }
    }
}

/// Route flags. Linux `RTCF_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RtFlags(pub u32);

impl RtFlags {
    pub const DOREDIRECT: RtFlags = RtFlags(0x0100_0000);
    pub const BROADCAST: RtFlags = RtFlags(0x1000_0000);
    pub const MULTICAST: RtFlags = RtFlags(0x2000_0000);
    pub const LOCAL: RtFlags = RtFlags(0x8000_0000);
    /// skiff's: the MTU is a locked path MTU (Linux `rt_mtu_locked`, ip_mtu_locked()).
    pub const MTU_LOCKED: RtFlags = RtFlags(0x0000_0001);

    pub fn contains(self, other: RtFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub(super) fn without(self, other: RtFlags) -> RtFlags {
        RtFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for RtFlags {
    type Output = RtFlags;
    fn bitor(self, rhs: RtFlags) -> RtFlags {
        RtFlags(self.0 | rhs.0)
    }
}

/// What an input route does with the packet. Linux `dst->input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DstInput {
    /// ip_local_deliver().
    LocalDeliver,
    /// ip_forward().
    Forward,
    /// ip_mr_input(): multicast forwarding (`ipv4/ipmr.rs`), local delivery beside it
    /// when the route is also RTCF_LOCAL.
    MrInput,
    /// ip_error(): ENETUNREACH, EHOSTUNREACH, EACCES or EINVAL.
    Error(RouteError),
    /// dst_discard(): an output route that does not loop back.
    Discard,
}

/// A resolved route. Linux `struct rtable`. Valid while
/// [`Fib::dst_check`](super::Fib::dst_check) holds.
///
/// `repr(C, align(8))`: copies of a route are whole aligned words, so reading a field
/// right after a copy is forwarded from the store (a niche-packed layout made every
/// received packet stall on a split load of `flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct DstEntry {
    pub rt_type: RouteType,
    pub input: DstInput,
    pub flags: RtFlags,
    /// Output device (the loopback device for local delivery and local output).
    pub dev: u32,
    /// Input device of an input route; the original `oif` of an output route
    /// (for a local destination, the device holding the address).
    pub iif: u32,
    /// Linux `rt_gw4` when `rt_uses_gateway`: the next hop is `gateway.unwrap_or(daddr)`.
    pub gateway: Option<Ipv4Addr>,
    /// Route MTU if set, else the output device's MTU.
    pub mtu: u32,
    /// Output: the selected source address (Linux fills `fl4->saddr`). Input: the
    /// specific destination replies use (fib_compute_spec_dst()).
    pub saddr: Ipv4Addr,
    /// Output: the destination (Linux rewrites `fl4->daddr` 0.0.0.0 to a local address).
    /// Input: the packet's destination.
    pub daddr: Ipv4Addr,
    pub genid: u32,
}

impl DstEntry {
    /// The address to resolve at the link layer. Linux rt_nexthop().
    pub fn nexthop(&self) -> Ipv4Addr {
        self.gateway.unwrap_or(self.daddr)
    }
}

/// `/proc/net/stat/rt_cache` counters that skiff maintains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtCacheStat {
    pub in_slow_tot: u64,
    pub in_slow_mc: u64,
    pub in_no_route: u64,
    pub in_brd: u64,
    pub in_martian_dst: u64,
    pub in_martian_src: u64,
    pub out_slow_tot: u64,
    pub out_slow_mc: u64,
}

/// `prefix_len` leading one bits (`prefix_len <= 32`). Linux inet_make_mask().
pub(super) fn inet_make_mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

pub(super) use crate::netdev::{LOOPBACK_IFINDEX, LOOPBACK_MTU};
/// Linux IP_MAX_MTU: a route MTU is clamped to it.
pub(super) const IP_MAX_MTU: u32 = 0xFFF0;
pub(super) const INADDR_LOOPBACK: u32 = 0x7f00_0001;
/// 224.0.0.1, joined on every multicast-capable device.
pub(super) const IGMP_ALL_HOSTS: u32 = 0xe000_0001;

pub(super) fn ipv4_is_multicast(a: u32) -> bool {
    a & 0xf000_0000 == 0xe000_0000
}
pub(super) fn ipv4_is_local_multicast(a: u32) -> bool {
    a & 0xffff_ff00 == 0xe000_0000
}
pub(super) fn ipv4_is_lbcast(a: u32) -> bool {
    a == u32::MAX
}
pub(super) fn ipv4_is_zeronet(a: u32) -> bool {
    a & 0xff00_0000 == 0
}
pub(super) fn ipv4_is_loopback(a: u32) -> bool {
    a & 0xff00_0000 == 0x7f00_0000
}
