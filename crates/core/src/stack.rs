//! One network namespace: devices, routing, neighbours, netfilter, sockets and counters,
//! driven through the sans-I/O contract of ARCHITECTURE.md §2.

use crate::drop::DropReason;
use crate::inetpeer::{IcmpGlobal, InetPeerTable};
use crate::ipv4::ip_fragment::IpFrags;
use crate::ipv4::output::IpIdents;
use crate::neigh::{NeighAction, NeighDev, NeighDropReason, NeighParms, NeighTable, NextHopKind};
use crate::netdev::{DevKind, LOOPBACK_MTU, NetDevice, PacketTypes};
use crate::netfilter::Netfilter;
use crate::rand::Prng;
use crate::route::cache::DstCache;
use crate::route::{DstEntry, Fib, FibDevice, FibRoute, RouteError, RouteType};
use crate::skb::{SkBuff, SkbPool};
use crate::stats::Mib;
use crate::sysctl::{Sysctl, SysctlError};
use crate::time::Instant;
use core::fmt;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Opens a `tracing` span (level TRACE) named after a kernel function and records the
/// stage in the packet-path trace. Whether anyone watches is decided once per packet
/// (`Stack::observing`), so an unobserved datapath pays one branch per stage. The span
/// stays entered until the packet's entry call returns ([`Stack::trace_end`]), so a
/// packet's spans nest in the order of its path.
macro_rules! stage {
    ($stack:expr, $name:literal) => {
        if $stack.observing {
            #[cold]
            #[inline(never)]
            fn enter(stack: &mut $crate::stack::Stack) {
                stack.stage_enter($name, tracing::trace_span!($name));
            }
            enter($stack);
        }
    };
}
pub(crate) use stage;

/// How a stack is set up.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// A name for traces ("A", "router"...).
    pub name: String,
    /// Seeds every random choice (hash keys, IP IDs, timers), so a run replays exactly.
    pub seed: u64,
    pub sysctl: Sysctl,
    /// Record every packet's path as kernel function names (see [`Stack::drain_trace`]).
    pub trace: bool,
    /// The capability CAP_NET_RAW: raw sockets, SO_MARK, SO_PRIORITY above 6. Off by
    /// default, as for an unprivileged Linux process.
    pub cap_net_raw: bool,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            name: "skiff".to_string(),
            seed: 0x5eed,
            sysctl: Sysctl::default(),
            trace: false,
            cap_net_raw: false,
        }
    }
}

/// An error from configuring a stack. Each names its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// ENODEV: no device with that index or name.
    NoDevice,
    /// EEXIST: a device with that name exists.
    Exists,
    Route(RouteError),
    Sysctl(SysctlError),
}

impl ConfigError {
    pub fn errno(&self) -> i32 {
        match self {
            ConfigError::NoDevice => 19,
            ConfigError::Exists => 17,
            ConfigError::Route(e) => e.errno(),
            ConfigError::Sysctl(e) => e.errno(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoDevice => f.write_str("no such device (ENODEV)"),
            ConfigError::Exists => f.write_str("device exists (EEXIST)"),
            ConfigError::Route(e) => write!(f, "{e}"),
            ConfigError::Sysctl(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<RouteError> for ConfigError {
    fn from(e: RouteError) -> Self {
        ConfigError::Route(e)
    }
}

/// The loopback device's index, as in Linux.
pub const LOOPBACK_IFINDEX: u32 = 1;
/// Headroom reserved in locally built packets: Ethernet plus slack (LL_RESERVED_SPACE).
pub(crate) const LL_RESERVED: usize = 32;
/// Linux `netdev_max_backlog`: looped-back packets waiting to be received.
const NETDEV_MAX_BACKLOG: usize = 1000;
/// Trace lines kept before the oldest are dropped.
const TRACE_MAX_LINES: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Tracer {
    path: Vec<Cow<'static, str>>,
    head: String,
    lines: VecDeque<String>,
    lost: u64,
}

/// One network stack (a Linux network namespace).
pub struct Stack {
    pub name: String,
    /// Read with [`Stack::sysctl`], written with [`Stack::set_sysctl`] (which keeps
    /// routing in step).
    pub(crate) sysctl: Sysctl,
    pub(crate) devs: Vec<NetDevice>,
    pub(crate) ptypes: PacketTypes,
    pub fib: Fib,
    pub neigh: NeighTable,
    pub nf: Netfilter,
    /// The offload registry (Linux `offload_base`, `inet_offloads`).
    pub offloads: crate::offload::Offloads,
    pub(crate) mib: Mib,
    pub(crate) drops: Vec<u64>,
    pub(crate) rng: Prng,
    pub(crate) pool: SkbPool,
    pub(crate) icmp_global: IcmpGlobal,
    pub(crate) peers: InetPeerTable,
    pub(crate) idents: IpIdents,
    pub(crate) dst_cache: DstCache,
    pub(crate) ipfrags: IpFrags,
    pub(crate) socks: crate::socket::Sockets,
    /// CAP_NET_RAW: SOCK_RAW, SO_MARK and high SO_PRIORITY are allowed.
    pub(crate) cap_net_raw: bool,
    /// Frames looped back (Linux netif_rx backlog), with the dst they kept.
    backlog: VecDeque<(SkBuff, DstEntry)>,
    neigh_actions: Vec<NeighAction>,
    pub(crate) now: Instant,
    pub(crate) trace: Option<Tracer>,
    /// Path tracing is on or a TRACE-level subscriber listens: stages record themselves.
    pub(crate) observing: bool,
    /// The spans of the packet being handled, innermost last.
    /// (`Span`, not `EnteredSpan`, which may not cross threads: entered and exited by hand.)
    spans: Vec<tracing::Span>,
    tx_next: usize,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field("devs", &self.devs)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// A stack with only `lo` (127.0.0.1/8, up).
    pub fn new(config: StackConfig) -> Stack {
        let mut rng = Prng::new(config.seed);
        let neigh = NeighTable::new(NeighParms::default(), &mut rng);
        let peers = InetPeerTable::new(crate::inetpeer::INET_PEER_THRESHOLD, &mut rng);
        let idents = IpIdents::new(&mut rng);
        let dst_cache = DstCache::new(&mut rng);
        let ipfrags = IpFrags::new(&mut rng);
        let mut stack = Stack {
            name: config.name,
            sysctl: config.sysctl,
            devs: Vec::new(),
            ptypes: PacketTypes::default(),
            // A stream of its own, so adding the table moved no other random draw.
            fib: Fib::with_rng(&mut Prng::new(config.seed ^ 0x666e_6865)),
            neigh,
            nf: Netfilter::new(),
            offloads: crate::offload::Offloads::default(),
            mib: Mib::default(),
            drops: vec![0; DropReason::ALL.len()],
            rng,
            pool: SkbPool::new(2048, 1024),
            icmp_global: IcmpGlobal::new(),
            peers,
            idents,
            dst_cache,
            ipfrags,
            socks: crate::socket::Sockets::new(&mut Prng::new(config.seed ^ 0x736f_636b)),
            cap_net_raw: config.cap_net_raw,
            backlog: VecDeque::new(),
            neigh_actions: Vec::new(),
            now: Instant::ZERO,
            trace: config.trace.then(Tracer::default),
            observing: false,
            spans: Vec::new(),
            tx_next: 0,
        };
        let lo = stack
            .add_device_kind(
                "lo",
                DevKind::Loopback,
                EthernetAddress([0; 6]),
                LOOPBACK_MTU,
            )
            .expect("the first device cannot clash");
        debug_assert_eq!(lo, LOOPBACK_IFINDEX);
        stack.set_up(lo, true).expect("lo exists");
        stack
            .add_addr(lo, Ipv4Addr::new(127, 0, 0, 1), 8)
            .expect("127.0.0.1/8 on lo is always valid");
        stack
    }

    /// Adds an Ethernet device (down, no addresses) and returns its ifindex.
    pub fn add_device(
        &mut self,
        name: &str,
        mac: EthernetAddress,
        mtu: u32,
    ) -> Result<u32, ConfigError> {
        self.add_device_kind(name, DevKind::Ethernet, mac, mtu)
    }

    /// Adds a TUN device (bare IPv4 packets, no link header, no ARP; down, no
    /// addresses) and returns its ifindex.
    pub fn add_tun_device(&mut self, name: &str, mtu: u32) -> Result<u32, ConfigError> {
        self.add_device_kind(name, DevKind::RawIp, EthernetAddress([0; 6]), mtu)
    }

    fn add_device_kind(
        &mut self,
        name: &str,
        kind: DevKind,
        mac: EthernetAddress,
        mtu: u32,
    ) -> Result<u32, ConfigError> {
        if self.devs.iter().any(|d| d.name == name) {
            return Err(ConfigError::Exists);
        }
        let ifindex = u32::try_from(self.devs.len() + 1).map_err(|_| ConfigError::NoDevice)?;
        self.devs
            .push(NetDevice::new(ifindex, name, kind, mac, mtu));
        self.sync_fib_device(ifindex);
        Ok(ifindex)
    }

    #[inline]
    pub fn dev(&self, ifindex: u32) -> Option<&NetDevice> {
        let i = usize::try_from(ifindex).ok()?.checked_sub(1)?;
        self.devs.get(i)
    }

    #[inline]
    pub(crate) fn dev_mut(&mut self, ifindex: u32) -> Option<&mut NetDevice> {
        let i = usize::try_from(ifindex).ok()?.checked_sub(1)?;
        self.devs.get_mut(i)
    }

    pub fn dev_by_name(&self, name: &str) -> Option<&NetDevice> {
        self.devs.iter().find(|d| d.name == name)
    }

    pub fn devices(&self) -> impl Iterator<Item = &NetDevice> {
        self.devs.iter()
    }

    /// The name of `ifindex`, or "?" for none.
    pub(crate) fn dev_name(&self, ifindex: u32) -> &str {
        self.dev(ifindex).map_or("?", |d| d.name.as_str())
    }

    /// `ip link set DEV up|down`. Down flushes the device's neighbours and queue.
    pub fn set_up(&mut self, ifindex: u32, up: bool) -> Result<(), ConfigError> {
        let dev = self.dev_mut(ifindex).ok_or(ConfigError::NoDevice)?;
        dev.up = up;
        let dropped: Vec<SkBuff> = if up {
            Vec::new()
        } else {
            dev.tx_queue.drain(..).collect()
        };
        for mut skb in dropped {
            if let Some(o) = skb.sk.take() {
                self.sock_wmem(o, skb.len(), false);
            }
            self.kfree_skb(skb, DropReason::DevReady);
        }
        if !up {
            let mut actions = core::mem::take(&mut self.neigh_actions);
            self.neigh.flush_dev(ifindex, &mut actions);
            self.run_neigh_actions(&mut actions);
            self.neigh_actions = actions;
        }
        self.sync_fib_device(ifindex);
        Ok(())
    }

    /// `ip link set DEV mtu N`.
    pub fn set_mtu(&mut self, ifindex: u32, mtu: u32) -> Result<(), ConfigError> {
        self.dev_mut(ifindex).ok_or(ConfigError::NoDevice)?.mtu = mtu;
        self.sync_fib_device(ifindex);
        Ok(())
    }

    /// `ip addr add A/P dev DEV`: installs the local, broadcast and prefix routes and, on
    /// Ethernet, announces the address with a gratuitous ARP (Linux arp_ifup).
    pub fn add_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), ConfigError> {
        let dev = self.dev(ifindex).ok_or(ConfigError::NoDevice)?;
        let announce = dev.up && dev.kind == DevKind::Ethernet;
        let ndev = NeighDev {
            ifindex,
            mac: dev.mac,
            addr,
        };
        self.fib.add_addr(ifindex, addr, prefix_len)?;
        if announce && let Ok(skb) = self.neigh.arp_announce(&ndev, addr) {
            self.dev_queue_xmit(ifindex, skb);
        }
        Ok(())
    }

    /// `ip neigh replace ADDR lladdr MAC dev DEV nud permanent`.
    pub fn add_neigh_static(&mut self, ifindex: u32, addr: Ipv4Addr, mac: EthernetAddress) {
        let mut actions = core::mem::take(&mut self.neigh_actions);
        self.neigh
            .add_static(self.now, ifindex, addr, mac, &mut actions);
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    /// What the neighbour layer needs of a device; `towards` picks the source address
    /// of its ARP requests (inet_select_addr with link scope).
    fn neigh_dev(&self, ifindex: u32, towards: Ipv4Addr) -> Option<NeighDev> {
        let dev = self.dev(ifindex)?;
        let addr = self
            .fib
            .inet_select_addr(ifindex, towards, crate::route::RouteScope::LINK)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Some(NeighDev {
            ifindex,
            mac: dev.mac,
            addr,
        })
    }

    /// `ip route add ...`.
    pub fn add_route(&mut self, route: FibRoute) -> Result<(), ConfigError> {
        Ok(self.fib.add_route(route)?)
    }

    /// The sysctls.
    pub fn sysctl(&self) -> &Sysctl {
        &self.sysctl
    }

    /// Sets a sysctl by its Linux name; `ip_forward` also sets every device's forwarding.
    pub fn set_sysctl(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.sysctl.set(name, value).map_err(ConfigError::Sysctl)?;
        for ifindex in 1..=self.devs.len() as u32 {
            self.sync_fib_device(ifindex);
        }
        Ok(())
    }

    /// Tells routing what it needs to know of a device.
    fn sync_fib_device(&mut self, ifindex: u32) {
        let Some(d) = self.dev(ifindex) else { return };
        let s = &self.sysctl;
        let fdev = FibDevice {
            ifindex,
            name: d.name.clone(),
            up: d.up,
            loopback: d.is_loopback(),
            mtu: d.mtu,
            forwarding: s.ip_forward == 1,
            send_redirects: s.send_redirects == 1,
            accept_local: s.accept_local == 1,
            route_localnet: s.route_localnet == 1,
            rp_filter: s.rp_filter,
        };
        self.fib.set_device(fdev);
    }

    /// The MIB counters.
    pub fn stats(&self) -> &Mib {
        &self.mib
    }

    /// How many packets were dropped for `reason`.
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// `/proc/net/snmp`.
    pub fn render_snmp(&self) -> String {
        self.mib
            .render_snmp(self.sysctl.ip_forward == 1, self.sysctl.ip_default_ttl)
    }

    /// `/proc/net/netstat`.
    pub fn render_netstat(&self) -> String {
        self.mib.render_netstat()
    }

    /// `ip neigh show`: one line per entry, by device then address.
    pub fn render_neigh(&self) -> String {
        let mut entries: Vec<_> = self.neigh.entries().collect();
        entries.sort_by_key(|e| (e.ifindex, u32::from(e.addr)));
        let mut out = String::new();
        for e in entries {
            let dev = self.dev(e.ifindex).map_or("?", |d| d.name.as_str());
            out.push_str(&format!("{} dev {dev} ", e.addr));
            if let Some(mac) = e.mac {
                out.push_str(&format!("lladdr {mac} "));
            }
            out.push_str(&format!("{}\n", e.state));
        }
        out
    }

    /// `ip -s link`: each device's state and counters.
    pub fn render_link(&self) -> String {
        let mut out = String::new();
        for d in &self.devs {
            let st = &d.stats;
            out.push_str(&format!(
                "{}: {}: <{}> mtu {} state {}\n    link/{} {}\n    RX:  bytes packets dropped nohandler otherhost\n    {:>10} {:>7} {:>7} {:>9} {:>9}\n    TX:  bytes packets dropped\n    {:>10} {:>7} {:>7}\n",
                d.ifindex,
                d.name,
                if d.up { "UP,LOWER_UP" } else { "DOWN" },
                d.mtu,
                if d.up { "UP" } else { "DOWN" },
                match d.kind {
                    DevKind::Loopback => "loopback",
                    DevKind::Ethernet => "ether",
                    DevKind::RawIp => "none",
                },
                d.mac,
                st.rx_bytes,
                st.rx_packets,
                st.rx_dropped,
                st.rx_nohandler,
                st.rx_otherhost_dropped,
                st.tx_bytes,
                st.tx_packets,
                st.tx_dropped,
            ));
        }
        out
    }

    /// Packets dropped so far, by reason (those with any), as dropwatch would count them.
    pub fn render_drops(&self) -> String {
        DropReason::ALL
            .iter()
            .filter(|&&r| self.drop_count(r) > 0)
            .map(|&r| format!("{} {}\n", r.name(), self.drop_count(r)))
            .collect()
    }

    /// The free-list state of the packet pool (steady-state traffic should not allocate).
    pub fn pool(&self) -> &SkbPool {
        &self.pool
    }

    /// An empty packet from the pool with link-layer headroom and room for `len` bytes.
    pub fn alloc_skb(&mut self, len: usize) -> Option<SkBuff> {
        self.pool.alloc(LL_RESERVED, len).ok()
    }

    /// Gives a transmitted or unwanted packet back to the pool.
    pub fn recycle(&mut self, skb: SkBuff) {
        self.pool.recycle(skb);
    }

    // ---- the sans-I/O contract -------------------------------------------------------

    /// A frame arrived on `ifindex`. Linux netif_receive_skb().
    pub fn netif_receive(&mut self, now: Instant, ifindex: u32, skb: SkBuff) {
        self.now = now;
        self.trace_begin(ifindex, "rx");
        self.netif_receive_skb(ifindex, skb);
        self.trace_end();
        self.process_backlog();
    }

    /// A batch of frames from one device poll. IPv4 frames go through ip_list_rcv(),
    /// which reuses the route of the previous packet of the same flow.
    pub fn netif_receive_list(&mut self, now: Instant, ifindex: u32, skbs: Vec<SkBuff>) {
        self.now = now;
        self.trace_begin(ifindex, "rx list");
        self.netif_receive_skb_list(ifindex, skbs);
        self.trace_end();
        self.process_backlog();
    }

    /// The next frame to put on a device, round-robin over the devices.
    pub fn poll_transmit(&mut self) -> Option<(u32, SkBuff)> {
        let n = self.devs.len();
        let mut i = self.tx_next;
        for _ in 0..n {
            if i >= n {
                i = 0;
            }
            if let Some(mut skb) = self.devs[i].tx_queue.pop_front() {
                self.tx_next = i + 1;
                let ifindex = self.devs[i].ifindex;
                if let Some(o) = skb.sk.take() {
                    self.sock_wmem(o, skb.len(), false);
                }
                return Some((ifindex, skb));
            }
            i += 1;
        }
        None
    }

    /// When [`Stack::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.neigh.poll_timeout(),
            self.ipfrags.next_deadline(),
            self.fib.exceptions_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer due at `now`: neighbour probes and failures, reassembly expiry,
    /// path MTU expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.fib.rt_exceptions_expire(now);
        self.trace_begin(0, "timer");
        let mut actions = core::mem::take(&mut self.neigh_actions);
        self.neigh.handle_timeout(now, &mut actions);
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
        self.ip_expire(now);
        self.trace_end();
        self.process_backlog();
    }

    /// The reassembly queues (Linux's fqdir): their memory and number.
    pub fn ipfrags(&self) -> &IpFrags {
        &self.ipfrags
    }

    // ---- device layer ----------------------------------------------------------------

    /// Linux dev_queue_xmit(): onto the device's bounded queue, or back into the stack for
    /// loopback (loopback_xmit → netif_rx, run after the current packet).
    #[inline]
    pub(crate) fn dev_queue_xmit(&mut self, ifindex: u32, skb: SkBuff) {
        self.dev_queue_xmit_dst(ifindex, skb, None);
    }

    #[inline]
    pub(crate) fn dev_queue_xmit_dst(
        &mut self,
        ifindex: u32,
        mut skb: SkBuff,
        dst: Option<DstEntry>,
    ) {
        if self.observing {
            self.trace_dev_queue_xmit(ifindex);
        }
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        if !dev.up {
            return self.kfree_skb(skb, DropReason::DevReady);
        }
        if crate::offload::needs_validate(&skb, dev.features) {
            let features = dev.features;
            return self.validate_xmit_skb(ifindex, skb, dst, features);
        }
        if dev.tx_queue.len() >= dev.tx_queue_len {
            dev.stats.tx_dropped += 1;
            return self.kfree_skb(skb, DropReason::QdiscDrop);
        }
        dev.stats.tx_packets += 1;
        dev.stats.tx_bytes += skb.len() as u64;
        if !dev.is_loopback() {
            let owner = skb.sk;
            let len = skb.len();
            dev.tx_queue.push_back(skb);
            if let Some(o) = owner {
                self.sock_wmem(o, len, true);
            }
            return;
        }
        // loopback_xmit(): skb_orphan().
        skb.sk = None;
        // loopback_xmit() → netif_rx(): eth_type_trans on lo sees its own address.
        let Some(dst) = dst else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        skb.pkt_type = crate::skb::PacketType::Host;
        skb.iif = ifindex;
        if self.backlog.len() >= NETDEV_MAX_BACKLOG {
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.trace_stage("loopback_xmit");
        self.backlog.push_back((skb, dst));
    }

    #[cold]
    #[inline(never)]
    fn trace_dev_queue_xmit(&mut self, ifindex: u32) {
        if self.trace.is_some() {
            let name = self.dev_name(ifindex).to_string();
            self.trace_note_str(&format_args!("dev_queue_xmit({name})"));
        }
        self.enter_span(tracing::trace_span!("dev_queue_xmit"));
    }

    /// Linux process_backlog(): runs looped-back packets through ip_rcv.
    #[inline]
    /// Linux dev_loopback_xmit(): a copy of an outgoing multicast or broadcast packet is
    /// received on its own device, keeping its route.
    pub(crate) fn dev_loopback_xmit(&mut self, mut skb: SkBuff, dst: &DstEntry) {
        stage!(self, "dev_loopback_xmit");
        skb.pkt_type = crate::skb::PacketType::Loopback;
        skb.iif = dst.dev;
        skb.sk = None;
        if skb.ip_summed == crate::skb::ChecksumState::None {
            skb.ip_summed = crate::skb::ChecksumState::Unnecessary;
        }
        if self.backlog.len() >= NETDEV_MAX_BACKLOG {
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.backlog.push_back((skb, *dst));
    }

    pub(crate) fn process_backlog(&mut self) {
        if !self.backlog.is_empty() {
            self.process_backlog_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn process_backlog_slow(&mut self) {
        // Bounded: each looped packet is handled once; replies to it queue behind.
        let mut budget = NETDEV_MAX_BACKLOG * 4;
        while let Some((skb, dst)) = self.backlog.pop_front() {
            if budget == 0 {
                self.kfree_skb(skb, DropReason::CpuBacklog);
                continue;
            }
            budget -= 1;
            self.trace_begin(skb.iif, "rx");
            if skb.iif == LOOPBACK_IFINDEX
                && let Some(dev) = self.dev_mut(LOOPBACK_IFINDEX)
            {
                dev.stats.rx_packets += 1;
                dev.stats.rx_bytes += skb.len() as u64;
            }
            self.ip_rcv(skb, Some(&dst));
            self.trace_end();
        }
    }

    #[inline(always)]
    fn netif_receive_skb(&mut self, ifindex: u32, mut skb: SkBuff) {
        stage!(self, "netif_receive_skb");
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        if !dev.up {
            return self.kfree_skb(skb, DropReason::DevReady);
        }
        dev.stats.rx_packets += 1;
        dev.stats.rx_bytes += skb.len() as u64;
        skb.iif = ifindex;
        let ethertype = match dev.eth_type_trans(&mut skb) {
            Ok(t) => t,
            Err(_) => {
                dev.stats.rx_dropped += 1;
                return self.kfree_skb(skb, DropReason::UnhandledProto);
            }
        };
        self.deliver_skb(ifindex, ethertype, skb);
    }

    /// Hands a frame to the packet type registered for its ethertype.
    #[inline(always)]
    fn deliver_skb(&mut self, ifindex: u32, ethertype: u16, skb: SkBuff) {
        use crate::netdev::PacketHandler;
        match self.ptypes.find(ethertype) {
            Some(PacketHandler::Ipv4) => self.ip_rcv(skb, None),
            Some(PacketHandler::Arp) => self.arp_rcv(ifindex, skb),
            Some(PacketHandler::User(f)) => f(ifindex, skb),
            None => {
                if let Some(dev) = self.dev_mut(ifindex) {
                    dev.stats.rx_nohandler += 1;
                }
                self.kfree_skb(skb, DropReason::UnhandledProto)
            }
        }
    }

    fn netif_receive_skb_list(&mut self, ifindex: u32, skbs: Vec<SkBuff>) {
        let mut ip = Vec::with_capacity(skbs.len());
        for mut skb in skbs {
            let Some(dev) = self.dev_mut(ifindex) else {
                self.kfree_skb(skb, DropReason::DevReady);
                continue;
            };
            if !dev.up {
                self.kfree_skb(skb, DropReason::DevReady);
                continue;
            }
            dev.stats.rx_packets += 1;
            dev.stats.rx_bytes += skb.len() as u64;
            skb.iif = ifindex;
            match dev.eth_type_trans(&mut skb) {
                Ok(0x0800) => ip.push(skb),
                Ok(t) => self.deliver_skb(ifindex, t, skb),
                Err(_) => {
                    dev.stats.rx_dropped += 1;
                    self.kfree_skb(skb, DropReason::UnhandledProto);
                }
            }
        }
        let ip = self.napi_gro_receive_list(ifindex, ip);
        self.ip_list_rcv(ip);
    }

    /// Registers a handler for an ethertype (Linux dev_add_pack()).
    pub fn dev_add_pack(&mut self, ethertype: u16, handler: Box<dyn FnMut(u32, SkBuff) + Send>) {
        self.ptypes
            .dev_add_pack(ethertype, crate::netdev::PacketHandler::User(handler));
    }

    // ---- neighbours ------------------------------------------------------------------

    fn arp_rcv(&mut self, ifindex: u32, skb: SkBuff) {
        stage!(self, "arp_rcv");
        let Some(ndev) = self.neigh_dev(ifindex, Ipv4Addr::UNSPECIFIED) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        let mut actions = core::mem::take(&mut self.neigh_actions);
        let fib = &self.fib;
        let res = self.neigh.arp_rcv(
            self.now,
            &ndev,
            skb,
            |a| fib.inet_addr_type(a) == RouteType::Local,
            &mut actions,
        );
        if let Err(why) = res {
            self.trace_note_str(&format_args!("arp drop {why:?}"));
            self.count_drop(DropReason::ArpInvalid);
        }
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    /// Neighbour output (Linux neigh_output / neigh_resolve_output) of an IP packet whose
    /// `data` is at the IP header.
    #[inline]
    pub(crate) fn neigh_output(&mut self, dst: &DstEntry, daddr: Ipv4Addr, skb: SkBuff) {
        stage!(self, "neigh_output");
        let nexthop = dst.gateway.unwrap_or(daddr);
        if dst.dev == LOOPBACK_IFINDEX {
            return self.dev_queue_xmit_dst(dst.dev, skb, Some(*dst));
        }
        // neigh_output(): a connected neighbour needs only its header (neigh_hh_output).
        if let (Some(ha), Some(dev)) =
            (self.neigh.connected_ha(dst.dev, nexthop), self.dev(dst.dev))
        {
            let mut skb = skb;
            return if crate::neigh::eth_header_push(&mut skb, dev.mac, ha) {
                self.dev_queue_xmit(dst.dev, skb)
            } else {
                self.kfree_skb(skb, DropReason::NeighCreatefail)
            };
        }
        self.neigh_output_slow(dst, nexthop, skb);
    }

    /// __neigh_event_send(): the neighbour is not connected (or is a broadcast or
    /// multicast next hop), so the neighbour layer resolves, queues or maps it.
    #[cold]
    #[inline(never)]
    fn neigh_output_slow(&mut self, dst: &DstEntry, nexthop: Ipv4Addr, skb: SkBuff) {
        if self.dev(dst.dev).is_some_and(|d| d.kind == DevKind::RawIp) {
            // No neighbours on a TUN device (IFF_NOARP, no header_ops): straight out.
            return self.dev_queue_xmit(dst.dev, skb);
        }
        let Some(ndev) = self.neigh_dev(dst.dev, nexthop) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        let kind = if dst.rt_type == RouteType::Broadcast || nexthop == Ipv4Addr::BROADCAST {
            NextHopKind::Broadcast
        } else if nexthop.is_multicast() {
            NextHopKind::Multicast
        } else {
            NextHopKind::Unicast
        };
        let mut actions = core::mem::take(&mut self.neigh_actions);
        let fib = &self.fib;
        self.neigh.output(
            self.now,
            &ndev,
            nexthop,
            kind,
            skb,
            |a| fib.inet_addr_type(a) == RouteType::Local,
            &mut actions,
        );
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    fn run_neigh_actions(&mut self, actions: &mut Vec<NeighAction>) {
        for action in actions.drain(..) {
            match action {
                NeighAction::Xmit { ifindex, skb } => self.dev_queue_xmit(ifindex, skb),
                NeighAction::Unreachable { ifindex: _, skb } => {
                    // Linux arp_error_report → icmp_send(ICMP_HOST_UNREACH) → drop.
                    self.icmp_send(&skb, crate::route::RtFlags::default(), 3, 1, 0);
                    self.kfree_skb(skb, DropReason::NeighFailed);
                }
                NeighAction::QueueOverflow { skb } => {
                    self.kfree_skb(skb, DropReason::NeighQueuefull)
                }
                NeighAction::TableFull { skb } => self.kfree_skb(skb, DropReason::NeighCreatefail),
                NeighAction::Drop { skb, reason } => {
                    let reason = match reason {
                        NeighDropReason::Failed => DropReason::NeighFailed,
                        NeighDropReason::Dead => DropReason::NeighDead,
                        NeighDropReason::NoHeadroom => DropReason::NeighCreatefail,
                    };
                    self.kfree_skb(skb, reason)
                }
            }
        }
    }

    // ---- drops and traces ------------------------------------------------------------

    /// Linux kfree_skb_reason(): the one place packets are dropped. Bumps the reason's
    /// counters and returns the buffer to the pool.
    #[cold]
    #[inline(never)]
    pub(crate) fn kfree_skb(&mut self, skb: SkBuff, reason: DropReason) {
        self.count_drop(reason);
        self.pool.recycle(skb);
    }

    /// The counting half of kfree_skb, for drops whose buffer was already consumed.
    #[cold]
    #[inline(never)]
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        use DropReason as R;
        self.drops[reason as usize] += 1;
        let ip = &mut self.mib.ip;
        match reason {
            R::IpInhdr | R::IpTtlExpired => ip.in_hdr_errors += 1,
            R::PktTooSmall => self.mib.ip_ext.in_truncated_pkts += 1,
            R::IpCsum => {
                ip.in_hdr_errors += 1;
                self.mib.ip_ext.in_csum_errors += 1;
            }
            R::IpNoroute => self.mib.ip_ext.in_no_routes += 1,
            R::IpInaddrerrors => ip.in_addr_errors += 1,
            R::IpOutnoroutes => ip.out_no_routes += 1,
            R::IpNoproto => ip.in_unknown_protos += 1,
            R::PktTooBig => ip.frag_fails += 1,
            R::IcmpCsum => {
                self.mib.icmp.in_csum_errors += 1;
                self.mib.icmp.in_errors += 1;
            }
            R::IcmpInErrors => self.mib.icmp.in_errors += 1,
            // UDP and UDP-Lite drops are counted in their own MIB by udp_rcv().
            _ => {}
        }
        self.trace_note_str(&format_args!("kfree_skb({reason})"));
    }

    /// Consumes a packet that was handled (Linux consume_skb()).
    pub(crate) fn consume_skb(&mut self, skb: SkBuff) {
        self.pool.recycle(skb);
    }

    /// A stage begins: its span is entered (until trace_end) and it joins the path.
    pub(crate) fn stage_enter(&mut self, name: &'static str, span: tracing::Span) {
        self.trace_stage(name);
        self.enter_span(span);
    }

    fn enter_span(&mut self, span: tracing::Span) {
        span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        self.spans.push(span);
    }

    /// A step in the packet-path trace that is not a stage of its own.
    #[inline]
    pub(crate) fn trace_stage(&mut self, name: &'static str) {
        if let Some(t) = &mut self.trace {
            t.path.push(Cow::Borrowed(name));
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn trace_note_str(&mut self, note: &fmt::Arguments<'_>) {
        if let Some(t) = &mut self.trace {
            t.path.push(Cow::Owned(note.to_string()));
        }
    }

    /// Starts a packet's trace line at an entry point, and decides whether this packet's
    /// stages are observed.
    #[inline]
    pub(crate) fn trace_begin(&mut self, ifindex: u32, what: &str) {
        if !self.spans.is_empty() {
            // An entry call that returned early (an error after trace_begin).
            self.exit_spans();
        }
        self.observing = self.trace.is_some() || tracing::level_enabled!(tracing::Level::TRACE);
        if self.trace.is_some() {
            self.trace_begin_slow(ifindex, what);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_begin_slow(&mut self, ifindex: u32, what: &str) {
        let head = match ifindex {
            0 => format!("[{}] {what}:", self.name),
            i => format!("[{}] {what} {}:", self.name, self.dev_name(i)),
        };
        if let Some(t) = &mut self.trace {
            t.path.clear();
            t.head = head;
        }
    }

    /// Ends a packet's entry call: exits its spans, innermost first, and files its trace
    /// line.
    #[inline]
    pub(crate) fn trace_end(&mut self) {
        if self.observing {
            self.trace_end_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_end_slow(&mut self) {
        self.observing = false;
        self.exit_spans();
        let Some(t) = &mut self.trace else { return };
        if t.path.is_empty() {
            return;
        }
        let mut line = core::mem::take(&mut t.head);
        for (i, stage) in t.path.drain(..).enumerate() {
            line.push_str(if i == 0 { " " } else { " → " });
            line.push_str(&stage);
        }
        if t.lines.len() == TRACE_MAX_LINES {
            t.lines.pop_front();
            t.lost += 1;
        }
        t.lines.push_back(line);
    }

    /// Exits the spans of the packet being handled, innermost first.
    #[cold]
    #[inline(never)]
    fn exit_spans(&mut self) {
        while let Some(span) = self.spans.pop() {
            span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }

    /// The packet paths recorded since the last call, one packet per line (needs
    /// `StackConfig::trace`).
    pub fn drain_trace(&mut self) -> Vec<String> {
        self.trace
            .as_mut()
            .map(|t| t.lines.drain(..).collect())
            .unwrap_or_default()
    }

    /// Trace lines dropped because nobody drained them (the newest 4096 are kept).
    pub fn trace_lost(&self) -> u64 {
        self.trace.as_ref().map_or(0, |t| t.lost)
    }

    /// Starts or stops path tracing.
    pub fn set_trace(&mut self, on: bool) {
        if on != self.trace.is_some() {
            self.trace = on.then(Tracer::default);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Flowi4;

    /// A subscriber that records the names of the spans it sees.
    /// The spans' names, the spans entered now (innermost last), and whether one was
    /// exited out of order.
    #[derive(Default)]
    struct Spans {
        names: std::sync::Mutex<Vec<&'static str>>,
        entered: std::sync::Mutex<Vec<u64>>,
        misordered: std::sync::atomic::AtomicBool,
    }

    impl tracing::Subscriber for Spans {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::TRACE)
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut names = self.names.lock().unwrap();
            names.push(span.metadata().name());
            tracing::span::Id::from_u64(names.len() as u64)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, id: &tracing::span::Id) {
            self.entered.lock().unwrap().push(id.into_u64());
        }
        fn exit(&self, id: &tracing::span::Id) {
            if self.entered.lock().unwrap().pop() != Some(id.into_u64()) {
                self.misordered
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Every stage opens a span named after its kernel function when someone listens.
    #[test]
    fn stages_open_tracing_spans() {
        let spans = std::sync::Arc::new(Spans::default());
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            ..StackConfig::default()
        });
        let sock = s.raw_socket(1).unwrap();
        let echo = [8, 0, 0xf7, 0xfe, 0, 1, 0, 0]; // type 8, id 1, seq 0, checksum filled
        tracing::subscriber::with_default(spans.clone(), || {
            s.raw_sendto(Instant::from_secs(1), sock, Ipv4Addr::LOCALHOST, &echo)
                .unwrap();
        });
        let names = spans.names.lock().unwrap().clone();
        // Every span was exited when the call returned, innermost first.
        assert!(spans.entered.lock().unwrap().is_empty());
        assert!(!spans.misordered.load(std::sync::atomic::Ordering::Relaxed));
        for want in [
            "raw_sendmsg",
            "ip_local_out",
            "ip_output",
            "dev_queue_xmit",
            "ip_rcv",
            "ip_local_deliver",
            "icmp_rcv",
            "icmp_echo",
        ] {
            assert!(names.contains(&want), "no span {want} in {names:?}");
        }
        assert_eq!(
            s.raw_recv(sock).unwrap().packet[20],
            8,
            "the request looped back"
        );
        assert_eq!(s.raw_recv(sock).unwrap().packet[20], 0, "and its reply");
    }

    /// The loopback backlog holds at most netdev_max_backlog packets, as Linux's
    /// enqueue_to_backlog(). Only a burst inside one entry call can fill it.
    #[test]
    fn loopback_backlog_is_bounded() {
        let mut s = Stack::new(StackConfig::default());
        let dst = s
            .fib
            .ip_route_output(&Flowi4::new(Ipv4Addr::LOCALHOST))
            .unwrap();
        for _ in 0..NETDEV_MAX_BACKLOG + 5 {
            let skb = s.alloc_skb(20).unwrap();
            s.dev_queue_xmit_dst(LOOPBACK_IFINDEX, skb, Some(dst));
        }
        assert_eq!(s.backlog.len(), NETDEV_MAX_BACKLOG);
        assert_eq!(s.drop_count(DropReason::CpuBacklog), 5);
        s.process_backlog();
        assert!(s.backlog.is_empty());
    }
}

#[cfg(test)]
mod send_tests {
    /// A stack can move to another thread (the shell's driver and socket APIs share one).
    #[test]
    fn stack_is_send() {
        fn is_send<T: Send>() {}
        is_send::<super::Stack>();
    }
}
