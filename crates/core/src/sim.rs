//! An in-process network: stacks joined by virtual Ethernet segments, on a virtual clock.
//! A segment with two ends is a veth pair; with more it is a hub-like L2 segment (every
//! frame reaches every other end, whose device drops what is not for it). Each segment
//! has an MTU (larger frames are lost, as on a real link) and optional loss. Devices
//! attached here have checksum offload, which the link finishes as a NIC would
//! (`Stack::dev_hard_xmit_sw`, which also cuts GSO frames for devices given TSO/USO).

use crate::rand::Prng;
use crate::shell;
use crate::skb::SkBuff;
use crate::stack::{ConfigError, Stack};
use crate::time::Instant;
use core::time::Duration;
use skiff_wire::ethernet::EthernetAddress;

/// A stack in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostId(pub usize);

/// A segment in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkId(pub usize);

/// What happened on a segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames put on the segment.
    pub frames: u64,
    /// Frames over the segment's MTU, lost.
    pub too_big: u64,
    /// Frames lost to the configured loss rate.
    pub lost: u64,
}

/// One Ethernet segment.
#[derive(Debug)]
pub struct Link {
    pub name: String,
    pub mtu: u32,
    /// Loss probability in parts per million.
    pub loss_ppm: u32,
    ends: Vec<(HostId, u32)>,
    capture: Option<Vec<(Instant, Vec<u8>)>>,
    pub stats: LinkStats,
}

impl Link {
    /// Captured frames, with the time they were put on the segment.
    pub fn captured(&self) -> &[(Instant, Vec<u8>)] {
        self.capture.as_deref().unwrap_or(&[])
    }
}

/// Frames delivered by one [`Sim::run`] before it gives up (a forwarding loop guard).
const MAX_FRAMES_PER_RUN: usize = 1_000_000;

/// The wall clock of every stack [`Sim::add_stack`] adds (realtime = `now` + this):
/// 2026-01-01 13:14:15.5 UT at the `Instant` epoch, so timestamps are fixed and
/// deterministic.
pub const SIM_REALTIME_OFFSET: Duration = Duration::from_millis(1_767_273_255_500);

/// The simulator.
#[derive(Debug)]
pub struct Sim {
    pub now: Instant,
    stacks: Vec<Stack>,
    links: Vec<Link>,
    rng: Prng,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::from_secs(1),
            stacks: Vec::new(),
            links: Vec::new(),
            rng: Prng::new(seed),
        }
    }

    /// Adds `stack`, with its wall clock set to [`SIM_REALTIME_OFFSET`].
    pub fn add_stack(&mut self, mut stack: Stack) -> HostId {
        stack.set_realtime_offset(SIM_REALTIME_OFFSET);
        self.stacks.push(stack);
        HostId(self.stacks.len() - 1)
    }

    pub fn stack(&mut self, h: HostId) -> &mut Stack {
        &mut self.stacks[h.0]
    }

    pub fn stack_ref(&self, h: HostId) -> &Stack {
        &self.stacks[h.0]
    }

    pub fn hosts(&self) -> impl Iterator<Item = (HostId, &Stack)> {
        self.stacks.iter().enumerate().map(|(i, s)| (HostId(i), s))
    }

    /// A new segment with `mtu` (the largest IP packet it carries).
    pub fn add_link(&mut self, name: &str, mtu: u32) -> LinkId {
        self.links.push(Link {
            name: name.to_string(),
            mtu,
            loss_ppm: 0,
            ends: Vec::new(),
            capture: None,
            stats: LinkStats::default(),
        });
        LinkId(self.links.len() - 1)
    }

    pub fn link(&self, l: LinkId) -> &Link {
        &self.links[l.0]
    }

    pub fn links(&self) -> impl Iterator<Item = (LinkId, &Link)> {
        self.links.iter().enumerate().map(|(i, l)| (LinkId(i), l))
    }

    pub fn set_loss(&mut self, l: LinkId, ppm: u32) {
        self.links[l.0].loss_ppm = ppm.min(1_000_000);
    }

    /// Starts recording every frame put on the segment.
    pub fn capture(&mut self, l: LinkId) {
        self.links[l.0].capture.get_or_insert_with(Vec::new);
    }

    /// Adds an Ethernet device to `host`, with the segment's MTU, brings it up and plugs
    /// it into `link`. Returns its ifindex.
    pub fn attach(
        &mut self,
        host: HostId,
        name: &str,
        mac: EthernetAddress,
        link: LinkId,
    ) -> Result<u32, ConfigError> {
        let mtu = self.links[link.0].mtu;
        let stack = &mut self.stacks[host.0];
        let ifindex = stack.add_device(name, mac, mtu)?;
        // The link finishes partial checksums (see run()), as a NIC does.
        let features = stack.dev(ifindex).map(|d| d.features).unwrap_or_default();
        stack.set_features(
            ifindex,
            features.union(crate::netdev::NetdevFeatures::HW_CSUM),
        )?;
        stack.set_up(ifindex, true)?;
        self.links[link.0].ends.push((host, ifindex));
        Ok(ifindex)
    }

    /// Moves frames between stacks until every transmit queue is empty. The frames one
    /// stack sent in a round reach each receiving device as one batch (one NAPI poll,
    /// so GRO can merge them).
    pub fn run(&mut self) {
        let mut budget = MAX_FRAMES_PER_RUN;
        loop {
            let mut moved = false;
            for i in 0..self.stacks.len() {
                let mut rx: Vec<(HostId, u32, Vec<SkBuff>)> = Vec::new();
                // The device's hardware: finish checksums, cut GSO frames.
                while let Some((ifindex, segs)) = shell::poll_tx_sw(&mut self.stacks[i]) {
                    moved = true;
                    for seg in segs {
                        let frame = seg.to_contiguous().into_owned();
                        self.stacks[i].recycle(seg);
                        self.put_on_link(HostId(i), ifindex, &frame, &mut rx);
                    }
                    budget -= 1;
                    if budget == 0 {
                        break;
                    }
                }
                for (host, to, skbs) in rx {
                    let now = self.now;
                    let stack = &mut self.stacks[host.0];
                    if skbs.len() == 1 {
                        for skb in skbs {
                            stack.netif_receive(now, to, skb);
                        }
                    } else {
                        stack.netif_receive_list(now, to, skbs);
                    }
                }
                if budget == 0 {
                    return;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn put_on_link(
        &mut self,
        from: HostId,
        ifindex: u32,
        frame: &[u8],
        rx: &mut Vec<(HostId, u32, Vec<SkBuff>)>,
    ) {
        let Some(l) = self
            .links
            .iter()
            .position(|l| l.ends.contains(&(from, ifindex)))
        else {
            return;
        };
        let link = &mut self.links[l];
        link.stats.frames += 1;
        if let Some(cap) = &mut link.capture {
            cap.push((self.now, frame.to_vec()));
        }
        // The MTU bounds the IP packet: the frame may carry a 14-byte header more.
        if frame.len() > link.mtu as usize + crate::netdev::ETH_HLEN {
            link.stats.too_big += 1;
            return;
        }
        if link.loss_ppm > 0 && self.rng.below(1_000_000) < link.loss_ppm {
            link.stats.lost += 1;
            return;
        }
        let ends: Vec<(HostId, u32)> = link
            .ends
            .iter()
            .copied()
            .filter(|&e| e != (from, ifindex))
            .collect();
        for (host, to) in ends {
            let stack = &mut self.stacks[host.0];
            let Some(mut skb) = stack.alloc_skb(frame.len()) else {
                continue;
            };
            if skb.put_slice(frame).is_err() {
                stack.recycle(skb);
                continue;
            }
            match rx.iter_mut().find(|(h, i, _)| *h == host && *i == to) {
                Some((_, _, batch)) => batch.push(skb),
                None => rx.push((host, to, vec![skb])),
            }
        }
    }

    /// Moves the clock forward by `d`, running every timer that falls due on the way and
    /// the frames it sends.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now.saturating_add(d);
        loop {
            let next = self.stacks.iter().filter_map(Stack::poll_timeout).min();
            match next {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for s in &mut self.stacks {
                        if s.poll_timeout().is_some_and(|t| t <= now) {
                            s.handle_timeout(now);
                        }
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = target;
    }
}
