//! One network namespace: devices, routing, neighbours, netfilter, sockets and counters,
//! driven through the sans-I/O contract of docs/architecture.md §2. The glue that joins
//! the engines (neigh/, netdev/, netfilter/, route/, offload/) lives here, one file per
//! concern: config.rs, dev.rs, neigh.rs, nf.rs, offload.rs, proc.rs, trace.rs.

mod config;
mod dev;
mod neigh;
mod nf;
mod offload;
mod proc;
mod trace;

pub use config::ConfigError;
use trace::Tracer;
pub(crate) use trace::stage;

use crate::drop::DropReason;
use crate::inetpeer::{IcmpGlobal, InetPeerTable};
use crate::ipv4::defrag::IpFrags;
use crate::ipv4::output::IpIdents;
use crate::neigh::{NeighAction, NeighParms, NeighTable};
use crate::netdev::{DevKind, LOOPBACK_MTU, NetDevice, PacketTypes};
use crate::netfilter::Netfilter;
use crate::rand::Prng;
use crate::route::cache::DstCache;
use crate::route::{DstEntry, Fib};
use crate::skb::{SkBuff, SkbPool};
use crate::stats::Mib;
use crate::sysctl::Sysctl;
use crate::time::Instant;
use core::fmt;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::collections::VecDeque;

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

pub(crate) use crate::netdev::LL_RESERVED;
pub use crate::netdev::LOOPBACK_IFINDEX;

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
    /// Multicast memberships per device and the IGMP timers (ipv4/mc_list.rs), with a
    /// random stream of their own for report delays.
    pub(crate) mc: crate::ipv4::mc_list::McState,
    /// The multicast routing table (`ipv4/ipmr.rs`).
    pub(crate) ipmr: crate::ipv4::ipmr::MrTable,
    /// The IPIP tunnels (`ipv4/ipip.rs`).
    pub(crate) ipip: crate::ipv4::ipip::IpipNet,
    pub(crate) mc_rng: Prng,
    /// CAP_NET_RAW: SOCK_RAW, SO_MARK and high SO_PRIORITY are allowed.
    pub(crate) cap_net_raw: bool,
    /// Frames looped back (Linux netif_rx backlog), with the dst they kept.
    backlog: VecDeque<(SkBuff, DstEntry)>,
    neigh_actions: Vec<NeighAction>,
    pub(crate) now: Instant,
    /// The wall clock is `now` + this (see [`Stack::set_realtime_offset`]).
    realtime_offset: core::time::Duration,
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
            mc: Default::default(),
            ipmr: Default::default(),
            ipip: Default::default(),
            mc_rng: Prng::new(config.seed ^ 0x6967_6d70),
            cap_net_raw: config.cap_net_raw,
            backlog: VecDeque::new(),
            neigh_actions: Vec::new(),
            now: Instant::ZERO,
            realtime_offset: core::time::Duration::ZERO,
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

    /// Sets the wall clock, which the core reads only for ICMP timestamps and the IP
    /// Timestamp option: wall-clock time (since the Unix epoch, UT) = the `now` of each
    /// call + `offset`. A shell sets it from its real clock (and again after the system
    /// clock steps); the simulator and tests set a fixed one. The default, zero, makes
    /// the `Instant` epoch 1970-01-01 00:00 UT. Linux `ktime_get_real()` = monotonic +
    /// `offs_real`.
    pub fn set_realtime_offset(&mut self, offset: core::time::Duration) {
        self.realtime_offset = offset;
    }

    /// The offset set by [`Stack::set_realtime_offset`].
    pub fn realtime_offset(&self) -> core::time::Duration {
        self.realtime_offset
    }

    /// Wall-clock time at the current `now`, since the Unix epoch (saturating).
    pub fn realtime(&self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.now.as_nanos()).saturating_add(self.realtime_offset)
    }

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
            self.igmp_next_deadline(),
            self.ipmr.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer due at `now`: neighbour probes and failures, reassembly expiry,
    /// path MTU expiry, IGMP reports, unresolved multicast routes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.fib.rt_exceptions_expire(now);
        self.trace_begin(0, "timer");
        let mut actions = core::mem::take(&mut self.neigh_actions);
        self.neigh.handle_timeout(now, &mut actions);
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
        self.ip_expire(now);
        self.igmp_timers(now);
        self.ipmr_expire_process(now);
        self.trace_end();
        self.process_backlog();
    }

    /// The reassembly queues (Linux's fqdir): their memory and number.
    pub fn ipfrags(&self) -> &IpFrags {
        &self.ipfrags
    }

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
        self.drops[reason as usize] += 1;
        reason.count(&mut self.mib);
        self.trace_note_str(&format_args!("kfree_skb({reason})"));
    }

    /// Consumes a packet that was handled (Linux consume_skb()).
    pub(crate) fn consume_skb(&mut self, skb: SkBuff) {
        self.pool.recycle(skb);
    }
}

#[cfg(test)]
mod tests {
    use super::dev::NETDEV_MAX_BACKLOG;
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

    /// raw_local_deliver() finds raw sockets by protocol: closing one of two ICMP raw
    /// sockets leaves the other receiving, a socket of another protocol gets nothing, and
    /// a socket created after the last ICMP one closed receives again.
    #[test]
    fn raw_delivery_follows_the_open_raw_sockets() {
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            ..StackConfig::default()
        });
        let a = s.raw_socket(1).unwrap();
        let b = s.raw_socket(1).unwrap();
        let other = s.raw_socket(253).unwrap();
        let echo = [8, 0, 0xf7, 0xfe, 0, 1, 0, 0]; // type 8, id 1, seq 0, checksum filled
        s.close(a).unwrap();
        s.raw_sendto(Instant::from_secs(1), b, Ipv4Addr::LOCALHOST, &echo)
            .unwrap();
        assert_eq!(s.raw_recv(b).unwrap().packet[20], 8, "the request");
        assert_eq!(s.raw_recv(b).unwrap().packet[20], 0, "its reply");
        assert!(matches!(
            s.raw_recv(other),
            Err(crate::socket::SockError::Again)
        ));
        s.close(b).unwrap();
        let c = s.raw_socket(1).unwrap();
        s.raw_sendto(Instant::from_secs(2), c, Ipv4Addr::LOCALHOST, &echo)
            .unwrap();
        assert_eq!(s.raw_recv(c).unwrap().packet[20], 8, "the request");
        assert_eq!(s.raw_recv(c).unwrap().packet[20], 0, "its reply");
        assert!(matches!(
            s.raw_recv(other),
            Err(crate::socket::SockError::Again)
        ));
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
