//! IPv4 routing: the FIB (local and main tables), interface addresses and the routes they
//! install, source address selection, and the input and output route resolvers that turn a
//! packet or a flow into a [`DstEntry`].
//! Linux net/ipv4/route.c, fib_trie.c, fib_frontend.c, devinet.c.
//!
//! Deviations from Linux, all deliberate: no policy rules (one merged trie, as Linux runs
//! without custom rules), no multipath, no route TOS, no multicast forwarding, no per-nexthop
//! route cache (every resolution is a slow-path resolution, so the `*_slow_*` counters count
//! every call), `promote_secondaries` is 0. Nexthop exceptions hold learned path MTUs only
//! (no redirects).

pub mod cache;
pub mod exception;
mod fib;

use crate::rand::Prng;
use crate::time::Instant;
use exception::{FnheKey, FnheTable};
use fib::{FibAlias, FibResult, FibTrie, NhDev, inet_make_mask};
use std::cell::Cell;
use std::fmt;
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
/// through [`Fib::set_device`]. Linux `struct net_device` flags + `struct in_device` conf.
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
    fn mask(&self) -> u32 {
        inet_make_mask(self.prefix_len)
    }

    /// Linux inet_ifa_match(): is `addr` in this address's subnet?
    fn matches(&self, addr: u32) -> bool {
        (addr ^ u32::from(self.local)) & self.mask() == 0
    }

    fn same_subnet(&self, other: &InAddr) -> bool {
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
            proto: 0,
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

    fn without(self, other: RtFlags) -> RtFlags {
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
    /// ip_error(): ENETUNREACH, EHOSTUNREACH, EACCES or EINVAL.
    Error(RouteError),
    /// dst_discard(): an output route that does not loop back.
    Discard,
}

/// A resolved route. Linux `struct rtable`. Valid while [`Fib::dst_check`] holds.
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

#[derive(Default)]
struct Counters {
    in_slow_tot: Cell<u64>,
    in_slow_mc: Cell<u64>,
    in_no_route: Cell<u64>,
    in_brd: Cell<u64>,
    in_martian_dst: Cell<u64>,
    in_martian_src: Cell<u64>,
    out_slow_tot: Cell<u64>,
    out_slow_mc: Cell<u64>,
}

fn inc(c: &Cell<u64>) {
    c.set(c.get().wrapping_add(1));
}

/// The output route of a unicast nexthop for a flow without source, device or scope:
/// what __mkroute_output() makes of it, or `None` when the general path must decide.
fn nh_output(nh: &fib::FibNh) -> Option<fib::NhOutput> {
    let res = fib::FibResult { nh, prefix_len: 0 };
    let saddr = Fib::fib_result_prefsrc(&res);
    if nh.rtype != RouteType::Unicast
        || (ipv4_is_loopback(saddr) && !nh.dev.loopback && !nh.dev.route_localnet)
    {
        return None;
    }
    let (gateway, mtu) = Fib::nexthop(Some(&res), nh.dev.mtu);
    let (flags, input) = if nh.dev.loopback {
        (RtFlags::LOCAL, DstInput::LocalDeliver)
    } else {
        (RtFlags(0), DstInput::Discard)
    };
    Some(fib::NhOutput {
        flags,
        input,
        dev: nh.oif,
        gateway,
        mtu,
        saddr: Ipv4Addr::from(saddr),
    })
}

/// Linux LOOPBACK_IFINDEX, used when no loopback device is registered.
const LOOPBACK_IFINDEX: u32 = 1;
/// Linux loopback MTU (64 KiB since 4.18).
const LOOPBACK_MTU: u32 = 65536;
/// Linux IP_MAX_MTU: a route MTU is clamped to it.
const IP_MAX_MTU: u32 = 0xFFF0;
const INADDR_LOOPBACK: u32 = 0x7f00_0001;
const IPPROTO_IGMP: u8 = 2;
/// 224.0.0.1, joined on every multicast-capable device.
const IGMP_ALL_HOSTS: u32 = 0xe000_0001;

fn ipv4_is_multicast(a: u32) -> bool {
    a & 0xf000_0000 == 0xe000_0000
}
fn ipv4_is_local_multicast(a: u32) -> bool {
    a & 0xffff_ff00 == 0xe000_0000
}
fn ipv4_is_lbcast(a: u32) -> bool {
    a == u32::MAX
}
fn ipv4_is_zeronet(a: u32) -> bool {
    a & 0xff00_0000 == 0
}
fn ipv4_is_loopback(a: u32) -> bool {
    a & 0xff00_0000 == 0x7f00_0000
}

/// The outcome of fib_validate_source() short of an error: whether the source is on a
/// directly connected network of the input device (the positive return Linux uses to
/// decide on redirects).
type Validated = Result<bool, RouteInputError>;

/// The IPv4 routing state of one network namespace.
pub struct Fib {
    trie: FibTrie,
    /// Sorted by ifindex.
    devices: Vec<FibDevice>,
    /// Linux keeps primaries before secondaries, primaries ordered by scope.
    addrs: Vec<InAddr>,
    loopback: Option<u32>,
    /// Linux `fib_has_custom_local_routes`: a local route was added by hand, so a source
    /// check cannot just compare against the interface addresses.
    custom_local_routes: bool,
    genid: u32,
    stats: Counters,
    /// Learned path MTUs (Linux keeps them on the nexthops).
    fnhe: FnheTable,
}

impl Default for Fib {
    fn default() -> Self {
        Fib::new()
    }
}

impl Fib {
    /// A FIB whose exception table hashes with a fixed key; see [`Fib::with_rng`].
    pub fn new() -> Fib {
        Fib::with_rng(&mut Prng::new(0))
    }

    /// A FIB whose exception table hashes with keys from `rng`.
    pub fn with_rng(rng: &mut Prng) -> Fib {
        Fib {
            trie: FibTrie::default(),
            devices: Vec::new(),
            addrs: Vec::new(),
            loopback: None,
            custom_local_routes: false,
            genid: 0,
            stats: Counters::default(),
            fnhe: FnheTable::new(rng),
        }
    }

    /// The route generation; bumped on every route, address or device change.
    /// Linux rt_genid_ipv4().
    pub fn genid(&self) -> u32 {
        self.genid
    }

    /// Is a cached route still valid? Linux ipv4_dst_check() (sk_dst_check()).
    pub fn dst_check(&self, dst: &DstEntry) -> bool {
        dst.genid == self.genid
    }

    /// Linux rt_cache_flush().
    pub(crate) fn rt_cache_flush(&mut self) {
        self.genid = self.genid.wrapping_add(1);
    }

    pub fn stats(&self) -> RtCacheStat {
        let s = &self.stats;
        RtCacheStat {
            in_slow_tot: s.in_slow_tot.get(),
            in_slow_mc: s.in_slow_mc.get(),
            in_no_route: s.in_no_route.get(),
            in_brd: s.in_brd.get(),
            in_martian_dst: s.in_martian_dst.get(),
            in_martian_src: s.in_martian_src.get(),
            out_slow_tot: s.out_slow_tot.get(),
            out_slow_mc: s.out_slow_mc.get(),
        }
    }

    pub fn device(&self, ifindex: u32) -> Option<&FibDevice> {
        self.devices
            .binary_search_by_key(&ifindex, |d| d.ifindex)
            .ok()
            .map(|i| &self.devices[i])
    }

    /// Adds or updates a device. Going down flushes every route through it except the
    /// host-scope (local) ones (Linux NETDEV_DOWN, fib_disable_ip()); going up installs
    /// the routes of its addresses again (NETDEV_UP, fib_add_ifaddr()). Routes added by
    /// hand through the device do not come back, as in Linux.
    pub fn set_device(&mut self, dev: FibDevice) {
        let ifindex = dev.ifindex;
        let was_up = self.device(ifindex).is_some_and(|d| d.up);
        let up = dev.up;
        if dev.loopback {
            self.loopback = Some(ifindex);
        } else if self.loopback == Some(ifindex) {
            self.loopback = None;
        }
        match self.devices.binary_search_by_key(&ifindex, |d| d.ifindex) {
            Ok(i) => self.devices[i] = dev,
            Err(i) => self.devices.insert(i, dev),
        }
        if was_up && !up {
            self.trie
                .flush(|r| r.oif == ifindex && r.scope < RouteScope::HOST);
            self.fnhe.flush_dev(ifindex);
        } else if up && !was_up {
            let addrs: Vec<InAddr> = self
                .addrs
                .iter()
                .filter(|a| a.ifindex == ifindex)
                .cloned()
                .collect();
            for ifa in &addrs {
                self.fib_add_ifaddr(ifa);
            }
        }
        self.refresh_nexthops();
        self.rt_cache_flush();
    }

    pub fn addrs(&self) -> impl Iterator<Item = &InAddr> {
        self.addrs.iter()
    }

    pub fn routes(&self) -> impl Iterator<Item = &FibRoute> {
        self.trie.aliases().map(|a| &a.route)
    }

    /// Adds an interface address and its routes. Linux inet_rtm_newaddr(),
    /// __inet_insert_ifa(), fib_add_ifaddr(). A second address of an existing subnet on
    /// the same device is secondary and gets no prefix route. Deviation: 0/8, multicast
    /// and 255.255.255.255 are refused (EINVAL) where Linux accepts or ignores them.
    pub fn add_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), RouteError> {
        let local = u32::from(addr);
        if prefix_len > 32
            || ipv4_is_zeronet(local)
            || ipv4_is_multicast(local)
            || ipv4_is_lbcast(local)
        {
            return Err(RouteError::Inval);
        }
        if self.device(ifindex).is_none() {
            return Err(RouteError::NoDev);
        }
        let mask = inet_make_mask(prefix_len);
        let mut ifa = InAddr {
            ifindex,
            local: addr,
            prefix_len,
            broadcast: (prefix_len < 31).then(|| Ipv4Addr::from(local | !mask)),
            scope: if ipv4_is_loopback(local) {
                RouteScope::HOST
            } else {
                RouteScope::UNIVERSE
            },
            secondary: false,
        };
        if self
            .addrs
            .iter()
            .any(|o| o.same_subnet(&ifa) && o.local == addr)
        {
            return Err(RouteError::Exist);
        }
        ifa.secondary = self.addrs.iter().any(|o| o.same_subnet(&ifa));
        // Primaries stay ahead of secondaries and ordered by scope (inet_select_addr()
        // takes the first match); a new secondary goes last.
        let pos = if ifa.secondary {
            self.addrs.len()
        } else {
            self.addrs
                .iter()
                .position(|o| o.secondary || o.scope > ifa.scope)
                .unwrap_or(self.addrs.len())
        };
        self.addrs.insert(pos, ifa.clone());
        self.fib_add_ifaddr(&ifa);
        self.refresh_nexthops();
        self.rt_cache_flush();
        Ok(())
    }

    /// Removes an interface address and the routes only it needed. Deleting a primary
    /// also deletes its secondaries (`promote_secondaries=0`). Routes preferring a
    /// source address that is gone are flushed (fib_sync_down_addr()); when the device
    /// has no address left, every route through it is (fib_disable_ip()).
    /// Linux inet_rtm_deladdr(), __inet_del_ifa(), fib_del_ifaddr().
    pub fn del_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), RouteError> {
        let pos = self
            .addrs
            .iter()
            .position(|a| a.ifindex == ifindex && a.local == addr && a.prefix_len == prefix_len)
            .ok_or(RouteError::AddrNotAvail)?;
        let ifa = self.addrs[pos].clone();
        let doomed =
            |a: &InAddr| *a == ifa || (!ifa.secondary && a.secondary && a.same_subnet(&ifa));
        let gone_routes: Vec<FibRoute> = self
            .addrs
            .iter()
            .filter(|a| doomed(a))
            .flat_map(|a| self.ifaddr_routes(a))
            .collect();
        let gone_locals: Vec<u32> = self
            .addrs
            .iter()
            .filter(|a| doomed(a))
            .map(|a| u32::from(a.local))
            .collect();
        self.addrs.retain(|a| !doomed(a));
        let kept: Vec<FibRoute> = self
            .addrs
            .iter()
            .flat_map(|a| self.ifaddr_routes(a))
            .collect();
        self.trie
            .flush(|r| gone_routes.contains(r) && !kept.contains(r));
        let vanished: Vec<Ipv4Addr> = gone_locals
            .into_iter()
            .map(Ipv4Addr::from)
            .filter(|&l| self.inet_addr_type(l) != RouteType::Local)
            .collect();
        self.trie
            .flush(|r| r.prefsrc.is_some_and(|p| vanished.contains(&p)));
        if !self.addrs.iter().any(|a| a.ifindex == ifindex) {
            self.trie.flush(|r| r.oif == ifindex);
        }
        self.refresh_nexthops();
        self.rt_cache_flush();
        Ok(())
    }

    /// The routes an address installs. Linux fib_add_ifaddr() through fib_magic(): the
    /// local /32; on an up device also the broadcast /32 and, for a primary, the prefix
    /// route (type local on a loopback device), all with the primary as preferred source.
    fn ifaddr_routes(&self, ifa: &InAddr) -> Vec<FibRoute> {
        let Some(dev) = self.device(ifa.ifindex) else {
            return Vec::new();
        };
        let prim = if ifa.secondary {
            self.addrs
                .iter()
                .find(|p| !p.secondary && p.same_subnet(ifa))
                .map_or(ifa.local, |p| p.local)
        } else {
            ifa.local
        };
        let magic = |rtype: RouteType, dst: u32, prefix_len: u8| {
            let local = rtype == RouteType::Local;
            FibRoute {
                table: if rtype == RouteType::Unicast {
                    FibTableId::Main
                } else {
                    FibTableId::Local
                },
                dst: Ipv4Addr::from(dst),
                prefix_len,
                rtype,
                scope: if local {
                    RouteScope::HOST
                } else {
                    RouteScope::LINK
                },
                metric: 0,
                prefsrc: Some(prim),
                gateway: None,
                oif: ifa.ifindex,
                mtu: 0,
                onlink: false,
                protocol: RouteProtocol::Kernel,
            }
        };
        let local = u32::from(ifa.local);
        let mut routes = vec![magic(RouteType::Local, local, 32)];
        if !dev.up {
            return routes;
        }
        if let Some(brd) = ifa.broadcast.map(u32::from).filter(|&b| !ipv4_is_lbcast(b)) {
            routes.push(magic(RouteType::Broadcast, brd, 32));
        }
        let mask = ifa.mask();
        let prefix = local & mask;
        if !ipv4_is_zeronet(prefix) && !ifa.secondary && (prefix != local || ifa.prefix_len < 32) {
            let rtype = if dev.loopback {
                RouteType::Local
            } else {
                RouteType::Unicast
            };
            routes.push(magic(rtype, prefix, ifa.prefix_len));
            if ifa.prefix_len < 31 {
                routes.push(magic(RouteType::Broadcast, prefix | !mask, 32));
            }
        }
        routes.dedup();
        routes
    }

    fn fib_add_ifaddr(&mut self, ifa: &InAddr) {
        for route in self.ifaddr_routes(ifa) {
            let nh_scope = if route.scope >= RouteScope::HOST {
                RouteScope::NOWHERE
            } else {
                RouteScope::HOST
            };
            let alias = self.fib_alias(route, nh_scope);
            self.trie.append(alias);
        }
    }

    /// A route with its nexthop caches filled in.
    fn fib_alias(&self, route: FibRoute, nh_scope: RouteScope) -> FibAlias {
        let mut alias = FibAlias::new(route, nh_scope);
        self.fill_nexthop(&mut alias);
        alias
    }

    /// Linux fib_info_update_nhc_saddr() (`nhc_saddr`) and the device state output needs.
    fn fill_nexthop(&self, alias: &mut FibAlias) {
        let nh = &mut alias.nh;
        nh.nh_saddr = match nh.oif {
            0 => 0,
            oif => self.select_addr(oif, nh.gateway, nh.nh_scope),
        };
        nh.dev = self.nh_dev(nh.oif).unwrap_or_default();
    }

    /// Refreshes every nexthop cache after an address or device change (Linux recomputes
    /// `nhc_saddr` lazily by genid and updates MTUs in fib_sync_mtu()).
    fn refresh_nexthops(&mut self) {
        let mut trie = std::mem::take(&mut self.trie);
        trie.update(|alias| self.fill_nexthop(alias));
        self.trie = trie;
    }

    /// Adds a route. Linux inet_rtm_newroute() → fib_table_insert() with NLM_F_EXCL,
    /// fib_create_info(), fib_check_nh(). `prefix_len > 32` or an invalid scope, type,
    /// prefsrc or nexthop is EINVAL; an unknown device ENODEV; a gateway without a
    /// link-scope route to it (and not `onlink`) ENETUNREACH; a down nexthop device
    /// ENETDOWN; the same table, prefix and metric EEXIST. The destination is masked.
    /// The gateway's device is filled into `oif`.
    pub fn add_route(&mut self, mut r: FibRoute) -> Result<(), RouteError> {
        if r.prefix_len > 32 || r.scope > RouteScope::HOST || r.rtype.min_scope() > r.scope {
            return Err(RouteError::Inval);
        }
        r.dst = Ipv4Addr::from(u32::from(r.dst) & inet_make_mask(r.prefix_len));
        r.mtu = r.mtu.min(IP_MAX_MTU);
        if r.gateway == Some(Ipv4Addr::UNSPECIFIED) {
            r.gateway = None;
        }
        if let Some(src) = r.prefsrc {
            let own = r.rtype == RouteType::Local && r.prefix_len == 32 && src == r.dst;
            if !own && self.inet_addr_type(src) != RouteType::Local {
                return Err(RouteError::Inval);
            }
        }
        let nh_scope = if r.rtype.error().is_some() {
            if r.gateway.is_some() || r.oif != 0 {
                return Err(RouteError::Inval);
            }
            RouteScope::NOWHERE
        } else {
            self.fib_check_nh(&mut r)?
        };
        if r.rtype == RouteType::Local {
            self.custom_local_routes = true;
        }
        let alias = self.fib_alias(r, nh_scope);
        self.trie.insert_excl(alias)?;
        self.rt_cache_flush();
        Ok(())
    }

    /// Resolves and checks a route's nexthop, returning its scope. Linux fib_check_nh(),
    /// fib_check_nh_v4_gw(), fib_check_nh_nongw(), and the host-scope case of
    /// fib_create_info().
    fn fib_check_nh(&self, r: &mut FibRoute) -> Result<RouteScope, RouteError> {
        let dev = match r.oif {
            0 => None,
            oif => Some(self.device(oif).ok_or(RouteError::NoDev)?),
        };
        let up = |d: &FibDevice| {
            if d.up {
                Ok(())
            } else {
                Err(RouteError::NetDown)
            }
        };
        if r.scope == RouteScope::HOST {
            if r.gateway.is_some() {
                return Err(RouteError::Inval);
            }
            dev.ok_or(RouteError::NoDev)?;
            return Ok(RouteScope::NOWHERE);
        }
        let Some(gw) = r.gateway else {
            if r.onlink {
                return Err(RouteError::Inval);
            }
            up(dev.ok_or(RouteError::NoDev)?)?;
            return Ok(RouteScope::HOST);
        };
        if r.onlink {
            if r.scope >= RouteScope::LINK {
                return Err(RouteError::Inval);
            }
            up(dev.ok_or(RouteError::NoDev)?)?;
            if self.inet_addr_type(gw) != RouteType::Unicast {
                return Err(RouteError::Inval);
            }
            return Ok(RouteScope::LINK);
        }
        let scope = RouteScope(r.scope.0.saturating_add(1)).max(RouteScope::LINK);
        let res = self.trie.lookup(u32::from(gw), r.oif, scope)?;
        let rt = res.nh;
        if rt.rtype != RouteType::Unicast && rt.rtype != RouteType::Local {
            return Err(RouteError::Inval);
        }
        r.oif = rt.oif;
        up(self.device(r.oif).ok_or(RouteError::NoDev)?)?;
        Ok(rt.scope)
    }

    /// Deletes the first route of `table` at `dst/prefix_len` with `metric` (any when
    /// `None`); ESRCH when there is none. Linux inet_rtm_delroute(), fib_table_delete().
    pub fn del_route(
        &mut self,
        table: FibTableId,
        dst: Ipv4Addr,
        prefix_len: u8,
        metric: Option<u32>,
    ) -> Result<(), RouteError> {
        if prefix_len > 32 {
            return Err(RouteError::Inval);
        }
        let dst = u32::from(dst) & inet_make_mask(prefix_len);
        self.trie
            .delete(table, dst, prefix_len, metric)
            .ok_or(RouteError::Srch)?;
        self.rt_cache_flush();
        Ok(())
    }

    /// The table as `ip route show table main|local` prints it.
    pub fn render(&self, table: FibTableId) -> String {
        let mut routes: Vec<&FibRoute> = self.routes().filter(|r| r.table == table).collect();
        routes.sort_by_key(|r| (u32::from(r.dst), std::cmp::Reverse(r.prefix_len)));
        let mut out = String::new();
        for r in routes {
            out.push_str(&self.render_route(r));
            out.push('\n');
        }
        out
    }

    /// One line of iproute2 print_route().
    fn render_route(&self, r: &FibRoute) -> String {
        let mut s = String::new();
        if r.rtype != RouteType::Unicast {
            s.push_str(r.rtype.name());
            s.push(' ');
        }
        match r.prefix_len {
            0 => s.push_str("default"),
            32 => s.push_str(&r.dst.to_string()),
            n => s.push_str(&format!("{}/{}", r.dst, n)),
        }
        if let Some(gw) = r.gateway {
            s.push_str(&format!(" via {gw}"));
        }
        if r.oif != 0 {
            match self.device(r.oif) {
                Some(d) => s.push_str(&format!(" dev {}", d.name)),
                None => s.push_str(&format!(" dev if{}", r.oif)),
            }
        }
        if r.protocol != RouteProtocol::Boot {
            s.push_str(&format!(" proto {}", r.protocol.name()));
        }
        if r.scope != RouteScope::UNIVERSE {
            s.push_str(&format!(" scope {}", r.scope.name()));
        }
        if let Some(src) = r.prefsrc {
            s.push_str(&format!(" src {src}"));
        }
        if r.metric != 0 {
            s.push_str(&format!(" metric {}", r.metric));
        }
        if r.onlink {
            s.push_str(" onlink");
        }
        if r.mtu != 0 {
            s.push_str(&format!(" mtu {}", r.mtu));
        }
        s
    }

    /// What kind of address `addr` is to this host. Linux inet_addr_type(): 0/8 and the
    /// limited broadcast are broadcast, 224/4 multicast, otherwise the type of the route
    /// to it, unicast when there is none.
    pub fn inet_addr_type(&self, addr: Ipv4Addr) -> RouteType {
        let a = u32::from(addr);
        if ipv4_is_zeronet(a) || ipv4_is_lbcast(a) {
            return RouteType::Broadcast;
        }
        if ipv4_is_multicast(a) {
            return RouteType::Multicast;
        }
        self.trie
            .lookup(a, 0, RouteScope::UNIVERSE)
            .map_or(RouteType::Unicast, |res| res.nh.rtype)
    }

    /// Picks a source address on `ifindex` of scope `scope` or wider, preferring one in
    /// `dst`'s subnet; failing that, any non-link-scope address of another device.
    /// Linux inet_select_addr().
    pub fn inet_select_addr(
        &self,
        ifindex: u32,
        dst: Ipv4Addr,
        scope: RouteScope,
    ) -> Option<Ipv4Addr> {
        match self.select_addr(ifindex, u32::from(dst), scope) {
            0 => None,
            a => Some(Ipv4Addr::from(a)),
        }
    }

    fn select_addr(&self, ifindex: u32, dst: u32, scope: RouteScope) -> u32 {
        let localnet_scope = |dev: Option<&FibDevice>| {
            if dev.is_some_and(|d| d.route_localnet) {
                RouteScope::LINK
            } else {
                RouteScope::HOST
            }
        };
        let ln = localnet_scope(self.device(ifindex));
        let mut first = 0;
        for ifa in self
            .addrs
            .iter()
            .filter(|a| a.ifindex == ifindex && !a.secondary)
        {
            if ifa.scope.min(ln) > scope {
                continue;
            }
            if dst == 0 || ifa.matches(dst) {
                return u32::from(ifa.local);
            }
            if first == 0 {
                first = u32::from(ifa.local);
            }
        }
        if first != 0 {
            return first;
        }
        // Other devices in ifindex order, so the loopback device (normally 1) is first.
        for dev in &self.devices {
            let ln = localnet_scope(Some(dev));
            let found = self.addrs.iter().find(|a| {
                a.ifindex == dev.ifindex
                    && !a.secondary
                    && a.scope != RouteScope::LINK
                    && a.scope.min(ln) <= scope
            });
            if let Some(a) = found {
                return u32::from(a.local);
            }
        }
        0
    }

    /// Is `addr` one of our interface addresses? Linux inet_lookup_ifaddr_rcu().
    fn is_ifaddr(&self, addr: u32) -> bool {
        self.addrs.iter().any(|a| u32::from(a.local) == addr)
    }

    /// The device holding local address `addr`. Linux __ip_dev_find(): an interface
    /// address, or else a local route covering it (127.0.0.5 is on lo).
    fn ip_dev_find(&self, addr: u32) -> Option<u32> {
        if let Some(a) = self.addrs.iter().find(|a| u32::from(a.local) == addr) {
            return Some(a.ifindex);
        }
        let res = self.trie.lookup(addr, 0, RouteScope::UNIVERSE).ok()?;
        (res.nh.rtype == RouteType::Local).then_some(res.nh.oif)
    }

    /// The loopback device's ifindex and MTU (Linux defaults when none is registered).
    fn loopback_dev(&self) -> (u32, u32) {
        let ifindex = self.loopback.unwrap_or(LOOPBACK_IFINDEX);
        (
            ifindex,
            self.nh_dev(ifindex).map_or(LOOPBACK_MTU, |d| d.mtu),
        )
    }

    /// A device as output needs it; the implicit loopback device when none is registered.
    fn nh_dev(&self, ifindex: u32) -> Option<NhDev> {
        match self.device(ifindex) {
            Some(d) => Some(NhDev {
                loopback: d.loopback,
                route_localnet: d.route_localnet,
                mtu: d.mtu,
            }),
            None if ifindex == self.loopback.unwrap_or(LOOPBACK_IFINDEX) => Some(NhDev {
                loopback: true,
                route_localnet: false,
                mtu: LOOPBACK_MTU,
            }),
            None => None,
        }
    }

    /// Linux fib_result_prefsrc(): the route's preferred source, else its nexthop's.
    fn fib_result_prefsrc(res: &FibResult<'_>) -> u32 {
        match res.nh.prefsrc {
            0 => res.nh.nh_saddr,
            src => src,
        }
    }

    /// Linux rt_set_nexthop(): the gateway is used when it was reached by a link route
    /// (or declared onlink); the MTU is the route's, else the device's.
    fn nexthop(res: Option<&FibResult<'_>>, dev_mtu: u32) -> (Option<Ipv4Addr>, u32) {
        match res {
            Some(res) => {
                let nh = res.nh;
                let gw = (nh.gateway != 0 && nh.nh_scope == RouteScope::LINK)
                    .then(|| Ipv4Addr::from(nh.gateway));
                let mtu = if nh.mtu != 0 { nh.mtu } else { dev_mtu };
                (gw, mtu)
            }
            None => (None, dev_mtu),
        }
    }

    // ---------------------------------------------------------------- output

    /// Resolves an output flow. Linux ip_route_output_key_hash_rcu().
    ///
    /// The common case (no device or scope given, no source or the route's own; a plain
    /// unicast destination resolved by a unicast route) is answered inline, with the same result as the
    /// general path, which handles everything else.
    #[inline]
    pub fn ip_route_output(&self, fl: &Flowi4) -> Result<DstEntry, RouteError> {
        let daddr = u32::from(fl.daddr);
        let plain = !ipv4_is_zeronet(daddr) && !ipv4_is_multicast(daddr) && !ipv4_is_lbcast(daddr);
        if !(plain && fl.oif == 0 && fl.scope == RouteScope::UNIVERSE) {
            return self.ip_route_output_slow(fl);
        }
        let Some(o) = self.trie.lookup_output(daddr)? else {
            return self.ip_route_output_slow(fl);
        };
        // A socket bound to the address the route would pick gets the same route.
        if !fl.saddr.is_unspecified() && fl.saddr != o.saddr {
            return self.ip_route_output_slow(fl);
        }
        inc(&self.stats.out_slow_tot);
        let (mut mtu, mut flags) = (o.mtu, o.flags);
        self.bind_exception(daddr, o.dev, o.gateway, &mut mtu, &mut flags);
        Ok(DstEntry {
            rt_type: RouteType::Unicast,
            input: o.input,
            flags,
            dev: o.dev,
            iif: 0,
            gateway: o.gateway,
            mtu,
            saddr: o.saddr,
            daddr: Ipv4Addr::from(daddr),
            genid: self.genid,
        })
    }

    /// ip_route_output() for every other flow.
    fn ip_route_output_slow(&self, fl: &Flowi4) -> Result<DstEntry, RouteError> {
        let mut daddr = u32::from(fl.daddr);
        let mut saddr = u32::from(fl.saddr);
        let orig_oif = fl.oif;
        if saddr != 0 {
            if ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr) || ipv4_is_zeronet(saddr) {
                return Err(RouteError::Inval);
            }
            let dev = self.ip_dev_find(saddr).ok_or(RouteError::Inval)?;
            if fl.oif == 0 && (ipv4_is_multicast(daddr) || ipv4_is_lbcast(daddr)) {
                // Multicast and limited broadcast leave through the source's device.
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    dev,
                    RtFlags(0),
                );
            }
        }
        if fl.oif != 0 {
            let dev = self.device(fl.oif).ok_or(RouteError::NoDev)?;
            if !dev.up {
                return Err(RouteError::NetUnreach);
            }
            if ipv4_is_local_multicast(daddr) || ipv4_is_lbcast(daddr) || fl.proto == IPPROTO_IGMP {
                if saddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::LINK);
                }
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    fl.oif,
                    RtFlags(0),
                );
            }
            if saddr == 0 {
                if ipv4_is_multicast(daddr) {
                    saddr = self.select_addr(fl.oif, 0, fl.scope);
                } else if daddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::HOST);
                }
            }
        }
        if daddr == 0 {
            daddr = if saddr != 0 { saddr } else { INADDR_LOOPBACK };
            saddr = daddr;
            let (lo, _) = self.loopback_dev();
            return self.mkroute_output(
                None,
                RouteType::Local,
                daddr,
                saddr,
                orig_oif,
                lo,
                RtFlags::LOCAL,
            );
        }
        let res = match self.trie.lookup(daddr, fl.oif, fl.scope) {
            Ok(res) => res,
            Err(_) if fl.oif != 0 => {
                // No usable route but a device was named: assume the destination is on
                // its link (Linux does the same, see the comment by ANK in route.c).
                if saddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::LINK);
                }
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    fl.oif,
                    RtFlags(0),
                );
            }
            Err(e) => return Err(e),
        };
        let route = res.nh;
        if route.rtype == RouteType::Local {
            if saddr == 0 {
                saddr = if route.prefsrc != 0 {
                    route.prefsrc
                } else {
                    daddr
                };
            }
            let (lo, _) = self.loopback_dev();
            return self.mkroute_output(
                Some(&res),
                RouteType::Local,
                daddr,
                saddr,
                route.oif,
                lo,
                RtFlags::LOCAL,
            );
        }
        if saddr == 0 {
            saddr = Self::fib_result_prefsrc(&res);
        }
        self.mkroute_output(
            Some(&res),
            route.rtype,
            daddr,
            saddr,
            orig_oif,
            route.oif,
            RtFlags(0),
        )
    }

    /// Builds the output route. Linux __mkroute_output(). Multicast output gets
    /// RTCF_LOCAL (loop a copy back) only for 224.0.0.1: the caller, which knows the
    /// memberships, adds it for other groups joined on `dst.dev` (ip_check_mc_rcu()).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn mkroute_output(
        &self,
        res: Option<&FibResult<'_>>,
        rtype: RouteType,
        daddr: u32,
        saddr: u32,
        orig_oif: u32,
        dev_out: u32,
        mut flags: RtFlags,
    ) -> Result<DstEntry, RouteError> {
        let dev = match res {
            Some(r) if r.nh.oif == dev_out => r.nh.dev,
            _ => self.nh_dev(dev_out).ok_or(RouteError::Inval)?,
        };
        let (dev_loopback, route_localnet, dev_mtu) = (dev.loopback, dev.route_localnet, dev.mtu);
        if !route_localnet && ipv4_is_loopback(saddr) && !dev_loopback {
            return Err(RouteError::Inval);
        }
        let mut rtype = rtype;
        if ipv4_is_lbcast(daddr) {
            rtype = RouteType::Broadcast;
        } else if ipv4_is_multicast(daddr) {
            rtype = RouteType::Multicast;
        } else if ipv4_is_zeronet(daddr) {
            return Err(RouteError::Inval);
        }
        if dev_loopback {
            flags = flags | RtFlags::LOCAL;
        }
        let mut res = res;
        match rtype {
            RouteType::Broadcast => {
                flags = flags | RtFlags::BROADCAST | RtFlags::LOCAL;
                res = None;
            }
            RouteType::Multicast => {
                flags = flags | RtFlags::MULTICAST | RtFlags::LOCAL;
                if daddr != IGMP_ALL_HOSTS {
                    flags = flags.without(RtFlags::LOCAL);
                }
                // A multicast destination caught by a default-ish route: no gateway.
                if res.is_some_and(|r| r.prefix_len < 4) {
                    res = None;
                }
            }
            _ => {}
        }
        inc(&self.stats.out_slow_tot);
        if (flags.contains(RtFlags::BROADCAST) || flags.contains(RtFlags::MULTICAST))
            && flags.contains(RtFlags::LOCAL)
            && !dev_loopback
        {
            inc(&self.stats.out_slow_mc);
        }
        let (gateway, mut mtu) = Self::nexthop(res, dev_mtu);
        if !dev_loopback {
            self.bind_exception(daddr, dev_out, gateway, &mut mtu, &mut flags);
        }
        Ok(DstEntry {
            rt_type: rtype,
            input: if flags.contains(RtFlags::LOCAL) {
                DstInput::LocalDeliver
            } else {
                DstInput::Discard
            },
            flags,
            dev: dev_out,
            iif: orig_oif,
            gateway,
            mtu,
            saddr: Ipv4Addr::from(saddr),
            daddr: Ipv4Addr::from(daddr),
            genid: self.genid,
        })
    }

    // ---------------------------------------------------------------- path MTU

    /// Linux rt_bind_exception() + ipv4_mtu(): a learned path MTU replaces the route's.
    #[inline(always)]
    fn bind_exception(
        &self,
        daddr: u32,
        dev: u32,
        gateway: Option<Ipv4Addr>,
        mtu: &mut u32,
        flags: &mut RtFlags,
    ) {
        if self.fnhe.is_empty() {
            return;
        }
        if let Some(e) = self.fnhe.find(&FnheKey::new(daddr, dev, gateway)) {
            *mtu = e.pmtu;
            if e.locked {
                *flags = *flags | RtFlags::MTU_LOCKED;
            }
        }
    }

    /// Learns a path MTU for the flow's destination from an ICMP fragmentation-needed.
    /// Linux ipv4_update_pmtu() → __ip_rt_update_pmtu(), RFC 1191 as Linux reads it: a
    /// locked path MTU and increases are ignored; below `min_pmtu` (an MTU of 0 too) the
    /// estimate is clamped to it and locked; the same MTU only refreshes the expiry once
    /// half of it has passed.
    pub fn ip_rt_update_pmtu(
        &mut self,
        fl: &Flowi4,
        mtu: u32,
        now: Instant,
        min_pmtu: u32,
        expires: std::time::Duration,
    ) {
        let Ok(dst) = self.ip_route_output(fl) else {
            return;
        };
        if dst.flags.contains(RtFlags::LOCAL) || dst.flags.contains(RtFlags::MTU_LOCKED) {
            return;
        }
        if dst.mtu < mtu {
            return;
        }
        let (mut mtu, mut lock) = (mtu, false);
        if mtu < min_pmtu {
            lock = true;
            mtu = dst.mtu.min(min_pmtu);
        }
        let key = FnheKey::new(u32::from(dst.daddr), dst.dev, dst.gateway);
        if let Some(e) = self.fnhe.find(&key)
            && e.pmtu == mtu
            && !lock
            && now.saturating_add(expires / 2) < e.expires
        {
            return;
        }
        self.fnhe
            .update(key, mtu, lock, now.saturating_add(expires));
        self.rt_cache_flush();
    }

    /// Drops the path MTUs that expired by `now` (Linux checks `dst.expires` lazily; the
    /// stack runs this from its timers, see [`Fib::exceptions_deadline`]).
    pub fn rt_exceptions_expire(&mut self, now: Instant) {
        if self.fnhe.expire(now) {
            self.rt_cache_flush();
        }
    }

    /// When the next learned path MTU expires.
    pub fn exceptions_deadline(&self) -> Option<Instant> {
        self.fnhe.next_deadline()
    }

    /// The learned path MTUs (`ip route show cache`).
    pub fn exceptions(&self) -> &FnheTable {
        &self.fnhe
    }

    /// `ip route show cache`: one entry per learned path MTU.
    pub fn render_cache(&self, now: Instant) -> String {
        let mut out = String::new();
        for e in self.fnhe.iter() {
            let dev = self.device(e.dev).map_or("?", |d| d.name.as_str());
            out.push_str(&e.daddr.to_string());
            if let Some(gw) = e.gateway {
                out.push_str(&format!(" via {gw}"));
            }
            let secs = e.expires.saturating_duration_since(now).as_secs();
            let lock = if e.locked { "lock " } else { "" };
            out.push_str(&format!(
                " dev {dev} \n    cache expires {secs}sec mtu {lock}{} \n",
                e.pmtu
            ));
        }
        out
    }

    // ---------------------------------------------------------------- input

    /// Resolves the route of a received packet. `mc_member`: the input device has joined
    /// `daddr` (ip_check_mc_rcu(); the caller knows the memberships, 224.0.0.1 always).
    /// Linux ip_route_input_noref() → ip_route_input_rcu() → ip_route_input_slow() /
    /// ip_route_input_mc().
    pub fn ip_route_input(
        &self,
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        _tos: u8,
        iif: u32,
        mc_member: bool,
    ) -> Result<DstEntry, RouteInputError> {
        let dev = self.device(iif).ok_or(RouteInputError::Inval)?;
        let (d, s) = (u32::from(daddr), u32::from(saddr));
        if ipv4_is_multicast(d) {
            return self.ip_route_input_mc(d, s, dev, mc_member || d == IGMP_ALL_HOSTS);
        }
        let martian_source = |err: RouteInputError| {
            inc(&self.stats.in_martian_src);
            Err(err)
        };
        let martian_destination = || {
            inc(&self.stats.in_martian_dst);
            Err(RouteInputError::MartianDestination)
        };
        if ipv4_is_multicast(s) || ipv4_is_lbcast(s) {
            return martian_source(RouteInputError::MartianSource);
        }
        if ipv4_is_lbcast(d) || (s == 0 && d == 0) {
            return self.brd_input(d, s, dev);
        }
        if ipv4_is_zeronet(s) {
            return martian_source(RouteInputError::MartianSource);
        }
        if ipv4_is_zeronet(d) {
            return martian_destination();
        }
        if ipv4_is_loopback(d) {
            if !dev.route_localnet {
                return martian_destination();
            }
        } else if ipv4_is_loopback(s) && !dev.route_localnet {
            return martian_source(RouteInputError::MartianSource);
        }
        let res = match self.trie.lookup(d, 0, RouteScope::UNIVERSE) {
            Ok(res) => res,
            Err(e) => {
                let e = if dev.forwarding {
                    e
                } else {
                    RouteError::HostUnreach
                };
                return Ok(self.no_route(e, d, s, dev));
            }
        };
        match res.nh.rtype {
            RouteType::Broadcast => self.brd_input(d, s, dev),
            RouteType::Local => match self.fib_validate_source(s, 0, dev) {
                Ok(_) => Ok(self.local_input(Some(&res), RouteType::Local, None, d, s, dev)),
                Err(e) => martian_source(e),
            },
            _ if !dev.forwarding => Ok(self.no_route(RouteError::HostUnreach, d, s, dev)),
            RouteType::Unicast => self.mkroute_input(&res, d, s, dev),
            _ => martian_destination(),
        }
    }

    /// Linux ip_route_input_mc() with ip_mc_validate_source(). Deviation: without the
    /// protocol, a 0.0.0.0 source is accepted for link-local groups only (Linux also
    /// accepts it for IGMP to any group).
    fn ip_route_input_mc(
        &self,
        d: u32,
        s: u32,
        dev: &FibDevice,
        our: bool,
    ) -> Result<DstEntry, RouteInputError> {
        if !our || ipv4_is_multicast(s) || ipv4_is_lbcast(s) {
            return Err(RouteInputError::Inval);
        }
        if ipv4_is_loopback(s) && !dev.route_localnet {
            return Err(RouteInputError::Inval);
        }
        if ipv4_is_zeronet(s) {
            if !ipv4_is_local_multicast(d) {
                return Err(RouteInputError::Inval);
            }
        } else {
            self.fib_validate_source(s, 0, dev).map_err(|e| match e {
                RouteInputError::RpFilter => e,
                _ => RouteInputError::Inval,
            })?;
        }
        inc(&self.stats.in_slow_mc);
        let flags = RtFlags::MULTICAST | RtFlags::LOCAL;
        let (lo, lo_mtu) = self.loopback_dev();
        Ok(DstEntry {
            rt_type: RouteType::Multicast,
            input: DstInput::LocalDeliver,
            flags,
            dev: lo,
            iif: dev.ifindex,
            gateway: None,
            mtu: lo_mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        })
    }

    /// The `brd_input` label of ip_route_input_slow().
    fn brd_input(&self, d: u32, s: u32, dev: &FibDevice) -> Result<DstEntry, RouteInputError> {
        if s != 0
            && let Err(e) = self.fib_validate_source(s, 0, dev)
        {
            inc(&self.stats.in_martian_src);
            return Err(e);
        }
        inc(&self.stats.in_brd);
        Ok(self.local_input(None, RouteType::Broadcast, None, d, s, dev))
    }

    /// The `no_route` label: delivered to ip_error() with `err`.
    fn no_route(&self, err: RouteError, d: u32, s: u32, dev: &FibDevice) -> DstEntry {
        inc(&self.stats.in_no_route);
        self.local_input(None, RouteType::Unreachable, Some(err), d, s, dev)
    }

    /// The `local_input` label: a route to the loopback device, delivering locally or,
    /// with `err` (type unreachable), to ip_error().
    fn local_input(
        &self,
        res: Option<&FibResult<'_>>,
        rtype: RouteType,
        err: Option<RouteError>,
        d: u32,
        s: u32,
        dev: &FibDevice,
    ) -> DstEntry {
        inc(&self.stats.in_slow_tot);
        let mut flags = RtFlags::LOCAL;
        if rtype == RouteType::Broadcast {
            flags = flags | RtFlags::BROADCAST;
        }
        let input = match err {
            Some(e) => {
                flags = RtFlags(0);
                DstInput::Error(e)
            }
            None => DstInput::LocalDeliver,
        };
        let (lo, lo_mtu) = self.loopback_dev();
        let (_, mtu) = Self::nexthop(res, lo_mtu);
        DstEntry {
            rt_type: rtype,
            input,
            flags,
            dev: lo,
            iif: dev.ifindex,
            gateway: None,
            mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        }
    }

    /// A forwarding route. Linux ip_mkroute_input() → __mkroute_input(): validates the
    /// source, and asks for a redirect (RTCF_DOREDIRECT) when the packet leaves by the
    /// device it came in on and its sender is directly connected there.
    fn mkroute_input(
        &self,
        res: &FibResult<'_>,
        d: u32,
        s: u32,
        dev: &FibDevice,
    ) -> Result<DstEntry, RouteInputError> {
        let out = self.device(res.nh.oif).ok_or(RouteInputError::Inval)?;
        let on_link = match self.fib_validate_source(s, out.ifindex, dev) {
            Ok(on_link) => on_link,
            Err(e) => {
                inc(&self.stats.in_martian_src);
                return Err(e);
            }
        };
        // shared_media is 1 (Linux's default), so inet_addr_onlink() is not consulted.
        let flags = if out.ifindex == dev.ifindex && on_link && out.send_redirects {
            RtFlags::DOREDIRECT
        } else {
            RtFlags(0)
        };
        inc(&self.stats.in_slow_tot);
        let (gateway, mut mtu) = Self::nexthop(Some(res), out.mtu);
        // ip_dst_mtu_maybe_forward(): forwarding ignores a learned path MTU unless it is
        // locked (ip_forward_use_pmtu is 0).
        let (mut pmtu, mut pflags) = (mtu, flags);
        self.bind_exception(d, out.ifindex, gateway, &mut pmtu, &mut pflags);
        let flags = if pflags.contains(RtFlags::MTU_LOCKED) {
            mtu = pmtu;
            pflags
        } else {
            flags
        };
        Ok(DstEntry {
            rt_type: RouteType::Unicast,
            input: DstInput::Forward,
            flags,
            dev: out.ifindex,
            iif: dev.ifindex,
            gateway,
            mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        })
    }

    /// Checks the source of a packet received on `dev` (to leave by `oif`, 0 for local
    /// delivery). With rp_filter off and no redirect to decide,
    /// only one of our own addresses is refused (unless accept_local); otherwise the
    /// route back to the source must be unicast (local only with accept_local) and, with
    /// rp_filter 1, go through `dev`; with rp_filter 2 just exist.
    /// Linux fib_validate_source(), __fib_validate_source().
    fn fib_validate_source(&self, src: u32, oif: u32, dev: &FibDevice) -> Validated {
        let rpf = dev.rp_filter;
        if rpf == 0 && (dev.ifindex != oif || !dev.send_redirects) {
            if dev.accept_local {
                return Ok(false);
            }
            if !self.custom_local_routes {
                return if self.is_ifaddr(src) {
                    Err(RouteInputError::MartianSource)
                } else {
                    Ok(false)
                };
            }
        }
        let last_resort = || {
            if rpf != 0 {
                Err(RouteInputError::RpFilter)
            } else {
                Ok(false)
            }
        };
        let Ok(res) = self.trie.lookup(src, 0, RouteScope::UNIVERSE) else {
            return last_resort();
        };
        let rt = res.nh;
        if rt.rtype != RouteType::Unicast && (rt.rtype != RouteType::Local || !dev.accept_local) {
            return Err(RouteInputError::MartianSource);
        }
        if rt.oif == dev.ifindex || (rt.rtype == RouteType::Local && dev.loopback) {
            return Ok(rt.nh_scope >= RouteScope::HOST);
        }
        if !self.addrs.iter().any(|a| a.ifindex == dev.ifindex) {
            return last_resort();
        }
        if rpf == 1 {
            return Err(RouteInputError::RpFilter);
        }
        Ok(self
            .trie
            .lookup(src, dev.ifindex, RouteScope::UNIVERSE)
            .is_ok_and(|r| r.nh.rtype == RouteType::Unicast && r.nh.nh_scope >= RouteScope::HOST))
    }

    /// The address a reply to this packet is sent from. Linux fib_compute_spec_dst().
    fn fib_compute_spec_dst(&self, flags: RtFlags, d: u32, s: u32, dev: &FibDevice) -> u32 {
        let kinds = RtFlags::BROADCAST | RtFlags::MULTICAST | RtFlags::LOCAL;
        if RtFlags(flags.0 & kinds.0) == RtFlags::LOCAL {
            return d;
        }
        if s == 0 {
            return self.select_addr(dev.ifindex, 0, RouteScope::LINK);
        }
        match self.trie.lookup(s, 0, RouteScope::UNIVERSE) {
            Ok(res) => Self::fib_result_prefsrc(&res),
            Err(_) => self.select_addr(dev.ifindex, s, RouteScope::UNIVERSE),
        }
    }
}

#[cfg(test)]
mod tests;
