//! The socket table: descriptors and the UDP port hash. Linux net/ipv4/udp.c `udp_table`,
//! udp_lib_get_port(), udp_lib_lport_inuse(), udp_ehashfn(), and the fd table of
//! fs/file.c.

use super::{Kind, SockError, Socket};
use crate::rand::Prng;
use core::fmt;
use skiff_wire::Ipv4Addr;

/// A socket descriptor, valid until [`Stack::close`](crate::stack::Stack::close).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockFd(pub(crate) u32);

impl SockFd {
    /// The descriptor's number.
    pub fn as_raw(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SockFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "socket {}", self.0)
    }
}

/// Linux `udp_table`: bound UDP sockets hashed by local port into a fixed number of
/// slots, each a short list, most recently bound first.
#[derive(Debug)]
pub(crate) struct UdpTable {
    slots: Vec<Vec<(u32, u32)>>,
}

/// Slots in the UDP table (Linux sizes it from memory; 256 is its minimum).
const UDP_HTABLE_SIZE: usize = 256;

impl UdpTable {
    fn new() -> UdpTable {
        UdpTable {
            slots: vec![Vec::new(); UDP_HTABLE_SIZE],
        }
    }

    fn key(lite: bool, port: u16) -> u32 {
        u32::from(lite) << 16 | u32::from(port)
    }

    fn slot(&self, port: u16) -> &Vec<(u32, u32)> {
        &self.slots[usize::from(port) % UDP_HTABLE_SIZE]
    }

    /// The sockets bound to `port`, most recently bound first.
    pub(crate) fn bound(&self, lite: bool, port: u16) -> impl DoubleEndedIterator<Item = u32> + '_ {
        let key = UdpTable::key(lite, port);
        self.slot(port)
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|&(_, s)| s)
    }

    fn insert(&mut self, lite: bool, port: u16, sock: u32) {
        let key = UdpTable::key(lite, port);
        self.slots[usize::from(port) % UDP_HTABLE_SIZE].insert(0, (key, sock));
    }

    fn remove(&mut self, lite: bool, port: u16, sock: u32) {
        let key = UdpTable::key(lite, port);
        self.slots[usize::from(port) % UDP_HTABLE_SIZE].retain(|&e| e != (key, sock));
    }
}

/// The socket table: descriptors, the UDP port hash (Linux `udp_table`) and the raw
/// sockets in creation order (`raw_v4_hashinfo`).
#[derive(Debug)]
pub(crate) struct Sockets {
    pub slots: Vec<Option<Socket>>,
    generation: u32,
    pub ports: UdpTable,
    pub raw: Vec<u32>,
    /// The protocols `raw` has a socket of, one bit each: a packet of any other protocol
    /// skips the walk (Linux finds raw sockets by protocol in `raw_v4_hashinfo`).
    raw_protos: [u64; 4],
    /// Raw sockets with IP_ROUTER_ALERT, in the order they asked (Linux `ra_chain`).
    pub ra_chain: Vec<u32>,
    pub rng: Prng,
    /// Keys the reuseport flow hash.
    pub hash_key: [u64; 4],
    /// Sockets connected to a peer: early demux looks for one only when there is one.
    pub connected: usize,
}

impl Sockets {
    pub(crate) fn new(rng: &mut Prng) -> Sockets {
        let mut fork = rng.fork();
        // Keyed the membership table that moved to ipv4/mc_list.rs; still drawn so the
        // stream (and every key after it) stays as it was.
        let _ = fork.hash_keys();
        Sockets {
            slots: Vec::new(),
            generation: 0,
            ports: UdpTable::new(),
            raw: Vec::new(),
            raw_protos: [0; 4],
            connected: 0,
            ra_chain: Vec::new(),
            hash_key: fork.hash_keys(),
            rng: fork,
        }
    }

    pub(crate) fn get(&mut self, fd: SockFd) -> Result<&mut Socket, SockError> {
        self.slots
            .get_mut(fd.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(SockError::BadFd)
    }

    pub(crate) fn get_ref(&self, fd: SockFd) -> Result<&Socket, SockError> {
        self.slots
            .get(fd.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(SockError::BadFd)
    }

    /// The socket in `slot`, which the tables only hold while it is open.
    /// Adds a raw socket of `protocol`, after those created before it.
    pub(crate) fn raw_hash(&mut self, fd: SockFd, protocol: u8) {
        self.raw.push(fd.0);
        self.raw_protos[usize::from(protocol >> 6)] |= 1 << (protocol & 63);
    }

    /// Removes a raw socket.
    pub(crate) fn raw_unhash(&mut self, fd: SockFd) {
        self.raw.retain(|&i| i != fd.0);
        let mut protos = [0u64; 4];
        for &i in &self.raw {
            if let Some(Some(s)) = self.slots.get(i as usize) {
                protos[usize::from(s.protocol >> 6)] |= 1 << (s.protocol & 63);
            }
        }
        self.raw_protos = protos;
    }

    /// Is there a raw socket of `protocol`?
    #[inline]
    pub(crate) fn raw_has(&self, protocol: u8) -> bool {
        self.raw_protos[usize::from(protocol >> 6)] & (1 << (protocol & 63)) != 0
    }

    pub(crate) fn slot(&mut self, slot: u32) -> &mut Socket {
        self.slots[slot as usize]
            .as_mut()
            .expect("the tables only name open sockets")
    }

    pub(super) fn insert(&mut self, s: Socket) -> SockFd {
        match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(s);
                SockFd(i as u32)
            }
            None => {
                self.slots.push(Some(s));
                SockFd(self.slots.len() as u32 - 1)
            }
        }
    }

    pub(super) fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    /// Removes the socket from the port hash (udp_lib_unhash()).
    pub(crate) fn unhash(&mut self, fd: SockFd) {
        let Ok(s) = self.get_ref(fd) else { return };
        let (lite, port) = (s.kind == Kind::UdpLite, s.num);
        self.ports.remove(lite, port, fd.0);
    }

    /// Linux udp_lib_lport_inuse(): would `fd` bound to (`addr`, `port`) clash with another
    /// socket? Both SO_REUSEADDR, or both SO_REUSEPORT, share a port.
    fn lport_inuse(&self, fd: SockFd, lite: bool, addr: Ipv4Addr, port: u16) -> bool {
        let Some(s) = self.slots[fd.0 as usize].as_ref() else {
            return false;
        };
        self.ports.bound(lite, port).any(|i| {
            let Some(o) = self.slots[i as usize].as_ref() else {
                return false;
            };
            i != fd.0
                && (!o.reuseaddr || !s.reuseaddr)
                && (o.bound_dev_if == 0 || s.bound_dev_if == 0 || o.bound_dev_if == s.bound_dev_if)
                && (o.rcv_saddr.is_unspecified() || addr.is_unspecified() || o.rcv_saddr == addr)
                && !(o.reuseport && s.reuseport)
        })
    }

    /// Linux udp_lib_get_port(): binds `fd` to `port`, or to a free port of
    /// `ip_local_port_range` from a random start when `port` is 0.
    pub(crate) fn get_port(
        &mut self,
        fd: SockFd,
        addr: Ipv4Addr,
        port: u16,
        range: (u16, u16),
    ) -> Result<u16, SockError> {
        let lite = self.get_ref(fd)?.kind == Kind::UdpLite;
        let port = if port != 0 {
            if self.lport_inuse(fd, lite, addr, port) {
                return Err(SockError::AddrInUse);
            }
            port
        } else {
            let (low, high) = range;
            let remaining = u32::from(high.saturating_sub(low)) + 1;
            let start = self.rng.below(remaining);
            (0..remaining)
                .map(|i| low + ((start + i) % remaining) as u16)
                .find(|&p| !self.lport_inuse(fd, lite, addr, p))
                .ok_or(SockError::AddrInUse)?
        };
        let s = self.get(fd)?;
        s.num = port;
        s.rcv_saddr = addr;
        self.ports.insert(lite, port, fd.0);
        Ok(port)
    }

    /// The reuseport flow hash of a received datagram (Linux udp_ehashfn()).
    pub(crate) fn ehashfn(&self, saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr, dport: u16) -> u32 {
        fn mix(a: u64, b: u64) -> u64 {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        }
        let k = &self.hash_key;
        let addrs = u64::from(u32::from(saddr)) << 32 | u64::from(u32::from(daddr));
        let ports = u64::from(sport) << 16 | u64::from(dport);
        (mix(mix(addrs ^ k[0], k[1]) ^ ports ^ k[2], k[3]) >> 32) as u32
    }
}
