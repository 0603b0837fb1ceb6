//! Multicast membership of sockets: IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP and the
//! per-device group counts the input route reads. Linux net/ipv4/igmp.c ip_mc_join_group(),
//! ip_mc_leave_group(), ip_mc_find_dev(), ip_check_mc_rcu(); sock.c sk_mc_loop().

use super::{IpMreqn, SockError, SockFd};
use crate::route::DstEntry;
use crate::stack::Stack;
use skiff_wire::Ipv4Addr;

/// Linux `net.ipv4.igmp_max_memberships`.
const IGMP_MAX_MEMBERSHIPS: usize = 20;

impl Stack {
    /// sk_mc_loop(): whether the sending socket wants its multicast looped back.
    pub(crate) fn sk_mc_loop(&self, o: crate::skb::SkOwner) -> bool {
        match self.socks.slots.get(o.slot as usize) {
            Some(Some(s)) if s.generation == o.generation => s.mc_loop,
            _ => true,
        }
    }

    /// ip_check_mc_rcu() for output: a multicast route to a group joined on its device
    /// delivers locally too (RTCF_LOCAL).
    pub(crate) fn ip_mc_check_local(&self, dst: &mut DstEntry, daddr: Ipv4Addr) {
        if dst.flags.contains(crate::route::RtFlags::MULTICAST) && self.mc_joined(dst.dev, daddr) {
            dst.flags = dst.flags | crate::route::RtFlags::LOCAL;
            dst.input = crate::route::DstInput::LocalDeliver;
        }
    }

    /// A multicast membership was added on `ifindex`: the input path now accepts the
    /// group there (ip_mc_inc_group()).
    pub(crate) fn mc_group_ref(&mut self, ifindex: u32, group: Ipv4Addr) {
        *self.socks.mc_groups.entry((ifindex, group)).or_insert(0) += 1;
        self.fib.rt_cache_flush();
    }

    pub(crate) fn mc_group_unref(&mut self, ifindex: u32, group: Ipv4Addr) {
        if let Some(n) = self.socks.mc_groups.get_mut(&(ifindex, group)) {
            *n -= 1;
            if *n == 0 {
                self.socks.mc_groups.remove(&(ifindex, group));
            }
        }
        self.fib.rt_cache_flush();
    }

    /// Has some socket joined `group` on `ifindex`?
    pub(crate) fn mc_joined(&self, ifindex: u32, group: Ipv4Addr) -> bool {
        self.socks.mc_groups.contains_key(&(ifindex, group))
    }

    /// IP_ADD_MEMBERSHIP: Linux ip_mc_join_group().
    pub(super) fn ip_mc_join_group(&mut self, fd: SockFd, m: IpMreqn) -> Result<(), SockError> {
        if !m.multiaddr.is_multicast() {
            return Err(SockError::Inval);
        }
        let ifindex = self.ip_mc_find_dev(&m).ok_or(SockError::NoDev)?;
        let s = self.socks.get(fd)?;
        if s.mc_list.contains(&(m.multiaddr, ifindex)) {
            return Err(SockError::AddrInUse);
        }
        if s.mc_list.len() >= IGMP_MAX_MEMBERSHIPS {
            return Err(SockError::NoBufs);
        }
        s.mc_list.push((m.multiaddr, ifindex));
        self.mc_group_ref(ifindex, m.multiaddr);
        Ok(())
    }

    /// IP_DROP_MEMBERSHIP: Linux ip_mc_leave_group().
    pub(super) fn ip_mc_leave_group(&mut self, fd: SockFd, m: IpMreqn) -> Result<(), SockError> {
        let ifindex = self.ip_mc_find_dev(&m).ok_or(SockError::NoDev)?;
        let s = self.socks.get(fd)?;
        let at = s
            .mc_list
            .iter()
            .position(|&(g, i)| g == m.multiaddr && (m.ifindex == 0 || i == ifindex))
            .ok_or(SockError::AddrNotAvail)?;
        let (g, i) = s.mc_list.remove(at);
        self.mc_group_unref(i, g);
        Ok(())
    }

    /// Linux ip_mc_find_dev(): by index, else by local address, else the route to the group.
    fn ip_mc_find_dev(&self, m: &IpMreqn) -> Option<u32> {
        if m.ifindex != 0 {
            return self.dev(m.ifindex).map(|d| d.ifindex);
        }
        if !m.address.is_unspecified() {
            return self
                .fib
                .addrs()
                .find(|a| a.local == m.address)
                .map(|a| a.ifindex);
        }
        self.fib
            .ip_route_output(&crate::route::Flowi4::new(m.multiaddr))
            .ok()
            .map(|d| d.dev)
    }
}
