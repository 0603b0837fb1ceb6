//! A running stack shared by threads and tasks, and the blocking socket API over it.
//!
//! [`NetStack`] owns a [`Stack`] behind a mutex, with a driver thread that feeds the
//! attached devices into it, drains what it transmits and runs its timers. Socket calls
//! lock it, run the core's non-blocking call, then push any frames out and wake waiters.
//! [`UdpSocket`] mirrors `std::net::UdpSocket`; `crate::tokio::UdpSocket` mirrors
//! `tokio::net::UdpSocket` over the same stack.

use crate::clock::MonotonicClock;
use crate::epoll::{Epoll, EventFd};
use skiff_core::Stack;
use skiff_core::shell::{self, RxBatch, TxFrame};
use skiff_core::socket::{
    AF_INET, IpMreqn, MSG_DONTWAIT, MSG_PEEK, RecvMsg, SOCK_DGRAM, SendMsg, SockError, SockFd,
    SockOpt, SockOptName,
};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

pub use crate::device::{Device, PairDevice, pair};

pub(crate) struct State {
    pub stack: Stack,
    devices: Vec<Attached>,
    /// When the driver wakes next for the stack's timers (`None`: only on events); a call
    /// that arms an earlier timer kicks it.
    planned: Option<skiff_core::time::Instant>,
}

struct Attached {
    ifindex: u32,
    dev: Box<dyn Device>,
    /// A receive error other than a bad frame (the device went away): no longer read.
    dead: bool,
    /// Its descriptor is in the driver's epoll.
    watched: bool,
}

impl State {
    /// Hands every queued frame to its device: with its virtio-net header
    /// (virtio_net_hdr_from_skb()) when the device has one, else finished in software.
    /// Every skb goes back to the pool once written.
    fn flush_tx(&mut self) {
        let devices = &mut self.devices;
        while let Some(tx) = shell::poll_tx(&mut self.stack, |ifindex| {
            let d = devices.iter().position(|a| a.ifindex == ifindex)?;
            Some((d, devices[d].dev.has_vnet_hdr()))
        }) {
            // A device error loses the frame, as a failed transmit does.
            match tx {
                TxFrame::Vnet(d, hdr, skb) => {
                    let _ = devices[d].dev.send_vnet(&hdr, &skb.to_contiguous());
                    self.stack.recycle(skb);
                }
                TxFrame::Sw(d, segs) => {
                    for seg in segs {
                        let _ = devices[d].dev.send(&seg.to_contiguous());
                        self.stack.recycle(seg);
                    }
                }
                TxFrame::NoDev(_, skb) => self.stack.recycle(skb),
            }
        }
    }

    /// Receives what the devices have, one batch per device (one NAPI poll, so GRO can
    /// merge); returns whether anything arrived. A device that fails is marked dead.
    fn pump_rx(&mut self, now: skiff_core::time::Instant) -> bool {
        let mut got = false;
        let mut batch = RxBatch::default();
        for a in &mut self.devices {
            if a.dead {
                continue;
            }
            // A bounded batch per device per round keeps the lock fair.
            for _ in 0..NAPI_POLL_WEIGHT {
                match a.dev.recv(&mut self.stack) {
                    Ok(Some((hdr, skb))) => batch.push_skb(hdr, skb),
                    Ok(None) => break,
                    // A frame lost (bad header), or no buffer: try again next round.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::InvalidData | io::ErrorKind::OutOfMemory
                        ) =>
                    {
                        break;
                    }
                    Err(_) => {
                        a.dead = true;
                        break;
                    }
                }
            }
            got |= batch.netif_receive(&mut self.stack, now, a.ifindex);
        }
        got
    }
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub changed: Condvar,
    pub notify: tokio::sync::Notify,
    pub clock: MonotonicClock,
    /// Wakes the driver from its epoll.
    kick: Arc<EventFd>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another holder leaves the stack as consistent as any call does.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a call that may have changed sockets: frames out, waiters woken, and the
    /// driver kicked when the call armed a timer earlier than its wakeup.
    pub(crate) fn after(&self, state: &mut State) {
        state.flush_tx();
        if let Some(t) = state.stack.poll_timeout()
            && state.planned.is_none_or(|p| t < p)
        {
            state.planned = Some(t);
            self.kick.signal();
        }
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    /// Runs a core call with the stack's clock.
    pub(crate) fn call<R>(&self, f: impl FnOnce(&mut Stack, skiff_core::time::Instant) -> R) -> R {
        let mut st = self.lock();
        let now = self.clock.now();
        let r = f(&mut st.stack, now);
        self.after(&mut st);
        r
    }
}

impl Drop for Shared {
    /// The last handle went: the driver wakes to see it and ends.
    fn drop(&mut self) {
        self.kick.signal();
    }
}

/// A stack running on its own driver thread, shared by every socket made from it.
/// Cloning gives another handle to the same stack.
#[derive(Clone)]
pub struct NetStack {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for NetStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetStack").finish_non_exhaustive()
    }
}

/// How often the driver polls a device that has no descriptor to sleep on.
const DEVICE_POLL: Duration = Duration::from_millis(1);
/// Frames received from one device per round (Linux NAPI weight).
const NAPI_POLL_WEIGHT: usize = 64;
/// The driver's epoll token of its kick; device k is `TOKEN_DEV + k`.
const TOKEN_KICK: u64 = 0;
const TOKEN_DEV: u64 = 1;

impl NetStack {
    /// Runs `stack` in process: its timers fire on a driver thread, and traffic between
    /// its own addresses (loopback) needs nothing else.
    /// The stack's wall clock is set from the system clock.
    ///
    /// # Panics
    /// When the system gives no epoll, eventfd or thread.
    pub fn new(mut stack: Stack) -> NetStack {
        let clock = MonotonicClock::new();
        stack.set_realtime_offset(clock.realtime_offset());
        let kick = Arc::new(EventFd::new().expect("an eventfd for the driver"));
        let epoll = Epoll::new().expect("an epoll for the driver");
        epoll
            .add(kick.as_raw_fd(), TOKEN_KICK)
            .expect("epoll takes an eventfd");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stack,
                devices: Vec::new(),
                planned: None,
            }),
            changed: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            clock,
            kick: kick.clone(),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("skiff-driver".into())
            .spawn(move || drive(weak, epoll, kick))
            .expect("a thread can be spawned");
        NetStack { shared }
    }

    /// Attaches a device to the stack's interface `ifindex`: the driver receives its frames
    /// and sends it what the stack transmits there.
    pub fn attach(&self, ifindex: u32, device: Box<dyn Device>) {
        let mut st = self.shared.lock();
        if let Some(f) = device.features() {
            // An unknown ifindex is the caller's mistake; the device then serves nothing.
            let _ = st.stack.set_features(ifindex, f);
        }
        st.devices.push(Attached {
            ifindex,
            dev: device,
            dead: false,
            watched: false,
        });
        self.shared.kick.signal();
    }

    /// Runs `f` on the stack (configuration, counters), then sends what it queued.
    pub fn with<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        self.shared.call(|s, _| f(s))
    }

    /// The stack's clock now.
    pub fn now(&self) -> skiff_core::time::Instant {
        self.shared.clock.now()
    }
}

/// The driver: devices in, timers, frames out, then sleep in epoll until a device is
/// readable, a call kicks it or the stack's next timer is due.
fn drive(weak: Weak<Shared>, mut epoll: Epoll, kick: Arc<EventFd>) {
    // Devices whose descriptor is in the epoll (they are only ever appended).
    let mut registered = 0;
    let mut poll_some = false;
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let wait = {
            let mut st = shared.lock();
            kick.clear();
            while let Some(a) = st.devices.get_mut(registered) {
                match a.dev.ready_fd() {
                    Some(fd) if epoll.add(fd, TOKEN_DEV + registered as u64).is_ok() => {
                        a.watched = true;
                    }
                    _ => poll_some = true,
                }
                registered += 1;
            }
            let now = shared.clock.now();
            let mut changed = st.pump_rx(now);
            for a in st.devices.iter_mut().filter(|a| a.dead && a.watched) {
                if let Some(fd) = a.dev.ready_fd() {
                    // An error: already gone from the epoll with its descriptor.
                    let _ = epoll.delete(fd);
                }
                a.watched = false;
            }
            if st.stack.poll_timeout().is_some_and(|t| t <= now) {
                st.stack.handle_timeout(now);
                changed = true;
            }
            st.flush_tx();
            if changed {
                shared.changed.notify_all();
                shared.notify.notify_waiters();
            }
            let next = st.stack.poll_timeout();
            st.planned = next;
            let wait = next.map(|t| t.saturating_duration_since(now));
            if poll_some {
                Some(wait.map_or(DEVICE_POLL, |w| w.min(DEVICE_POLL)))
            } else {
                wait
            }
        };
        drop(shared);
        if epoll.wait(wait).is_err() {
            // No epoll to sleep in (cannot happen with a valid descriptor): poll.
            std::thread::sleep(DEVICE_POLL);
        }
    }
}

/// Resolves an address the way std does, keeping the first IPv4 one.
pub(crate) fn to_v4(addr: impl ToSocketAddrs) -> io::Result<SocketAddrV4> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match a {
            SocketAddr::V4(v4) => return Ok(v4),
            SocketAddr::V6(_) => last = Some(SockError::AfNoSupport),
        }
    }
    Err(last.unwrap_or(SockError::Inval).into())
}

/// A UDP socket on a [`NetStack`], with the methods of `std::net::UdpSocket`. Calls block
/// unless the socket is non-blocking; timeouts come from SO_RCVTIMEO / SO_SNDTIMEO.
///
/// ```
/// use skiff_io::net::{NetStack, UdpSocket};
/// use skiff_core::{Stack, StackConfig};
///
/// # fn main() -> std::io::Result<()> {
/// let net = NetStack::new(Stack::new(StackConfig::default()));
/// let server = UdpSocket::bind(&net, "127.0.0.1:9000")?;
/// let client = UdpSocket::bind(&net, "127.0.0.1:0")?;
/// client.connect("127.0.0.1:9000")?;
/// client.send(b"ping")?;
///
/// let mut buf = [0u8; 1500];
/// let (n, from) = server.recv_from(&mut buf)?;
/// server.send_to(&buf[..n], from)?;
/// assert_eq!(client.recv(&mut buf)?, 4);
/// assert_eq!(&buf[..4], b"ping");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    pub(crate) net: NetStack,
    pub(crate) fd: SockFd,
}

impl UdpSocket {
    /// socket() + bind().
    pub fn bind(net: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addr = to_v4(addr)?;
        let sock = UdpSocket::unbound(net)?;
        net.shared.call(|s, _| s.bind(sock.fd, addr.into()))?;
        Ok(sock)
    }

    /// socket() alone: set options, then bind, connect or send (which binds a port).
    pub fn unbound(net: &NetStack) -> io::Result<UdpSocket> {
        let fd = net.shared.call(|s, _| s.socket(AF_INET, SOCK_DGRAM, 0))?;
        Ok(UdpSocket {
            net: net.clone(),
            fd,
        })
    }

    /// The descriptor in the core stack.
    pub fn fd(&self) -> SockFd {
        self.fd
    }

    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = to_v4(addr)?;
        Ok(self
            .net
            .shared
            .call(|s, _| s.connect(self.fd, addr.into()))?)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.net.shared.call(|s, _| s.local_addr(self.fd))?.into())
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.net.shared.call(|s, _| s.peer_addr(self.fd))?.into())
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sendmsg(&SendMsg {
            data: buf,
            ..SendMsg::default()
        })
    }

    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = to_v4(addr)?;
        self.sendmsg(&SendMsg {
            data: buf,
            addr: Some(addr.into()),
            ..SendMsg::default()
        })
    }

    /// sendmsg() with flags and typed control messages; waits for send buffer room.
    pub fn sendmsg(&self, msg: &SendMsg<'_>) -> io::Result<usize> {
        let nonblock = msg.flags & MSG_DONTWAIT != 0;
        self.wait(nonblock, SockOptName::SndTimeo, |s, now| {
            s.sendmsg(now, self.fd, msg)
        })
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recvmsg(buf, 0).map(|m| m.len)
    }

    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recvmsg(buf, 0).map(with_addr)
    }

    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recvmsg(buf, MSG_PEEK).map(|m| m.len)
    }

    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recvmsg(buf, MSG_PEEK).map(with_addr)
    }

    /// recvmsg() with flags (MSG_PEEK, MSG_TRUNC, MSG_ERRQUEUE, MSG_DONTWAIT) and the
    /// control messages the socket asked for; waits for a datagram.
    pub fn recvmsg(&self, buf: &mut [u8], flags: u32) -> io::Result<RecvMsg> {
        let nonblock = flags & MSG_DONTWAIT != 0;
        self.wait(nonblock, SockOptName::RcvTimeo, |s, _| {
            s.recvmsg(self.fd, buf, flags)
        })
    }

    /// Runs `f` until it stops saying EAGAIN, unless the call or socket is non-blocking;
    /// a timeout set with SO_RCVTIMEO/SO_SNDTIMEO ends the wait with `WouldBlock`.
    fn wait<R>(
        &self,
        nonblock: bool,
        timeo: SockOptName,
        mut f: impl FnMut(&mut Stack, skiff_core::time::Instant) -> Result<R, SockError>,
    ) -> io::Result<R> {
        let shared = &self.net.shared;
        let mut st = shared.lock();
        let nonblock = nonblock || st.stack.is_nonblocking(self.fd)?;
        let micros = st.stack.getsockopt(self.fd, timeo)?;
        let deadline =
            (micros > 0).then(|| std::time::Instant::now() + Duration::from_micros(micros as u64));
        loop {
            let now = shared.clock.now();
            let res = f(&mut st.stack, now);
            shared.after(&mut st);
            match res {
                Err(SockError::Again) if !nonblock => {}
                other => return Ok(other?),
            }
            st = match deadline {
                None => shared.changed.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(SockError::Again.into());
                    }
                    shared
                        .changed
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        Ok(self
            .net
            .shared
            .call(|s, _| s.set_nonblocking(self.fd, on))?)
    }

    /// setsockopt() with any option.
    pub fn setsockopt(&self, opt: SockOpt) -> io::Result<()> {
        Ok(self.net.shared.call(|s, _| s.setsockopt(self.fd, opt))?)
    }

    /// getsockopt() with any option.
    pub fn getsockopt(&self, name: SockOptName) -> io::Result<i64> {
        Ok(self.net.shared.call(|s, _| s.getsockopt(self.fd, name))?)
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.setsockopt(SockOpt::RcvTimeo(t))
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.setsockopt(SockOpt::SndTimeo(t))
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        let us = self.getsockopt(SockOptName::RcvTimeo)?;
        Ok((us > 0).then(|| Duration::from_micros(us as u64)))
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        let us = self.getsockopt(SockOptName::SndTimeo)?;
        Ok((us > 0).then(|| Duration::from_micros(us as u64)))
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.setsockopt(SockOpt::Ttl(i32::try_from(ttl).unwrap_or(i32::MAX)))
    }

    pub fn ttl(&self) -> io::Result<u32> {
        Ok(self.getsockopt(SockOptName::Ttl)? as u32)
    }

    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.setsockopt(SockOpt::Broadcast(on))
    }

    pub fn broadcast(&self) -> io::Result<bool> {
        Ok(self.getsockopt(SockOptName::Broadcast)? != 0)
    }

    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.setsockopt(SockOpt::MulticastLoop(on))
    }

    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.setsockopt(SockOpt::MulticastTtl(
            i32::try_from(ttl).unwrap_or(i32::MAX),
        ))
    }

    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.setsockopt(SockOpt::AddMembership(mreq(group, interface)))
    }

    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.setsockopt(SockOpt::DropMembership(mreq(group, interface)))
    }

    /// SO_ERROR: the pending error, cleared.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let e = self.getsockopt(SockOptName::Error)?;
        Ok((e != 0).then(|| io::Error::from_raw_os_error(e as i32)))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // close() of a descriptor this handle owns cannot fail.
        let _ = self.net.shared.call(|s, _| s.close(self.fd));
    }
}

fn with_addr(m: RecvMsg) -> (usize, SocketAddr) {
    let addr = m
        .addr
        .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    (m.len, addr.into())
}

fn mreq(group: &Ipv4Addr, interface: &Ipv4Addr) -> IpMreqn {
    IpMreqn {
        multiaddr: *group,
        address: *interface,
        ifindex: 0,
    }
}

/// std refuses a zero timeout with InvalidInput.
fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t.is_some_and(|d| d.is_zero()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::StackConfig;
    use skiff_wire::ethernet::EthernetAddress;

    #[test]
    fn blocking_recv_waits_for_another_thread_and_times_out() {
        let net = NetStack::new(Stack::new(StackConfig::default()));
        let rx = UdpSocket::bind(&net, "127.0.0.1:7000").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 16];
        let t = std::time::Instant::now();
        let e = rx.recv(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(t.elapsed() >= Duration::from_millis(50));
        rx.set_read_timeout(None).unwrap();
        let net2 = net.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let tx = UdpSocket::bind(&net2, "127.0.0.1:0").unwrap();
            tx.send_to(b"late", "127.0.0.1:7000").unwrap();
        });
        assert_eq!(rx.recv(&mut buf).unwrap(), 4);
        sender.join().unwrap();
        rx.set_nonblocking(true).unwrap();
        assert_eq!(
            rx.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn errors_carry_the_errno() {
        let net = NetStack::new(Stack::new(StackConfig::default()));
        let a = UdpSocket::bind(&net, "127.0.0.1:7001").unwrap();
        let e = UdpSocket::bind(&net, "127.0.0.1:7001").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(e.raw_os_error(), Some(98));
        let e = UdpSocket::bind(&net, "[::1]:0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(97));
        a.connect("127.0.0.1:7002").unwrap();
        a.send(b"x").unwrap();
        let e = a.send(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err());
    }

    /// Stacks A (10.`net`.0.1/24) and B (10.`net`.0.2/24) joined by an in-memory cable,
    /// each on its own driver thread.
    fn cabled(net: u8) -> (NetStack, NetStack) {
        let (da, db) = pair();
        let mk = |n: u8, dev: PairDevice| {
            let mut s = Stack::new(StackConfig::default());
            let eth = s
                .add_device("eth0", EthernetAddress([2, 0, 0, 0, 0, n]), 1500)
                .unwrap();
            s.set_up(eth, true).unwrap();
            s.add_addr(eth, Ipv4Addr::new(10, net, 0, n), 24).unwrap();
            let stack = NetStack::new(s);
            stack.attach(eth, Box::new(dev));
            stack
        };
        (mk(1, da), mk(2, db))
    }

    /// Two stacks joined by an in-memory cable, each on its own driver thread.
    #[test]
    fn device_backed_stacks_talk_over_a_cable() {
        let (a, b) = cabled(7);
        let server = UdpSocket::bind(&b, "0.0.0.0:5000").unwrap();
        let client = UdpSocket::bind(&a, "0.0.0.0:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // 8000 bytes: fragmented by A, reassembled by B, after ARP resolves.
        let data: Vec<u8> = (0..8000u32).map(|i| i as u8).collect();
        client.send_to(&data, "10.7.0.2:5000").unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &data[..]);
        assert_eq!(from.ip(), std::net::IpAddr::V4(Ipv4Addr::new(10, 7, 0, 1)));
        server.send_to(&buf[..n], from).unwrap();
        let (m, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..m], &data[..]);
    }

    /// Blocking calls return as soon as their packet is processed, not on a polling
    /// tick: 1000 echo round trips over a cable between two driver threads take well
    /// under the second a 1 ms tick (or two per trip) would cost.
    #[test]
    fn blocking_recv_wakes_on_the_packet_not_a_tick() {
        let (a, b) = cabled(8);
        let server = UdpSocket::bind(&b, "0.0.0.0:5000").unwrap();
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            server
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            for _ in 0..1001 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind(&a, "0.0.0.0:0").unwrap();
        client.connect("10.8.0.2:5000").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 64];
        // The first trip resolves ARP.
        client.send(b"warm").unwrap();
        assert_eq!(client.recv(&mut buf).unwrap(), 4);
        let fresh = |n: &NetStack| n.with(|s| s.pool().stats().fresh);
        let before = (fresh(&a), fresh(&b));
        let start = std::time::Instant::now();
        for i in 0..1000u32 {
            client.send(&i.to_be_bytes()).unwrap();
            assert_eq!(client.recv(&mut buf).unwrap(), 4);
            assert_eq!(buf[..4], i.to_be_bytes());
        }
        let took = start.elapsed();
        echo.join().unwrap();
        assert!(
            took < Duration::from_millis(500),
            "1000 round trips took {took:?}"
        );
        // Every frame received went into a pool buffer, and every one sent went back.
        assert_eq!((fresh(&a), fresh(&b)), before, "steady traffic allocated");
    }
}
