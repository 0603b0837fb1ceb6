//! The daemon's event loop, run to completion. epoll sleeps on the device queues and
//! SIGINT/SIGTERM, with the stack's next timer as the timeout; a wakeup reads each ready
//! queue in one batch (one NAPI poll) straight into pool skbs, runs the timers and the
//! services, then writes everything the stack transmitted. An idle daemon sleeps until
//! its next timer. One worker thread per queue of a multi-queue device; the control
//! socket has a thread of its own. Netfilter LOG lines go to stderr.

use crate::clock::MonotonicClock;
use crate::epoll::{Epoll, EventFd, ShutdownSignals};
use crate::pcap::{LinkType, PcapWriter};
use crate::tap::{RX_BUF_LEN, RxAt, Tap, VNET_HDR_LEN};
use skiff_core::Stack;
use skiff_core::drop::DropReason;
use skiff_core::netdev::ETH_HLEN;
use skiff_core::offload::virtio::virtio_net_hdr_to_skb;
use skiff_core::shell::{self, RxBatch, TxFrame};
use skiff_core::skb::{ChecksumState, SkBuff};
use skiff_core::socket::{AF_INET, MSG_DONTWAIT, SOCK_DGRAM, SockAddr, SockError, SockFd};
use skiff_core::time::Instant;
use skiff_wire::virtio::{HdrSize, VirtioNetHdr, VirtioNetHdrRepr};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Frames read from one queue per wakeup (Linux NAPI weight).
const NAPI_POLL_WEIGHT: usize = 64;
/// The longest control request (one line).
const CTL_REQUEST_MAX: usize = 4096;
/// How long a control client has to send its request and take its reply.
const CTL_DEADLINE: Duration = Duration::from_secs(1);
/// SIGINT/SIGTERM for the first worker; for the others, the daemon stopping.
const TOKEN_SIGNAL: u64 = 0;
/// The first worker's kick: the control thread changed the stack.
const TOKEN_KICK: u64 = 1;
const TOKEN_PORT: u64 = 2;

/// Answers one control request (one line of text): `Ok(text)` or `Err(message)`. It runs
/// on the control thread, with the stack locked.
pub type CtlHandler<'a> =
    dyn FnMut(&mut Stack, Instant, &str) -> Result<String, String> + Send + 'a;

type Capture = PcapWriter<BufWriter<File>>;

/// What the workers share, behind one lock: the stack and what runs on it.
struct Core {
    stack: Stack,
    echo: UdpEcho,
    pcap: Option<Capture>,
}

/// One queue of one device.
struct Port {
    ifindex: u32,
    tap: Tap,
    /// Detached after a read error (the device went away): no longer polled.
    dead: bool,
}

/// One worker: queue k of every device, its own epoll, and buffers for a poll's frames.
struct Worker {
    epoll: Epoll,
    ports: Vec<Port>,
    hdr: [u8; VNET_HDR_LEN],
    /// Frames read in this poll: (port, header, frame), read straight into pool skbs.
    rx: Vec<(usize, [u8; VNET_HDR_LEN], SkBuff)>,
    /// Empty pool skbs taken under the lock for the reads outside it (one NAPI weight).
    stock: Vec<SkBuff>,
    /// The 64 KiB overflow buffer of a read ([`Tap::read_skb`]).
    spare: Option<SkBuff>,
    /// Frames to write after the lock is released: (port, header, frame).
    tx: Vec<(usize, [u8; VNET_HDR_LEN], SkBuff)>,
}

/// A stack serving TAP/TUN queues, a control socket and UDP echo services. With several
/// queues per device, one worker thread serves queue k of every device (Linux's one
/// queue per CPU); they share the stack behind a lock, reading and writing outside it.
pub struct Daemon {
    core: Arc<Mutex<Core>>,
    clock: MonotonicClock,
    workers: Vec<Worker>,
    ctl: Option<(UnixListener, PathBuf)>,
    signals: ShutdownSignals,
    /// Wakes the first worker (in its epoll) after a control request.
    kick: Arc<EventFd>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    // A worker that panicked left the stack as consistent as any call does.
    core.lock().unwrap_or_else(|e| e.into_inner())
}

impl Worker {
    fn new() -> io::Result<Worker> {
        Ok(Worker {
            epoll: Epoll::new()?,
            ports: Vec::new(),
            hdr: [0; VNET_HDR_LEN],
            rx: Vec::new(),
            stock: Vec::new(),
            spare: None,
            tx: Vec::new(),
        })
    }

    /// One round: read the ready queues, then (under the lock) feed the stack, run
    /// `more` (timers, control: the first worker's), run the services and collect what
    /// the stack sent; then write it, and (under the lock) free it.
    fn poll(
        &mut self,
        core: &Mutex<Core>,
        clock: &MonotonicClock,
        ready: &[u64],
        more: &mut dyn FnMut(&mut Core, Instant),
    ) {
        for &token in ready {
            if let Some(i) = token.checked_sub(TOKEN_PORT) {
                self.read_port(core, i as usize);
            }
        }
        {
            let mut guard = lock(core);
            let c = &mut *guard;
            let now = clock.now();
            self.netif_receive(c, now);
            more(c, now);
            c.echo.poll(&mut c.stack, now);
            self.collect_tx(c);
            Self::refill(&mut self.stock, c);
            // The LOG target's lines, where the kernel's go to its log.
            for line in c.stack.nf.drain_log() {
                eprintln!("{line}");
            }
        }
        if self.tx.is_empty() {
            return;
        }
        let mut chunks = Vec::new();
        let sent: Vec<bool> = self
            .tx
            .iter()
            .map(|(port, h, skb)| {
                chunks.clear();
                chunks.extend(skb.chunks());
                self.ports[*port].tap.write_chunks(Some(h), &chunks).is_ok()
            })
            .collect();
        let mut c = lock(core);
        for ((port, _, skb), ok) in self.tx.drain(..).zip(sent) {
            if ok {
                c.capture(skb);
            } else {
                c.stack.dev_tx_dropped(self.ports[port].ifindex, skb);
            }
        }
    }

    /// Tops the stock of empty pool skbs up to a NAPI weight. A pool skb holds a frame
    /// up to its 2 KiB buffer; a longer (GSO) one goes to the spare, which is sized for
    /// the largest and made only when used, as Linux's tun allocates by length: small
    /// frames never pin 64 KiB each (a socket's receive buffer counts the truesize).
    fn refill(stock: &mut Vec<SkBuff>, c: &mut Core) {
        while stock.len() < NAPI_POLL_WEIGHT {
            match c.stack.alloc_skb(RX_BUF_LEN) {
                Some(skb) => stock.push(skb),
                None => break,
            }
        }
    }

    /// Reads up to a NAPI weight of frames from one queue, without the lock, straight
    /// into pool skbs. Linux tun_do_read() per frame, into the reader's buffers.
    fn read_port(&mut self, core: &Mutex<Core>, i: usize) {
        let Some(port) = self.ports.get(i).filter(|p| !p.dead) else {
            return;
        };
        for _ in 0..NAPI_POLL_WEIGHT {
            if self.stock.is_empty() {
                Self::refill(&mut self.stock, &mut lock(core));
            }
            let Some(mut skb) = self.stock.pop() else {
                // The pool gave nothing: the frames wait in the queue.
                return;
            };
            match port.tap.read_skb(&mut self.hdr, &mut skb, &mut self.spare) {
                Ok(Some(RxAt::Skb)) => self.rx.push((i, self.hdr, skb)),
                Ok(Some(RxAt::Spare)) => {
                    self.stock.push(skb);
                    if let Some(frame) = self.spare.take() {
                        self.rx.push((i, self.hdr, frame));
                    }
                }
                Ok(None) => {
                    self.stock.push(skb);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    self.stock.push(skb);
                    lock(core)
                        .stack
                        .netif_rx_dropped(port.ifindex, DropReason::DevHdr);
                }
                Err(e) => {
                    self.stock.push(skb);
                    eprintln!("skiff: {}: read: {e}; detached", port.tap.name());
                    let _ = self.epoll.delete(port.tap.as_raw_fd());
                    self.ports[i].dead = true;
                    return;
                }
            }
        }
    }

    /// The frames read, into the stack: one batch per queue (one NAPI poll).
    fn netif_receive(&mut self, c: &mut Core, now: Instant) {
        let mut batch = RxBatch::default();
        let mut frames = std::mem::take(&mut self.rx);
        let mut rx = frames.drain(..).peekable();
        while let Some(&(port, _, _)) = rx.peek() {
            let ifindex = self.ports[port].ifindex;
            let vnet = self.ports[port].tap.vnet_hdr();
            let mac_len = if self.ports[port].tap.is_tun() {
                0
            } else {
                ETH_HLEN
            };
            while let Some((_, h, skb)) = rx.next_if(|r| r.0 == port) {
                let hdr = if vnet {
                    match VirtioNetHdr::new_checked(&h[..], HdrSize::V12)
                        .and_then(|h| VirtioNetHdrRepr::parse(&h))
                    {
                        Ok(h) => Some(h),
                        Err(_) => {
                            c.stack.netif_rx_dropped(ifindex, DropReason::DevHdr);
                            c.stack.recycle(skb);
                            continue;
                        }
                    }
                } else {
                    None
                };
                if c.pcap.is_some() {
                    c.capture_rx(hdr.as_ref(), skb.data(), mac_len);
                }
                batch.push_skb(hdr, skb);
            }
            batch.netif_receive(&mut c.stack, now, ifindex);
        }
        drop(rx);
        // Its room, kept for the next poll.
        self.rx = frames;
    }

    /// What the stack transmitted, ready for this worker's queues: behind a virtio-net
    /// header carrying its checksum and GSO metadata when the queue has one
    /// (virtio_net_hdr_from_skb()), else finished in software. A frame for a device this
    /// worker has no queue of is counted as a transmit drop.
    fn collect_tx(&mut self, c: &mut Core) {
        let ports = &self.ports;
        while let Some(tx) = shell::poll_tx(&mut c.stack, |ifindex| {
            let port = ports.iter().position(|p| p.ifindex == ifindex && !p.dead)?;
            Some((port, ports[port].tap.vnet_hdr()))
        }) {
            match tx {
                TxFrame::Vnet(port, hdr, skb) => {
                    let mut h = [0u8; VNET_HDR_LEN];
                    // A 12-byte buffer always holds the header.
                    let _ = VirtioNetHdrRepr {
                        num_buffers: Some(0),
                        ..hdr
                    }
                    .emit(&mut h);
                    self.tx.push((port, h, skb));
                }
                TxFrame::Sw(port, segs) => {
                    for seg in segs {
                        self.tx.push((port, [0; VNET_HDR_LEN], seg));
                    }
                }
                TxFrame::NoDev(ifindex, skb) => c.stack.dev_tx_dropped(ifindex, skb),
            }
        }
    }
}

impl Core {
    /// Records a received frame: as it came, or its software-finished segments.
    fn capture_rx(&mut self, hdr: Option<&VirtioNetHdrRepr>, frame: &[u8], mac_len: usize) {
        if let Some(hdr) = hdr.filter(|h| h.needs_csum || h.gso_size != 0)
            && let Some(mut skb) = self.stack.alloc_skb(frame.len())
        {
            if skb.put_slice(frame).is_ok() && virtio_net_hdr_to_skb(&mut skb, hdr, mac_len).is_ok()
            {
                return self.capture(skb);
            }
            // The stack drops it; the capture shows the frame as it came.
            self.stack.recycle(skb);
        }
        let ts = wall_nanos();
        if let Some(w) = self.pcap.as_mut() {
            let _ = w.write_packet(ts, frame);
        }
    }

    /// Records a frame (or its software-finished segments) and frees it.
    fn capture(&mut self, skb: SkBuff) {
        if self.pcap.is_none() {
            return self.stack.recycle(skb);
        }
        let segs = if skb.gso.is_some() || matches!(skb.ip_summed, ChecksumState::Partial { .. }) {
            self.stack.skb_finish_sw(skb).unwrap_or_default()
        } else {
            vec![skb]
        };
        let ts = wall_nanos();
        for seg in segs {
            if let Some(w) = self.pcap.as_mut() {
                let _ = w.write_packet(ts, &seg.to_contiguous());
            }
            self.stack.recycle(seg);
        }
    }
}

impl Daemon {
    /// Takes over `stack` and its echo services. Blocks SIGINT and SIGTERM in this
    /// thread: they end [`Daemon::run`].
    /// The stack's wall clock is set from the system clock.
    pub fn new(mut stack: Stack, echo: UdpEcho) -> io::Result<Daemon> {
        let clock = MonotonicClock::new();
        stack.set_realtime_offset(clock.realtime_offset());
        let first = Worker::new()?;
        let signals = ShutdownSignals::new()?;
        first.epoll.add(signals.as_raw_fd(), TOKEN_SIGNAL)?;
        let kick = Arc::new(EventFd::new()?);
        first.epoll.add(kick.as_raw_fd(), TOKEN_KICK)?;
        Ok(Daemon {
            core: Arc::new(Mutex::new(Core {
                stack,
                echo,
                pcap: None,
            })),
            clock,
            workers: vec![first],
            ctl: None,
            signals,
            kick,
        })
    }

    /// Runs `f` on the stack (configuration, counters).
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        f(&mut lock(&self.core).stack)
    }

    /// Serves `queues` (one or more queues of one device) as the stack's interface
    /// `ifindex`, with the offloads the first negotiated; queue k goes to worker k.
    pub fn add_port(&mut self, ifindex: u32, queues: Vec<Tap>) -> io::Result<()> {
        if let Some(q) = queues.first() {
            self.with_stack(|s| s.set_features(ifindex, q.features()))
                .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
        }
        for (k, tap) in queues.into_iter().enumerate() {
            if k == self.workers.len() {
                self.workers.push(Worker::new()?);
            }
            let w = &mut self.workers[k];
            w.epoll
                .add(tap.as_raw_fd(), TOKEN_PORT + w.ports.len() as u64)?;
            w.ports.push(Port {
                ifindex,
                tap,
                dead: false,
            });
        }
        Ok(())
    }

    /// Listens for control requests on a Unix socket at `path` (a stale socket file there
    /// is replaced; the file goes when the daemon is dropped).
    pub fn listen_ctl(&mut self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{}: another daemon answers there", path.display()),
            ));
        }
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        self.ctl = Some((l, path.to_path_buf()));
        Ok(())
    }

    /// Records every frame the devices carry, both ways, in a nanosecond pcap: as a device
    /// without offloads would carry them (GSO frames cut, checksums finished). `link` is
    /// Ethernet for TAP devices, raw IP for TUN devices.
    pub fn capture(&mut self, path: &Path, link: LinkType) -> io::Result<()> {
        let w = BufWriter::new(File::create(path)?);
        lock(&self.core).pcap = Some(PcapWriter::new(w, link)?);
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM, whose name it returns. The first worker runs on
    /// this thread, with the timers; the others on their own, and the control socket on
    /// its own too (a slow client never holds up a worker). `ready` runs once every
    /// worker is up.
    pub fn run(
        &mut self,
        ready: impl FnOnce(),
        ctl: &mut CtlHandler<'_>,
    ) -> io::Result<&'static str> {
        let listener = match &self.ctl {
            Some((l, _)) => Some(l.try_clone()?),
            None => None,
        };
        let stop_ctl = EventFd::new()?;
        let (core, clock, kick) = (self.core.clone(), self.clock, self.kick.clone());
        let stop_ctl = &stop_ctl;
        std::thread::scope(|scope| {
            let ctl_thread = match listener {
                Some(l) => Some(
                    std::thread::Builder::new()
                        .name("skiff-ctl".into())
                        .spawn_scoped(scope, move || {
                            serve_ctl(&l, stop_ctl, &core, &clock, &kick, ctl)
                        })?,
                ),
                None => None,
            };
            let r = self.run_workers(ready);
            stop_ctl.signal();
            if let Some(t) = ctl_thread
                && let Ok(Err(e)) = t.join()
            {
                eprintln!("skiff: ctl: {e}");
            }
            r
        })
    }

    fn run_workers(&mut self, ready: impl FnOnce()) -> io::Result<&'static str> {
        self.share_tx_queues()?;
        // Signalled once the first worker returns; never cleared, so every worker sees it.
        let stop = Arc::new(EventFd::new()?);
        let others: Vec<Worker> = self.workers.drain(1..).collect();
        for w in &others {
            w.epoll.add(stop.as_raw_fd(), TOKEN_SIGNAL)?;
        }
        // `ready` waits until every worker runs (its thread named), not only spawned.
        let up = Arc::new(std::sync::Barrier::new(others.len() + 1));
        let threads: Vec<_> = others
            .into_iter()
            .enumerate()
            .map(|(k, mut w)| {
                let (core, clock) = (self.core.clone(), self.clock);
                let up = up.clone();
                std::thread::Builder::new()
                    .name(format!("skiff-q{}", k + 1))
                    .spawn(move || {
                        up.wait();
                        loop {
                            match w.epoll.wait(None) {
                                Ok(ready) if ready.contains(&TOKEN_SIGNAL) => return,
                                Ok(ready) => w.poll(&core, &clock, &ready, &mut |_, _| {}),
                                Err(e) => {
                                    eprintln!("skiff: worker {}: {e}", k + 1);
                                    return;
                                }
                            }
                        }
                    })
            })
            .collect::<io::Result<_>>()?;
        up.wait();
        ready();
        let r = self.run_first();
        stop.signal();
        for t in threads {
            let _ = t.join();
        }
        self.flush_pcap();
        r
    }

    /// A worker sends on every device: where a device has fewer queues than there are
    /// workers, worker k also writes (never reads) its queue k mod n.
    fn share_tx_queues(&mut self) -> io::Result<()> {
        let n = self.workers.len();
        // Queue 0 of every device is the first worker's.
        let devices: Vec<u32> = self.workers[0].ports.iter().map(|p| p.ifindex).collect();
        for ifindex in devices {
            let queues = self
                .workers
                .iter()
                .take_while(|w| w.ports.iter().any(|p| p.ifindex == ifindex))
                .count();
            for k in queues..n {
                let Some(src) = self.workers[k % queues]
                    .ports
                    .iter()
                    .find(|p| p.ifindex == ifindex)
                else {
                    continue;
                };
                let tap = src.tap.try_clone()?;
                self.workers[k].ports.push(Port {
                    ifindex,
                    tap,
                    dead: false,
                });
            }
        }
        Ok(())
    }

    fn run_first(&mut self) -> io::Result<&'static str> {
        let Daemon {
            core,
            clock,
            workers,
            signals,
            kick,
            ..
        } = self;
        let w = &mut workers[0];
        loop {
            let now = clock.now();
            let next = lock(core).stack.poll_timeout();
            let ready = w
                .epoll
                .wait(next.map(|t| t.saturating_duration_since(now)))?;
            if ready.contains(&TOKEN_SIGNAL)
                && let Some(sig) = signals.take()?
            {
                return Ok(if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                });
            }
            if ready.contains(&TOKEN_KICK) {
                kick.clear();
            }
            w.poll(core, clock, &ready, &mut |c, now| {
                if c.stack.poll_timeout().is_some_and(|t| t <= now) {
                    c.stack.handle_timeout(now);
                }
            });
        }
    }

    fn flush_pcap(&mut self) {
        if let Some(w) = lock(&self.core).pcap.as_mut() {
            let _ = w.flush();
        }
    }
}

/// The control thread: answers each connection in turn, one request line, one reply,
/// closed; the reply is `ok` or `error` on its first line, then the text. Only the
/// handler runs under the lock; a client has [`CTL_DEADLINE`] to send its line and take
/// its reply, else it is dropped unanswered. Ends when `stop` is signalled.
fn serve_ctl(
    l: &UnixListener,
    stop: &EventFd,
    core: &Mutex<Core>,
    clock: &MonotonicClock,
    kick: &EventFd,
    handler: &mut CtlHandler<'_>,
) -> io::Result<()> {
    const TOKEN_LISTENER: u64 = 0;
    const TOKEN_STOP: u64 = 1;
    let mut epoll = Epoll::new()?;
    epoll.add(l.as_raw_fd(), TOKEN_LISTENER)?;
    epoll.add(stop.as_raw_fd(), TOKEN_STOP)?;
    loop {
        if epoll.wait(None)?.contains(&TOKEN_STOP) {
            return Ok(());
        }
        while let Ok((conn, _)) = l.accept() {
            let deadline = std::time::Instant::now() + CTL_DEADLINE;
            let Some(line) = read_request(&conn, deadline) else {
                continue;
            };
            let reply = {
                let mut c = lock(core);
                match handler(&mut c.stack, clock.now(), line.trim()) {
                    Ok(text) => format!("ok\n{text}"),
                    Err(msg) => format!("error\n{msg}\n"),
                }
            };
            // The first worker sends what the request queued and re-reads the timers.
            kick.signal();
            let _ = write_reply(&conn, reply.as_bytes(), deadline);
        }
    }
}

/// The request line (up to [`CTL_REQUEST_MAX`] bytes, the end of input ends it too), or
/// `None` when the client did not send it by `deadline` or failed.
fn read_request(mut conn: &UnixStream, deadline: std::time::Instant) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while buf.len() < CTL_REQUEST_MAX && !buf.contains(&b'\n') {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        conn.set_read_timeout(Some(left)).ok()?;
        let want = chunk.len().min(CTL_REQUEST_MAX - buf.len());
        match conn.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(chunk.get(..n)?),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    buf.truncate(end);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Writes the reply by `deadline`.
fn write_reply(
    mut conn: &UnixStream,
    mut reply: &[u8],
    deadline: std::time::Instant,
) -> io::Result<()> {
    while !reply.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        conn.set_write_timeout(Some(left))?;
        match conn.write(reply) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => reply = reply.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.flush_pcap();
        if let Some((_, path)) = self.ctl.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The wall clock in nanoseconds since the Unix epoch, for pcap records.
fn wall_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// UDP echo services, through the stack's own sockets: every datagram goes back to where
/// it came from.
#[derive(Debug, Default)]
pub struct UdpEcho {
    fds: Vec<SockFd>,
    buf: Vec<u8>,
}

impl UdpEcho {
    /// A service on `addr` (non-blocking socket, bound).
    pub fn add(&mut self, stack: &mut Stack, addr: SocketAddrV4) -> Result<(), SockError> {
        let fd = stack.socket(AF_INET, SOCK_DGRAM, 0)?;
        let bound = stack
            .bind(fd, SockAddr::Inet(addr))
            .and_then(|()| stack.set_nonblocking(fd, true));
        if let Err(e) = bound {
            let _ = stack.close(fd);
            return Err(e);
        }
        self.fds.push(fd);
        self.buf.resize(65536, 0);
        Ok(())
    }

    /// Answers every datagram waiting.
    pub fn poll(&mut self, stack: &mut Stack, now: Instant) {
        for &fd in &self.fds {
            while let Ok((n, from)) = stack.recv_from(fd, &mut self.buf, MSG_DONTWAIT) {
                // A send error (EAGAIN, EMSGSIZE, no route) loses the reply, as with any
                // echo server; the stack has counted it.
                let _ = stack.sendto(
                    now,
                    fd,
                    &self.buf[..n],
                    MSG_DONTWAIT,
                    Some(SockAddr::Inet(from)),
                );
            }
        }
    }
}
