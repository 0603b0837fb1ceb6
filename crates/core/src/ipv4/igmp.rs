//! IGMP, the host side. Linux net/ipv4/igmp.c: igmp_rcv(), igmp_heard_query(),
//! igmp_heard_report(); the group add/drop events and their unsolicited reports
//! (igmp_group_added(), igmp_group_dropped(), igmp_ifc_event()); the report senders
//! (igmp_send_report(), igmpv3_send_report(), igmpv3_send_cr()); the timers; and
//! `/proc/net/igmp`, `/proc/net/mcfilter`. RFC 3376 (v3), RFC 2236 (v2), RFC 1112 (v1).
//! The per-device state itself is the engine in `mc_list.rs`.

use super::mc_list::{
    IGMP_ALL_HOSTS, IGMP_ALL_ROUTER, IGMPV3_ALL_MCR, IpMcList, McDev, McTimer, SfMode,
};
use crate::drop::DropReason;
use crate::ipv4::output::IpSend;
use crate::skb::{PacketType, SkBuff};
use crate::stack::{Stack, stage};
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial};
use skiff_wire::igmp::{
    GroupRecordRepr, HEADER_LEN, IgmpMessage, IgmpPacket, IgmpRepr, IgmpV3ReportRepr,
    RECORD_HEADER_LEN, RecordType, V3_QUERY_LEN,
};
use skiff_wire::ipv4::IPPROTO_IGMP;

/// Linux IGMP_V1/V2_ROUTER_PRESENT_TIMEOUT's modern form is computed; the initial report
/// delay (IGMP_INITIAL_REPORT_DELAY) is one jiffy.
const IGMP_INITIAL_REPORT_DELAY: u64 = 1;
/// One jiffy, in ms (HZ = 1000); Linux adds 2 jiffies to every random report delay.
const JIFFY_MS: u64 = 1;
/// The Router Alert option every report carries. RFC 2113; RFC 3376 §4.
const RA_OPTION: [u8; 4] = [skiff_wire::ip_options::kind::RA, 4, 0, 0];
/// Linux IPV4_MIN_MTU: no reports on a device below it.
const IPV4_MIN_MTU: usize = 68;
/// IP header with the Router Alert option.
const IGMP_IP_HLEN: usize = 24;

/// A group record to send.
type Grec = (RecordType, Ipv4Addr, Vec<Ipv4Addr>);

/// Linux ipv4_is_local_multicast(): 224.0.0.0/24.
fn is_local_multicast(a: Ipv4Addr) -> bool {
    let [a, b, c, _] = a.octets();
    (a, b, c) == (224, 0, 0)
}

impl Stack {
    /// The multicast state of `ifindex`, created as ip_mc_up() would (224.0.0.1 joined).
    pub(crate) fn mc_dev(&mut self, ifindex: u32) -> &mut McDev {
        let qrv = self.sysctl.igmp_qrv as u8;
        self.mc
            .devs
            .entry(ifindex)
            .or_insert_with(|| McDev::new(qrv))
    }

    /// `in_dev->mr_qrv ?: sysctl_igmp_qrv`.
    fn mc_qrv(&self, ifindex: u32) -> u8 {
        match self.mc.devs.get(&ifindex) {
            Some(d) if d.mr_qrv != 0 => d.mr_qrv,
            _ => self.sysctl.igmp_qrv as u8,
        }
    }

    /// The device's own IGMP sysctls (`conf.DEV.*`).
    pub(crate) fn igmp_devconf(&self, ifindex: u32) -> super::mc_list::IgmpDevConf {
        self.mc.devconf.get(&ifindex).copied().unwrap_or_default()
    }

    /// Linux IGMP_V1_SEEN(): forced (conf.all or conf.DEV), or a v1 querier heard within
    /// its timeout.
    pub(crate) fn igmp_v1_seen(&self, ifindex: u32) -> bool {
        self.igmp_version_seen(ifindex, 1, |d| d.mr_v1_seen)
    }

    /// Linux IGMP_V2_SEEN().
    pub(crate) fn igmp_v2_seen(&self, ifindex: u32) -> bool {
        self.igmp_version_seen(ifindex, 2, |d| d.mr_v2_seen)
    }

    /// `version` forced by `force_igmp_version`, or its querier's timer still running.
    fn igmp_version_seen(
        &self,
        ifindex: u32,
        version: i32,
        until: impl Fn(&McDev) -> Option<crate::time::Instant>,
    ) -> bool {
        self.sysctl.force_igmp_version == version
            || self.igmp_devconf(ifindex).force_igmp_version == version
            || self
                .mc
                .devs
                .get(&ifindex)
                .and_then(until)
                .is_some_and(|t| self.now < t)
    }

    /// Linux unsolicited_report_interval(), in ms (at least one jiffy): the device's
    /// `conf.DEV.igmpv{2,3}_unsolicited_report_interval`.
    fn unsolicited_report_interval(&self, ifindex: u32) -> u64 {
        let conf = self.igmp_devconf(ifindex);
        let ms = if self.igmp_v1_seen(ifindex) || self.igmp_v2_seen(ifindex) {
            conf.igmpv2_unsolicited_report_interval
                .unwrap_or(self.sysctl.igmpv2_unsolicited_report_interval)
        } else {
            conf.igmpv3_unsolicited_report_interval
                .unwrap_or(self.sysctl.igmpv3_unsolicited_report_interval)
        };
        u64::from(ms).max(JIFFY_MS)
    }

    /// `now + random(0..max) + 2 jiffies`, as the igmp timer starters compute it.
    fn igmp_random_deadline(&mut self, max_ms: u64) -> crate::time::Instant {
        let max = u32::try_from(max_ms.max(1)).unwrap_or(u32::MAX);
        let tv = u64::from(self.mc_rng.below(max));
        self.now + Duration::from_millis(tv + 2 * JIFFY_MS)
    }

    /// Linux igmp_start_timer(): (re)arms a group's report timer.
    fn igmp_start_timer(&mut self, ifindex: u32, group: Ipv4Addr, max_ms: u64) {
        let at = self.igmp_random_deadline(max_ms);
        let Some(im) = self
            .mc
            .devs
            .get_mut(&ifindex)
            .and_then(|d| d.find_mut(group))
        else {
            return;
        };
        if let Some(id) = im.timer.take() {
            self.mc.timers.cancel(id);
        }
        im.timer = Some(self.mc.timers.schedule(at, McTimer::Group(ifindex, group)));
    }

    /// Linux igmp_stop_timer().
    fn igmp_stop_timer(&mut self, im: &mut IpMcList) {
        if let Some(id) = im.timer.take() {
            self.mc.timers.cancel(id);
        }
        im.reporter = false;
        im.unsolicit_count = 0;
    }

    /// Linux igmp_mod_timer(): a query asks for a report within `max_ms`; a pending
    /// timer that fires sooner stays.
    fn igmp_mod_timer(&mut self, ifindex: u32, group: Ipv4Addr, max_ms: u64) {
        let now = self.now;
        let Some(im) = self
            .mc
            .devs
            .get_mut(&ifindex)
            .and_then(|d| d.find_mut(group))
        else {
            return;
        };
        im.unsolicit_count = 0;
        if let Some(at) = im.timer.and_then(|id| self.mc.timers.deadline(id))
            && at.saturating_duration_since(now) < Duration::from_millis(max_ms)
        {
            return;
        }
        self.igmp_start_timer(ifindex, group, max_ms);
    }

    /// Linux igmp_gq_start_timer(): a v3 general query; an earlier pending one stays.
    fn igmp_gq_start_timer(&mut self, ifindex: u32) {
        let max = self.mc_dev(ifindex).mr_maxdelay;
        let at = self.igmp_random_deadline(max);
        let d = self.mc.devs.get_mut(&ifindex).expect("created above");
        if let Some(id) = d.gq_timer {
            match self.mc.timers.deadline(id) {
                Some(old) if at >= old => return,
                _ => {
                    self.mc.timers.cancel(id);
                }
            }
        }
        d.gq_timer = Some(self.mc.timers.schedule(at, McTimer::Gq(ifindex)));
    }

    /// Linux igmp_ifc_start_timer(): (re)arms the interface change timer.
    fn igmp_ifc_start_timer(&mut self, ifindex: u32, max_ms: u64) {
        let at = self.igmp_random_deadline(max_ms);
        let d = self.mc_dev(ifindex);
        let old = d.ifc_timer.take();
        if let Some(id) = old {
            self.mc.timers.cancel(id);
        }
        let id = self.mc.timers.schedule(at, McTimer::Ifc(ifindex));
        self.mc_dev(ifindex).ifc_timer = Some(id);
    }

    /// Linux igmp_ifc_event(): a v3 change report is due, `qrv` times.
    pub(crate) fn igmp_ifc_event(&mut self, ifindex: u32) {
        if self.igmp_v1_seen(ifindex) || self.igmp_v2_seen(ifindex) {
            return;
        }
        let qrv = self.mc_qrv(ifindex);
        self.mc_dev(ifindex).mr_ifc_count = qrv;
        self.igmp_ifc_start_timer(ifindex, 1);
    }

    /// Groups IGMP never reports: 224.0.0.1, and 224.0.0.0/24 unless
    /// `igmp_link_local_mcast_reports`.
    fn igmp_unreported(&self, group: Ipv4Addr) -> bool {
        group == IGMP_ALL_HOSTS
            || (is_local_multicast(group) && self.sysctl.igmp_link_local_mcast_reports == 0)
    }

    /// Linux igmp_group_added(): unsolicited reports for a new membership.
    fn igmp_group_added(&mut self, ifindex: u32, group: Ipv4Addr) {
        if self.igmp_unreported(group) {
            return;
        }
        let unsolicit = self.sysctl.igmp_qrv as u8;
        let qrv = self.mc_qrv(ifindex);
        let old = self.igmp_v1_seen(ifindex) || self.igmp_v2_seen(ifindex);
        let Some(im) = self.mc_dev(ifindex).find_mut(group) else {
            return;
        };
        im.unsolicit_count = unsolicit;
        if old {
            self.igmp_start_timer(ifindex, group, IGMP_INITIAL_REPORT_DELAY);
            return;
        }
        // RFC 3376 §5.1: a new INCLUDE membership reports no mode change.
        if im.sfmode == SfMode::Exclude {
            im.crcount = qrv;
        }
        self.igmp_ifc_event(ifindex);
    }

    /// Linux igmp_group_dropped(): `im` was the last membership of its group.
    fn igmp_group_dropped(&mut self, ifindex: u32, mut im: IpMcList) {
        if self.igmp_unreported(im.multiaddr) {
            return;
        }
        let reporter = im.reporter;
        self.igmp_stop_timer(&mut im);
        if self.igmp_v1_seen(ifindex) {
            return;
        }
        if self.igmp_v2_seen(ifindex) {
            if reporter {
                self.igmp_send_report(ifindex, im.multiaddr, IgmpMessage::LeaveGroup);
            }
            return;
        }
        self.igmpv3_add_delrec(ifindex, im);
        self.igmp_ifc_event(ifindex);
    }

    /// Linux igmpv3_add_delrec(): the left group's change records go on the tomb.
    fn igmpv3_add_delrec(&mut self, ifindex: u32, im: IpMcList) {
        let qrv = self.mc_qrv(ifindex);
        let mut pmc = IpMcList::new(im.multiaddr, im.sfmode);
        pmc.crcount = qrv;
        if im.sfmode == SfMode::Include {
            pmc.tomb = im.tomb;
            pmc.sources = im.sources;
            for p in &mut pmc.sources {
                p.sf_crcount = qrv;
            }
        }
        self.mc_dev(ifindex).tomb.insert(0, pmc);
    }

    /// Linux igmpv3_del_delrec(): a group joined again takes back its tomb entry.
    fn igmpv3_del_delrec(&mut self, ifindex: u32, group: Ipv4Addr) {
        let qrv = self.mc_qrv(ifindex);
        let d = self.mc_dev(ifindex);
        let Some(at) = d.tomb.iter().position(|p| p.multiaddr == group) else {
            return;
        };
        let pmc = d.tomb.remove(at);
        let Some(im) = d.find_mut(group) else {
            return;
        };
        if im.sfmode == SfMode::Include {
            im.tomb = pmc.tomb;
            im.sources = pmc.sources;
            for p in &mut im.sources {
                p.sf_crcount = qrv;
            }
        } else {
            im.crcount = qrv;
        }
    }

    /// Linux igmpv3_clear_delrec(): forget pending change records (an older querier).
    fn igmpv3_clear_delrec(&mut self, ifindex: u32) {
        let d = self.mc_dev(ifindex);
        d.tomb.clear();
        for im in &mut d.list {
            im.tomb.clear();
        }
    }

    /// A socket joined `group` on `ifindex` in `mode`. Linux ____ip_mc_inc_group().
    pub(crate) fn ip_mc_inc_group(&mut self, ifindex: u32, group: Ipv4Addr, mode: SfMode) {
        let qrv = self.mc_qrv(ifindex);
        let d = self.mc_dev(ifindex);
        if let Some(im) = d.find_mut(group) {
            im.users = im.users.saturating_add(1);
            if im.add_src(mode, &[], false, qrv) {
                self.igmp_ifc_event(ifindex);
            }
            // The filter may have changed: cached input routes depend on it.
            self.fib.rt_cache_flush();
            return;
        }
        d.list.insert(0, IpMcList::new(group, mode));
        self.igmpv3_del_delrec(ifindex, group);
        self.igmp_group_added(ifindex, group);
        self.fib.rt_cache_flush();
    }

    /// A socket left `group` on `ifindex`. Linux __ip_mc_dec_group().
    pub(crate) fn ip_mc_dec_group(&mut self, ifindex: u32, group: Ipv4Addr) {
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        let Some(at) = d.list.iter().position(|m| m.multiaddr == group) else {
            return;
        };
        let im = &mut d.list[at];
        im.users = im.users.saturating_sub(1);
        if im.users != 0 {
            return;
        }
        let im = d.list.remove(at);
        self.igmp_group_dropped(ifindex, im);
        self.fib.rt_cache_flush();
    }

    /// Adds or removes sources of a membership on the device and sends the change
    /// records that follow. Linux ip_mc_add_src() / ip_mc_del_src().
    pub(crate) fn ip_mc_change_src(
        &mut self,
        ifindex: u32,
        group: Ipv4Addr,
        add: bool,
        mode: SfMode,
        srcs: &[Ipv4Addr],
        delta: bool,
    ) -> Result<(), crate::errno::Errno> {
        let qrv = self.mc_qrv(ifindex);
        let v3 = !self.igmp_v1_seen(ifindex) && !self.igmp_v2_seen(ifindex);
        let d = self
            .mc
            .devs
            .get_mut(&ifindex)
            .ok_or(crate::errno::Errno::NoDev)?;
        let im = d.find_mut(group).ok_or(crate::errno::Errno::Srch)?;
        let (res, event) = if add {
            (Ok(()), im.add_src(mode, srcs, delta, qrv))
        } else {
            im.del_src(mode, srcs, delta, qrv, v3)
        };
        if event {
            self.igmp_ifc_event(ifindex);
        }
        self.fib.rt_cache_flush();
        res
    }

    /// Has `group` been joined on `ifindex` (224.0.0.1 always is)? Linux ip_check_mc_rcu().
    pub(crate) fn mc_joined(&self, ifindex: u32, group: Ipv4Addr) -> bool {
        group == IGMP_ALL_HOSTS
            || self
                .mc
                .devs
                .get(&ifindex)
                .is_some_and(|d| d.find(group).is_some())
    }

    // ---- device down and up ----------------------------------------------------------

    /// Linux ip_mc_down() (NETDEV_DOWN): the memberships stay, their reports stop. Each
    /// group goes through igmp_group_dropped() (a v2 leave if we were the reporter, a v3
    /// tomb entry holding an INCLUDE group's sources until ip_mc_up()), then the
    /// interface change and general query timers stop and the device lets go of 224.0.0.1.
    pub(crate) fn ip_mc_down(&mut self, ifindex: u32) {
        let Some(d) = self.mc.devs.get(&ifindex) else {
            return;
        };
        let groups: Vec<Ipv4Addr> = d.list.iter().map(|m| m.multiaddr).collect();
        for g in groups {
            self.igmp_group_down(ifindex, g);
        }
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        d.mr_ifc_count = 0;
        for id in [d.ifc_timer.take(), d.gq_timer.take()]
            .into_iter()
            .flatten()
        {
            self.mc.timers.cancel(id);
        }
        if core::mem::replace(&mut d.mc_up, false) {
            self.ip_mc_dec_group(ifindex, IGMP_ALL_HOSTS);
        }
    }

    /// Linux igmp_group_dropped() for a group that stays joined (ip_mc_down()): its
    /// timer stops; v3 change records go on the tomb, taking an INCLUDE group's sources
    /// with them (igmpv3_add_delrec()); the interface change timer is not armed, as
    /// ip_mc_down() stops it right after.
    fn igmp_group_down(&mut self, ifindex: u32, group: Ipv4Addr) {
        if self.igmp_unreported(group) {
            return;
        }
        let v1 = self.igmp_v1_seen(ifindex);
        let v2 = self.igmp_v2_seen(ifindex);
        let qrv = self.mc_qrv(ifindex);
        let Some(im) = self
            .mc
            .devs
            .get_mut(&ifindex)
            .and_then(|d| d.find_mut(group))
        else {
            return;
        };
        let reporter = im.reporter;
        let timer = im.timer.take();
        im.reporter = false;
        im.unsolicit_count = 0;
        let pmc = (!v1 && !v2).then(|| {
            let mut pmc = IpMcList::new(group, im.sfmode);
            pmc.crcount = qrv;
            if im.sfmode == SfMode::Include {
                pmc.tomb = core::mem::take(&mut im.tomb);
                pmc.sources = core::mem::take(&mut im.sources);
                for p in &mut pmc.sources {
                    p.sf_crcount = qrv;
                }
            }
            pmc
        });
        if let Some(id) = timer {
            self.mc.timers.cancel(id);
        }
        match pmc {
            Some(pmc) => self.mc_dev(ifindex).tomb.insert(0, pmc),
            None if v2 && !v1 && reporter => {
                self.igmp_send_report(ifindex, group, IgmpMessage::LeaveGroup);
            }
            None => {}
        }
    }

    /// Linux ip_mc_up() (NETDEV_UP): ip_mc_reset() of the querier's values, 224.0.0.1
    /// held again, and every membership announced anew: its tomb entry taken back
    /// (igmpv3_del_delrec()) and igmp_group_added() (v3: change reports qrv times; v1/v2:
    /// unsolicited reports). A device without multicast state has nothing to announce.
    pub(crate) fn ip_mc_up(&mut self, ifindex: u32) {
        let qrv = self.sysctl.igmp_qrv as u8;
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        d.mr_qi = super::mc_list::IGMP_QUERY_INTERVAL_MS;
        d.mr_qri = IGMP_QUERY_RESPONSE_INTERVAL;
        d.mr_qrv = qrv;
        if !core::mem::replace(&mut d.mc_up, true) {
            self.ip_mc_inc_group(ifindex, IGMP_ALL_HOSTS, SfMode::Exclude);
        }
        let groups: Vec<Ipv4Addr> = self
            .mc
            .devs
            .get(&ifindex)
            .map(|d| d.list.iter().map(|m| m.multiaddr).collect())
            .unwrap_or_default();
        for g in groups {
            self.igmpv3_del_delrec(ifindex, g);
            self.igmp_group_added(ifindex, g);
        }
    }

    // ---- sending ---------------------------------------------------------------------

    /// Sends one IGMP message of `body_len` bytes that `fill` writes, from the device's
    /// address (v3: only if it is on the device, else 0.0.0.0), TTL 1, TOS 0xc0, DF, with
    /// Router Alert. Linux igmp_send_report() / igmpv3_newpack() + igmpv3_sendpack().
    fn igmp_xmit(
        &mut self,
        ifindex: u32,
        daddr: Ipv4Addr,
        v3: bool,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) {
        let mut fl = crate::route::Flowi4::new(daddr);
        fl.oif = ifindex;
        fl.proto = IPPROTO_IGMP;
        let Ok(mut dst) = self.fib.ip_route_output(&fl) else {
            return;
        };
        let mut saddr = dst.saddr;
        if v3
            && !self
                .fib
                .addrs()
                .any(|a| a.ifindex == ifindex && a.local == saddr)
        {
            saddr = Ipv4Addr::UNSPECIFIED;
        }
        self.ip_mc_check_local(&mut dst, daddr);
        let p = IpSend {
            saddr,
            daddr,
            protocol: IPPROTO_IGMP,
            ttl: 1,
            tos: 0xc0,
            df: true,
            ignore_df: false,
            ident: None,
        };
        // A failed send is dropped and counted on the way, as ip_local_out()'s result is
        // ignored by Linux's senders.
        let _ = self.ip_build_and_send_pkt(&dst, p, &RA_OPTION, body_len, fill);
    }

    /// Linux igmp_send_report() for v1/v2 reports and v2 leaves; v3 goes to
    /// [`Stack::igmpv3_send_report`].
    fn igmp_send_report(&mut self, ifindex: u32, group: Ipv4Addr, msg: IgmpMessage) {
        stage!(self, "igmp_send_report");
        if is_local_multicast(group) && self.sysctl.igmp_link_local_mcast_reports == 0 {
            return;
        }
        let (repr, daddr) = match msg {
            IgmpMessage::MembershipReportV1 => (IgmpRepr::MembershipReportV1 { group }, group),
            IgmpMessage::MembershipReportV2 => (IgmpRepr::MembershipReportV2 { group }, group),
            _ => (IgmpRepr::LeaveGroup { group }, IGMP_ALL_ROUTER),
        };
        self.igmp_xmit(ifindex, daddr, false, HEADER_LEN, |b| {
            let _ = repr.emit(b);
        });
    }

    /// Sends v3 records in as many reports as the device MTU needs. Records with too
    /// many sources are split; EX and TO_EX ones are truncated instead (RFC 3376 §4.2.16).
    /// Linux add_grec()'s packing and igmpv3_sendpack().
    fn igmpv3_sendpack(&mut self, ifindex: u32, recs: Vec<Grec>) {
        // An IP packet is at most 65535 bytes whatever the MTU.
        let mtu = self.dev(ifindex).map_or(0, |d| d.mtu.min(65_535) as usize);
        if mtu < IPV4_MIN_MTU || recs.is_empty() {
            return;
        }
        let room = mtu - IGMP_IP_HLEN - HEADER_LEN;
        let per_rec = (room - RECORD_HEADER_LEN) / 4;
        let mut packets: Vec<Vec<Grec>> = vec![Vec::new()];
        let mut used = 0usize;
        for (rt, group, srcs) in recs {
            let truncate = matches!(rt, RecordType::ModeIsExclude | RecordType::ChangeToExclude);
            let mut chunks: Vec<Vec<Ipv4Addr>> = if srcs.is_empty() {
                vec![Vec::new()]
            } else {
                srcs.chunks(per_rec.max(1)).map(<[_]>::to_vec).collect()
            };
            if truncate {
                chunks.truncate(1);
            }
            for chunk in chunks {
                let len = RECORD_HEADER_LEN + 4 * chunk.len();
                if used + len > room {
                    packets.push(Vec::new());
                    used = 0;
                }
                used += len;
                if let Some(last) = packets.last_mut() {
                    last.push((rt, group, chunk));
                }
            }
        }
        for recs in packets.into_iter().filter(|p| !p.is_empty()) {
            let reprs: Vec<GroupRecordRepr<'_>> = recs
                .iter()
                .map(|(rt, group, srcs)| GroupRecordRepr {
                    record_type: *rt,
                    group: *group,
                    sources: srcs,
                })
                .collect();
            let report = IgmpV3ReportRepr { records: &reprs };
            let len = report.buffer_len();
            self.igmp_xmit(ifindex, IGMPV3_ALL_MCR, true, len, |b| {
                let _ = report.emit(b);
            });
        }
    }

    /// Linux igmpv3_send_report(): current-state records (IS_EX / IS_IN) for one group,
    /// or for every group of the device (a general query's answer).
    fn igmpv3_send_report(&mut self, ifindex: u32, group: Option<Ipv4Addr>) {
        stage!(self, "igmpv3_send_report");
        let llm = self.sysctl.igmp_link_local_mcast_reports != 0;
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        let mut recs = Vec::new();
        for im in &mut d.list {
            if group.is_some_and(|g| g != im.multiaddr)
                || im.multiaddr == IGMP_ALL_HOSTS
                || (is_local_multicast(im.multiaddr) && !llm)
            {
                continue;
            }
            let rt = if im.sfcount[1] != 0 {
                RecordType::ModeIsExclude
            } else {
                RecordType::ModeIsInclude
            };
            if let Some((rt, srcs)) = im.add_grec(rt, false, false) {
                recs.push((rt, im.multiaddr, srcs));
            }
        }
        self.igmpv3_sendpack(ifindex, recs);
    }

    /// Linux igmpv3_send_cr(): the state-change records due: left groups (the tomb),
    /// then source and mode changes of the groups held.
    fn igmpv3_send_cr(&mut self, ifindex: u32) {
        stage!(self, "igmpv3_send_cr");
        let llm = self.sysctl.igmp_link_local_mcast_reports != 0;
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        let skip = |g: Ipv4Addr| g == IGMP_ALL_HOSTS || (is_local_multicast(g) && !llm);
        let mut recs = Vec::new();
        let mut push = |g: Ipv4Addr, r: Option<(RecordType, Vec<Ipv4Addr>)>| {
            if !skip(g)
                && let Some((rt, srcs)) = r
            {
                recs.push((rt, g, srcs));
            }
        };
        let mut tomb = core::mem::take(&mut d.tomb);
        for pmc in &mut tomb {
            let g = pmc.multiaddr;
            if pmc.sfmode == SfMode::Include {
                push(g, pmc.add_grec(RecordType::BlockOldSources, true, false));
                push(g, pmc.add_grec(RecordType::BlockOldSources, true, true));
            }
            if pmc.crcount != 0 {
                if pmc.sfmode == SfMode::Exclude {
                    push(g, pmc.add_grec(RecordType::ChangeToInclude, true, false));
                }
                pmc.crcount -= 1;
                if pmc.crcount == 0 {
                    pmc.tomb.retain(|p| p.sf_crcount != 0);
                    pmc.sources.retain(|p| p.sf_crcount != 0);
                }
            }
        }
        tomb.retain(|p| p.crcount != 0 || !p.tomb.is_empty() || !p.sources.is_empty());
        d.tomb = tomb;
        for im in &mut d.list {
            let g = im.multiaddr;
            let (rt, drt) = if im.sfcount[1] != 0 {
                (RecordType::BlockOldSources, RecordType::AllowNewSources)
            } else {
                (RecordType::AllowNewSources, RecordType::BlockOldSources)
            };
            push(g, im.add_grec(rt, false, false));
            push(g, im.add_grec(drt, false, true));
            if im.crcount != 0 {
                let rt = if im.sfmode == SfMode::Exclude {
                    RecordType::ChangeToExclude
                } else {
                    RecordType::ChangeToInclude
                };
                push(g, im.add_grec(rt, false, false));
                im.crcount -= 1;
            }
        }
        self.igmpv3_sendpack(ifindex, recs);
    }

    /// Linux igmpv3_send_cr() when no packet can be built (a down device: the route
    /// lookup in igmpv3_newpack() fails): add_grec() gives up before touching any source,
    /// so only the groups' mode-change counts run down, and a left group whose count is
    /// spent and that holds no sources leaves the tomb.
    fn igmpv3_send_cr_unroutable(&mut self, ifindex: u32) {
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return;
        };
        for pmc in &mut d.tomb {
            if pmc.crcount != 0 {
                pmc.crcount -= 1;
                if pmc.crcount == 0 {
                    pmc.tomb.retain(|p| p.sf_crcount != 0);
                    pmc.sources.retain(|p| p.sf_crcount != 0);
                }
            }
        }
        d.tomb
            .retain(|p| p.crcount != 0 || !p.tomb.is_empty() || !p.sources.is_empty());
        for im in &mut d.list {
            im.crcount = im.crcount.saturating_sub(1);
        }
    }

    // ---- timers ----------------------------------------------------------------------

    /// When the next IGMP timer fires.
    /// The end of an Older Version Querier Present period counts too: the stack wakes
    /// then, so the version it uses next is read at the right time (Linux compares
    /// jiffies whenever it looks).
    pub(crate) fn igmp_next_deadline(&self) -> Option<crate::time::Instant> {
        let seen = self
            .mc
            .devs
            .values()
            .flat_map(|d| [d.mr_v1_seen, d.mr_v2_seen])
            .flatten()
            .filter(|&t| t > self.now);
        self.mc.timers.next_deadline().into_iter().chain(seen).min()
    }

    /// Runs the IGMP timers due at `now`: igmp_timer_expire(), igmp_ifc_timer_expire(),
    /// igmp_gq_timer_expire().
    pub(crate) fn igmp_timers(&mut self, now: crate::time::Instant) {
        while let Some((id, _, t)) = self.mc.timers.pop_expired(now) {
            match t {
                McTimer::Ifc(ifindex) => {
                    let Some(d) = self.mc.devs.get_mut(&ifindex) else {
                        continue;
                    };
                    if d.ifc_timer != Some(id) {
                        continue;
                    }
                    d.ifc_timer = None;
                    if self.dev(ifindex).is_some_and(|d| d.up) {
                        self.igmpv3_send_cr(ifindex);
                    } else {
                        self.igmpv3_send_cr_unroutable(ifindex);
                    }
                    let d = self.mc_dev(ifindex);
                    if d.mr_ifc_count != 0 {
                        d.mr_ifc_count -= 1;
                        let ival = self.unsolicited_report_interval(ifindex);
                        self.igmp_ifc_start_timer(ifindex, ival);
                    }
                }
                McTimer::Gq(ifindex) => {
                    let Some(d) = self.mc.devs.get_mut(&ifindex) else {
                        continue;
                    };
                    if d.gq_timer != Some(id) {
                        continue;
                    }
                    d.gq_timer = None;
                    self.igmpv3_send_report(ifindex, None);
                }
                McTimer::Group(ifindex, group) => self.igmp_timer_expire(ifindex, group, id),
            }
        }
    }

    /// Linux igmp_timer_expire(): a group's report, in the device's version.
    fn igmp_timer_expire(&mut self, ifindex: u32, group: Ipv4Addr, id: crate::time::TimerId) {
        let ival = self.unsolicited_report_interval(ifindex);
        let Some(im) = self
            .mc
            .devs
            .get_mut(&ifindex)
            .and_then(|d| d.find_mut(group))
        else {
            return;
        };
        if im.timer != Some(id) {
            return;
        }
        im.timer = None;
        im.reporter = true;
        let again = im.unsolicit_count != 0 && {
            im.unsolicit_count -= 1;
            im.unsolicit_count != 0
        };
        if again {
            self.igmp_start_timer(ifindex, group, ival);
        }
        if self.igmp_v1_seen(ifindex) {
            self.igmp_send_report(ifindex, group, IgmpMessage::MembershipReportV1);
        } else if self.igmp_v2_seen(ifindex) {
            self.igmp_send_report(ifindex, group, IgmpMessage::MembershipReportV2);
        } else {
            self.igmpv3_send_report(ifindex, Some(group));
        }
    }

    // ---- receiving -------------------------------------------------------------------

    /// Linux igmp_rcv(): `data` is at the IGMP header and spans the IP payload.
    pub(crate) fn igmp_rcv(&mut self, skb: SkBuff) {
        stage!(self, "igmp_rcv");
        let ok = skb.len() >= HEADER_LEN
            && (skb.csum_unnecessary() || csum_fold(csum_partial(skb.data(), 0)) == 0);
        if !ok {
            return self.kfree_skb(skb, DropReason::IgmpInvalid);
        }
        let ifindex = skb.iif;
        let p = IgmpPacket::new_unchecked(skb.data());
        let dropped = match p.msg_type() {
            IgmpMessage::MembershipQuery => self.igmp_heard_query(ifindex, skb.data()),
            IgmpMessage::MembershipReportV1 | IgmpMessage::MembershipReportV2 => {
                // Our own report looped back (Linux: an output route) is not another
                // member's; unicast reports are not relied upon.
                if matches!(skb.pkt_type, PacketType::Multicast | PacketType::Broadcast) {
                    self.igmp_heard_report(ifindex, p.group());
                }
                false
            }
            _ => false,
        };
        if dropped {
            self.kfree_skb(skb, DropReason::IgmpInvalid);
        } else {
            self.consume_skb(skb);
        }
    }

    /// Linux igmp_heard_report(): another member reported `group`: ours is suppressed.
    fn igmp_heard_report(&mut self, ifindex: u32, group: Ipv4Addr) {
        if self.igmp_unreported(group) {
            return;
        }
        let mc = &mut self.mc;
        if let Some(im) = mc.devs.get_mut(&ifindex).and_then(|d| d.find_mut(group)) {
            if let Some(id) = im.timer.take() {
                mc.timers.cancel(id);
            }
            im.reporter = false;
            im.unsolicit_count = 0;
        }
    }

    /// Linux igmp_heard_query(): schedules the reports a query asks for, and notes an
    /// older querier. Returns true when the query is malformed (dropped).
    fn igmp_heard_query(&mut self, ifindex: u32, b: &[u8]) -> bool {
        stage!(self, "igmp_heard_query");
        let len = b.len();
        let p = IgmpPacket::new_unchecked(b);
        let code = p.max_resp_code();
        let mut group = p.group();
        let mut mark = false;
        let mut srcs: Vec<Ipv4Addr> = Vec::new();
        let max_delay: u64;
        let now = self.now;
        if len == HEADER_LEN {
            let d = self.mc_dev(ifindex);
            let present = Duration::from_millis(
                u64::from(d.mr_qrv)
                    .saturating_mul(d.mr_qi)
                    .saturating_add(d.mr_qri),
            );
            if code == 0 {
                // A v1 querier: its queries are general, the delay is 10 s.
                max_delay = IGMP_QUERY_RESPONSE_INTERVAL;
                d.mr_v1_seen = Some(now + present);
                group = Ipv4Addr::UNSPECIFIED;
            } else {
                max_delay = u64::from(code) * 100;
                d.mr_v2_seen = Some(now + present);
            }
            d.mr_ifc_count = 0;
            if let Some(id) = d.ifc_timer.take() {
                self.mc.timers.cancel(id);
            }
            self.igmpv3_clear_delrec(ifindex);
        } else if len < V3_QUERY_LEN {
            return true;
        } else if self.igmp_v1_seen(ifindex) {
            max_delay = IGMP_QUERY_RESPONSE_INTERVAL;
            group = Ipv4Addr::UNSPECIFIED;
        } else if self.igmp_v2_seen(ifindex) {
            max_delay = (u64::from(skiff_wire::igmp::decode_code(code)) * 100).max(1);
        } else {
            let Some(q) = p.v3_query() else {
                return true;
            };
            max_delay = (u64::from(skiff_wire::igmp::decode_code(code)) * 100).max(1);
            let sys_qrv = self.sysctl.igmp_qrv as u8;
            let d = self.mc_dev(ifindex);
            d.mr_maxdelay = max_delay;
            // RFC 3376 §4.1.6, §4.1.7: a zero QRV or QQIC means the default.
            d.mr_qrv = if q.qrv != 0 { q.qrv } else { sys_qrv };
            d.mr_qi = match u64::from(q.qqi()) * 1000 {
                0 => super::mc_list::IGMP_QUERY_INTERVAL_MS,
                qi => qi,
            };
            // RFC 3376 §8.3: the response interval stays below the query interval.
            if d.mr_qri >= d.mr_qi {
                d.mr_qri = (d.mr_qi / 1000).saturating_sub(1) * 1000;
            }
            if group.is_unspecified() {
                if !q.sources.is_empty() {
                    return true;
                }
                self.igmp_gq_start_timer(ifindex);
                return false;
            }
            srcs = q.sources.iter().collect();
            mark = !srcs.is_empty();
        }
        let llm = self.sysctl.igmp_link_local_mcast_reports != 0;
        let Some(d) = self.mc.devs.get_mut(&ifindex) else {
            return false;
        };
        let mut due = Vec::new();
        for im in &mut d.list {
            if (!group.is_unspecified() && group != im.multiaddr)
                || im.multiaddr == IGMP_ALL_HOSTS
                || (is_local_multicast(im.multiaddr) && !llm)
            {
                continue;
            }
            im.gsquery = if im.timer.is_some() {
                im.gsquery && mark
            } else {
                mark
            };
            let changed = !im.gsquery || im.marksources(&srcs);
            if changed {
                due.push(im.multiaddr);
            }
        }
        for g in due {
            self.igmp_mod_timer(ifindex, g, max_delay);
        }
        false
    }
}

/// Linux IGMP_QUERY_RESPONSE_INTERVAL, in ms.
const IGMP_QUERY_RESPONSE_INTERVAL: u64 = super::mc_list::IGMP_QUERY_RESPONSE_INTERVAL_MS;
