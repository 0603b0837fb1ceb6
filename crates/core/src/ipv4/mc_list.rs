//! A device's multicast memberships and their source filters, and the IGMPv3 records
//! they produce. Linux net/ipv4/igmp.c: `struct ip_mc_list` and `struct ip_sf_list`,
//! ip_mc_add_src(), ip_mc_del_src(), sf_markstate(), sf_setstate(), is_in(), add_grec().
//! An engine: no `Stack`, no I/O; the timers live in [`McState`]'s queue.

use crate::time::{Instant, TimerId, TimerQueue};
use skiff_wire::Ipv4Addr;
use skiff_wire::igmp::RecordType;
use std::collections::BTreeMap;

/// 224.0.0.1, joined on every device and never reported (RFC 2236 §6).
pub const IGMP_ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// 224.0.0.2, where v2 leaves go.
pub const IGMP_ALL_ROUTER: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// 224.0.0.22, where v3 reports go.
pub const IGMPV3_ALL_MCR: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);

/// A filter mode: Linux `MCAST_INCLUDE` (0) / `MCAST_EXCLUDE` (1), the index of the
/// `sfcount` / `sf_count` arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SfMode {
    Include = 0,
    Exclude = 1,
}

/// One source of a group's filter on a device. Linux `struct ip_sf_list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSfList {
    pub inaddr: Ipv4Addr,
    /// Sockets that include / exclude this source.
    pub sf_count: [u32; 2],
    /// Retransmissions of a change record still due for this source.
    pub sf_crcount: u8,
    /// Marked by a group-and-source-specific query.
    pub sf_gsresp: bool,
    /// The source was in the filter before the current change (sf_markstate()).
    pub sf_oldin: bool,
}

impl IpSfList {
    fn new(inaddr: Ipv4Addr) -> Self {
        IpSfList {
            inaddr,
            sf_count: [0; 2],
            sf_crcount: 0,
            sf_gsresp: false,
            sf_oldin: false,
        }
    }
}

/// One group joined on a device. Linux `struct ip_mc_list`.
#[derive(Debug, Clone)]
pub struct IpMcList {
    pub multiaddr: Ipv4Addr,
    /// Sockets (and the stack itself for 224.0.0.1) holding it.
    pub users: u32,
    pub sfmode: SfMode,
    /// Sockets in include / exclude mode.
    pub sfcount: [u32; 2],
    pub sources: Vec<IpSfList>,
    /// Sources left, whose block records are still due.
    pub tomb: Vec<IpSfList>,
    /// Retransmissions of a filter-mode change record still due.
    pub crcount: u8,
    /// v1/v2 unsolicited reports still due.
    pub unsolicit_count: u8,
    /// The report timer (`tm_running` is `timer.is_some()`).
    pub timer: Option<TimerId>,
    /// This host sent the last report for the group (v1/v2 suppression).
    pub reporter: bool,
    /// A group-and-source-specific query is pending.
    pub gsquery: bool,
}

impl IpMcList {
    /// A new membership in `mode` with one user: (EX, {}) for an any-source join.
    pub fn new(multiaddr: Ipv4Addr, mode: SfMode) -> Self {
        let mut sfcount = [0; 2];
        sfcount[mode as usize] = 1;
        IpMcList {
            multiaddr,
            users: 1,
            sfmode: mode,
            sfcount,
            sources: Vec::new(),
            tomb: Vec::new(),
            crcount: 0,
            unsolicit_count: 0,
            timer: None,
            reporter: false,
            gsquery: false,
        }
    }

    /// Whether a datagram from `src` passes the device filter. Linux ip_check_mc_rcu().
    pub fn source_allowed(&self, src: Ipv4Addr) -> bool {
        match self.sources.iter().find(|p| p.inaddr == src) {
            Some(p) => p.sf_count[0] != 0 || p.sf_count[1] != self.sfcount[1],
            None => self.sfcount[1] != 0,
        }
    }

    /// Linux sf_markstate(): remember which sources are in the filter now.
    pub fn sf_markstate(&mut self) {
        let x = self.sfcount[1];
        for p in &mut self.sources {
            p.sf_oldin = if x != 0 {
                p.sf_count[1] == x && p.sf_count[0] == 0
            } else {
                p.sf_count[0] != 0
            };
        }
    }

    /// Linux sf_setstate(): sources that entered the filter get `qrv` ALLOW/BLOCK
    /// retransmissions, those that left get a tomb entry. Returns the number changed.
    pub fn sf_setstate(&mut self, qrv: u8) -> usize {
        let x = self.sfcount[1];
        let mut changed = 0;
        for p in &mut self.sources {
            let new_in = if x != 0 {
                p.sf_count[1] == x && p.sf_count[0] == 0
            } else {
                p.sf_count[0] != 0
            };
            if new_in && !p.sf_oldin {
                self.tomb.retain(|d| d.inaddr != p.inaddr);
                p.sf_crcount = qrv;
                changed += 1;
            } else if !new_in && p.sf_oldin {
                p.sf_crcount = 0;
                match self.tomb.iter_mut().find(|d| d.inaddr == p.inaddr) {
                    Some(d) => d.sf_crcount = qrv,
                    None => {
                        let mut d = p.clone();
                        d.sf_crcount = qrv;
                        self.tomb.insert(0, d);
                    }
                }
                changed += 1;
            }
        }
        changed
    }

    /// Linux ip_mc_add1_src(). Sources are bounded by the callers (igmp_max_msf per socket).
    fn add1_src(&mut self, mode: SfMode, src: Ipv4Addr) {
        let at = match self.sources.iter().position(|p| p.inaddr == src) {
            Some(at) => at,
            None => {
                self.sources.push(IpSfList::new(src));
                self.sources.len() - 1
            }
        };
        let c = &mut self.sources[at].sf_count[mode as usize];
        *c = c.saturating_add(1);
    }

    /// Linux ip_mc_del1_src(): `Err(())` (ESRCH) if the source is not counted in `mode`;
    /// `Ok(true)` when a source that was in the filter left it and gets block records.
    fn del1_src(&mut self, mode: SfMode, src: Ipv4Addr, qrv: u8, v3: bool) -> Result<bool, ()> {
        let at = self
            .sources
            .iter()
            .position(|p| p.inaddr == src)
            .ok_or(())?;
        let p = &mut self.sources[at];
        if p.sf_count[mode as usize] == 0 {
            return Err(());
        }
        p.sf_count[mode as usize] -= 1;
        if p.sf_count != [0, 0] {
            return Ok(false);
        }
        let mut p = self.sources.remove(at);
        if p.sf_oldin && v3 {
            p.sf_crcount = qrv;
            self.tomb.insert(0, p);
            return Ok(true);
        }
        Ok(false)
    }

    /// Linux ip_mc_add_src(): `delta` adds sources to a socket already counted in
    /// `mode`, else one more socket in `mode`. Returns whether a report is due
    /// (igmp_ifc_event()).
    pub fn add_src(&mut self, mode: SfMode, srcs: &[Ipv4Addr], delta: bool, qrv: u8) -> bool {
        self.sf_markstate();
        let was_exclude = self.sfmode == SfMode::Exclude;
        if !delta {
            self.sfcount[mode as usize] = self.sfcount[mode as usize].saturating_add(1);
        }
        for &s in srcs {
            self.add1_src(mode, s);
        }
        if was_exclude != (self.sfcount[1] != 0) {
            if self.sfcount[1] != 0 {
                self.sfmode = SfMode::Exclude;
            } else if self.sfcount[0] != 0 {
                self.sfmode = SfMode::Include;
            }
            self.crcount = qrv;
            for p in &mut self.sources {
                p.sf_crcount = 0;
            }
            return true;
        }
        self.sf_setstate(qrv) > 0
    }

    /// Linux ip_mc_del_src(): the reverse of [`IpMcList::add_src`]. `Err` is the errno
    /// (EINVAL: no socket in `mode`; ESRCH: a source not counted); the report flag comes
    /// with either.
    pub fn del_src(
        &mut self,
        mode: SfMode,
        srcs: &[Ipv4Addr],
        delta: bool,
        qrv: u8,
        v3: bool,
    ) -> (Result<(), crate::errno::Errno>, bool) {
        self.sf_markstate();
        if !delta {
            if self.sfcount[mode as usize] == 0 {
                return (Err(crate::errno::Errno::Inval), false);
            }
            self.sfcount[mode as usize] -= 1;
        }
        let mut err = Ok(());
        let mut changerec = false;
        for &s in srcs {
            match self.del1_src(mode, s, qrv, v3) {
                Ok(c) => changerec |= c,
                Err(()) => {
                    if err.is_ok() {
                        err = Err(crate::errno::Errno::Srch);
                    }
                }
            }
        }
        if self.sfmode == SfMode::Exclude && self.sfcount[1] == 0 && self.sfcount[0] != 0 {
            self.sfmode = SfMode::Include;
            self.crcount = qrv;
            for p in &mut self.sources {
                p.sf_crcount = 0;
            }
            return (err, true);
        }
        let set = self.sf_setstate(qrv) > 0;
        (err, set || changerec)
    }

    /// Linux ip_mc_clear_src(): back to (EX, {}) with one exclude count.
    pub fn clear_src(&mut self) {
        self.tomb.clear();
        self.sources.clear();
        self.sfmode = SfMode::Exclude;
        self.sfcount = [0, 1];
    }

    /// Linux is_in(): whether `p` belongs in a record of `rt`.
    fn is_in(&self, p: &IpSfList, rt: RecordType, gdel: bool, sdel: bool) -> bool {
        let x = self.sfcount[1];
        match rt {
            RecordType::ModeIsInclude | RecordType::ModeIsExclude => {
                if gdel || sdel || (self.gsquery && !p.sf_gsresp) {
                    return false;
                }
                if self.sfmode == SfMode::Include {
                    return true;
                }
                if p.sf_count[0] != 0 {
                    return rt == RecordType::ModeIsInclude;
                }
                x == p.sf_count[1]
            }
            RecordType::ChangeToInclude => !gdel && !sdel && p.sf_count[0] != 0,
            RecordType::ChangeToExclude => {
                if gdel || sdel || x == 0 || p.sf_count[0] != 0 {
                    return false;
                }
                x == p.sf_count[1]
            }
            RecordType::AllowNewSources => {
                if gdel || p.sf_crcount == 0 {
                    return false;
                }
                (self.sfmode == SfMode::Include) ^ sdel
            }
            RecordType::BlockOldSources => {
                if self.sfmode == SfMode::Include {
                    gdel || (p.sf_crcount != 0 && sdel)
                } else {
                    p.sf_crcount != 0 && !gdel && !sdel
                }
            }
            RecordType::Other(_) => false,
        }
    }

    /// Linux add_grec(): the sources of one record of type `rt` (from the tomb when
    /// `sdel`), counting down the retransmissions it consumes; `None` when no record is
    /// due. `gdel`: this is a deleted group (the device's tomb).
    pub fn add_grec(
        &mut self,
        rt: RecordType,
        gdel: bool,
        sdel: bool,
    ) -> Option<(RecordType, Vec<Ipv4Addr>)> {
        let isquery = matches!(rt, RecordType::ModeIsInclude | RecordType::ModeIsExclude);
        let change = matches!(
            rt,
            RecordType::AllowNewSources | RecordType::BlockOldSources
        );
        let list = if sdel {
            core::mem::take(&mut self.tomb)
        } else {
            core::mem::take(&mut self.sources)
        };
        let mut kept = Vec::with_capacity(list.len());
        let mut out = Vec::new();
        let skip_changes = (gdel && self.sfmode == SfMode::Exclude) || (!gdel && self.crcount != 0);
        for mut p in list {
            if !self.is_in(&p, rt, gdel, sdel) {
                kept.push(p);
                continue;
            }
            // RFC 3376 §5.1: no source-list change records along with a mode change.
            let consumed = if skip_changes && change && p.sf_crcount != 0 {
                true
            } else {
                if isquery {
                    p.sf_gsresp = false;
                }
                out.push(p.inaddr);
                change && p.sf_crcount != 0
            };
            if consumed {
                p.sf_crcount -= 1;
                if (sdel || gdel) && p.sf_crcount == 0 {
                    continue;
                }
            }
            kept.push(p);
        }
        if sdel {
            self.tomb = kept;
        } else {
            self.sources = kept;
        }
        if isquery {
            self.gsquery = false;
        }
        if out.is_empty() && (change || (self.crcount == 0 && !isquery)) {
            return None;
        }
        Some((rt, out))
    }

    /// Linux igmp_marksources() / igmp_xmarksources(): for a group-and-source-specific
    /// query; false when none of the queried sources is ours to report.
    pub fn marksources(&mut self, srcs: &[Ipv4Addr]) -> bool {
        if self.sfmode == SfMode::Exclude {
            let x = self.sfcount[1];
            let mut scount = 0;
            for p in &self.sources {
                if scount == srcs.len() {
                    break;
                }
                // Inactive filters (included somewhere, or not excluded by all) end the scan.
                if p.sf_count[0] != 0 || x != p.sf_count[1] {
                    continue;
                }
                if srcs.contains(&p.inaddr) {
                    scount += 1;
                }
            }
            self.gsquery = false;
            return scount != srcs.len();
        }
        let mut scount = 0;
        for p in &mut self.sources {
            if scount == srcs.len() {
                break;
            }
            if srcs.contains(&p.inaddr) {
                p.sf_gsresp = true;
                scount += 1;
            }
        }
        self.gsquery = scount != 0;
        scount != 0
    }
}

/// The multicast part of one device. Linux `struct in_device`'s `mc_list`, `mc_tomb`,
/// `mr_*` fields.
#[derive(Debug, Clone)]
pub struct McDev {
    /// Newest first, as Linux prepends.
    pub list: Vec<IpMcList>,
    /// Groups left whose v3 change records are still due (`mc_tomb`).
    pub tomb: Vec<IpMcList>,
    pub mr_v1_seen: Option<Instant>,
    pub mr_v2_seen: Option<Instant>,
    /// Querier's robustness variable (RFC 3376 §4.1.6), from the last v3 query.
    pub mr_qrv: u8,
    /// Query interval and query response interval, in ms.
    pub mr_qi: u64,
    pub mr_qri: u64,
    /// Max response delay of the last v3 query, in ms.
    pub mr_maxdelay: u64,
    /// Change-report transmissions still due (`mr_ifc_count`).
    pub mr_ifc_count: u8,
    pub ifc_timer: Option<TimerId>,
    pub gq_timer: Option<TimerId>,
    /// The device's own hold on 224.0.0.1 (taken by ip_mc_up(), given back by
    /// ip_mc_down()).
    pub mc_up: bool,
}

/// Linux IGMP_QUERY_INTERVAL, IGMP_QUERY_RESPONSE_INTERVAL (ms).
pub const IGMP_QUERY_INTERVAL_MS: u64 = 125_000;
pub const IGMP_QUERY_RESPONSE_INTERVAL_MS: u64 = 10_000;

impl McDev {
    /// ip_mc_init_dev() + ip_mc_up(): 224.0.0.1 joined once.
    pub fn new(qrv: u8) -> Self {
        McDev {
            list: vec![IpMcList::new(IGMP_ALL_HOSTS, SfMode::Exclude)],
            tomb: Vec::new(),
            mr_v1_seen: None,
            mr_v2_seen: None,
            mr_qrv: qrv,
            mr_qi: IGMP_QUERY_INTERVAL_MS,
            mr_qri: IGMP_QUERY_RESPONSE_INTERVAL_MS,
            mr_maxdelay: IGMP_QUERY_RESPONSE_INTERVAL_MS,
            mr_ifc_count: 0,
            ifc_timer: None,
            gq_timer: None,
            mc_up: true,
        }
    }

    pub fn find(&self, group: Ipv4Addr) -> Option<&IpMcList> {
        self.list.iter().find(|m| m.multiaddr == group)
    }

    pub fn find_mut(&mut self, group: Ipv4Addr) -> Option<&mut IpMcList> {
        self.list.iter_mut().find(|m| m.multiaddr == group)
    }
}

/// What a multicast timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McTimer {
    /// The interface change timer (`mr_ifc_timer`): v3 change reports.
    Ifc(u32),
    /// The general query timer (`mr_gq_timer`): a v3 current-state report.
    Gq(u32),
    /// A group's report timer (`im->timer`).
    Group(u32, Ipv4Addr),
}

/// A device's own IGMP sysctls (`conf.DEV.*`, Linux `in_dev->cnf`). An interval not set
/// on the device is the stack-wide one (`conf.all.*`, which skiff applies to every
/// device); `force_igmp_version` counts on either level, as in Linux IGMP_V1_SEEN().
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IgmpDevConf {
    pub force_igmp_version: i32,
    pub igmpv2_unsolicited_report_interval: Option<u32>,
    pub igmpv3_unsolicited_report_interval: Option<u32>,
}

/// Every device's multicast state, and their timers.
#[derive(Debug, Default)]
pub struct McState {
    pub devs: BTreeMap<u32, McDev>,
    pub timers: TimerQueue<McTimer>,
    /// The devices' own IGMP sysctls, for those that have any set.
    pub devconf: BTreeMap<u32, IgmpDevConf>,
}

impl McState {
    /// Whether a datagram from `src` to `group` is ours on `ifindex`: the group is joined
    /// there (224.0.0.1 always is) and, unless it is IGMP or has no source, the device's
    /// source filter admits `src`. Linux ip_check_mc_rcu().
    pub fn ip_check_mc(&self, ifindex: u32, group: Ipv4Addr, src: Ipv4Addr, proto: u8) -> bool {
        if group == IGMP_ALL_HOSTS {
            return true;
        }
        let Some(im) = self.devs.get(&ifindex).and_then(|d| d.find(group)) else {
            return false;
        };
        proto == skiff_wire::ipv4::IPPROTO_IGMP || src.is_unspecified() || im.source_allowed(src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
    const S1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const S2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn include_join_then_exclude_join_switches_mode() {
        // One socket includes S1 (IN {S1}), then an any-source socket joins: EX {}.
        let mut m = IpMcList::new(G, SfMode::Include);
        assert!(m.add_src(SfMode::Include, &[S1], true, 2));
        assert_eq!(m.sfmode, SfMode::Include);
        assert!(m.source_allowed(S1) && !m.source_allowed(S2));
        assert!(m.add_src(SfMode::Exclude, &[], false, 2));
        assert_eq!(m.sfmode, SfMode::Exclude);
        assert_eq!(m.crcount, 2);
        assert!(m.source_allowed(S2));
        // The mode change record: TO_EX with no sources (S1 is included by a socket).
        assert_eq!(
            m.add_grec(RecordType::ChangeToExclude, false, false),
            Some((RecordType::ChangeToExclude, vec![]))
        );
    }

    #[test]
    fn exclude_sources_need_every_excluder() {
        let mut m = IpMcList::new(G, SfMode::Exclude);
        // Socket 1 blocks S1: S1 leaves the filter, a BLOCK record is due twice.
        assert!(m.add_src(SfMode::Exclude, &[S1], true, 2));
        assert!(!m.source_allowed(S1));
        let rec = m.add_grec(RecordType::BlockOldSources, false, false);
        assert_eq!(rec, Some((RecordType::BlockOldSources, vec![S1])));
        // A second any-source socket: S1 is allowed again (not excluded by all).
        assert!(m.add_src(SfMode::Exclude, &[], false, 2));
        assert!(m.source_allowed(S1));
        // Removing an uncounted source is ESRCH.
        let (e, _) = m.del_src(SfMode::Exclude, &[S2], true, 2, true);
        assert_eq!(e, Err(crate::errno::Errno::Srch));
        let (e, _) = m.del_src(SfMode::Include, &[], false, 2, true);
        assert_eq!(e, Err(crate::errno::Errno::Inval));
    }
}
