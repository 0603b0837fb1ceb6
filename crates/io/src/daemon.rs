//! The daemon's event loop: one thread, run to completion. epoll sleeps on the device
//! queues, the control socket and SIGINT/SIGTERM, with the stack's next timer as the
//! timeout; a wakeup reads each ready queue in one batch (one NAPI poll), runs the timers
//! and the services, then writes everything the stack transmitted. An idle daemon sleeps
//! until its next timer. Netfilter LOG lines go to stderr.

use crate::clock::MonotonicClock;
use crate::epoll::{Epoll, ShutdownSignals};
use crate::pcap::{LinkType, PcapWriter};
use crate::tap::{MAX_FRAME, Tap, VNET_HDR_LEN};
use skiff_core::Stack;
use skiff_core::drop::DropReason;
use skiff_core::netdev::ETH_HLEN;
use skiff_core::offload::virtio::{virtio_net_hdr_from_skb, virtio_net_hdr_to_skb};
use skiff_core::skb::{ChecksumState, SkBuff};
use skiff_core::socket::{AF_INET, MSG_DONTWAIT, SOCK_DGRAM, SockAddr, SockError, SockFd};
use skiff_core::time::Instant;
use skiff_wire::virtio::{HdrSize, VirtioNetHdr, VirtioNetHdrRepr};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Frames read from one queue per wakeup (Linux NAPI weight).
const NAPI_POLL_WEIGHT: usize = 64;
/// The longest control request (one line).
const CTL_REQUEST_MAX: u64 = 4096;

const TOKEN_SIGNAL: u64 = 0;
const TOKEN_CTL: u64 = 1;
const TOKEN_PORT: u64 = 2;

/// Answers one control request (one line of text): `Ok(text)` or `Err(message)`.
pub type CtlHandler<'a> = dyn FnMut(&mut Stack, Instant, &str) -> Result<String, String> + 'a;

struct Port {
    ifindex: u32,
    tap: Tap,
    /// Detached after a read error (the device went away): no longer polled.
    dead: bool,
}

/// A stack serving TAP/TUN queues, a control socket and UDP echo services.
pub struct Daemon {
    pub stack: Stack,
    clock: MonotonicClock,
    ports: Vec<Port>,
    pub echo: UdpEcho,
    ctl: Option<(UnixListener, PathBuf)>,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    epoll: Epoll,
    signals: ShutdownSignals,
    hdr: [u8; VNET_HDR_LEN],
    frame: Vec<u8>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

impl Daemon {
    /// Takes over `stack`. Blocks SIGINT and SIGTERM in this thread: they end [`Daemon::run`].
    pub fn new(stack: Stack) -> io::Result<Daemon> {
        let epoll = Epoll::new()?;
        let signals = ShutdownSignals::new()?;
        epoll.add(signals.as_raw_fd(), TOKEN_SIGNAL)?;
        Ok(Daemon {
            stack,
            clock: MonotonicClock::new(),
            ports: Vec::new(),
            echo: UdpEcho::default(),
            ctl: None,
            pcap: None,
            epoll,
            signals,
            hdr: [0; VNET_HDR_LEN],
            frame: vec![0; MAX_FRAME],
        })
    }

    /// The stack's clock now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Serves `tap` as the stack's interface `ifindex`, with the offloads it negotiated.
    pub fn add_port(&mut self, ifindex: u32, tap: Tap) -> io::Result<()> {
        self.stack
            .set_features(ifindex, tap.features())
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
        let token = TOKEN_PORT + self.ports.len() as u64;
        self.epoll.add(tap.as_raw_fd(), token)?;
        self.ports.push(Port {
            ifindex,
            tap,
            dead: false,
        });
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
        self.epoll.add(l.as_raw_fd(), TOKEN_CTL)?;
        self.ctl = Some((l, path.to_path_buf()));
        Ok(())
    }

    /// Records every frame the devices carry, both ways, in a nanosecond pcap: as a device
    /// without offloads would carry them (GSO frames cut, checksums finished). `link` is
    /// Ethernet for TAP devices, raw IP for TUN devices.
    pub fn capture(&mut self, path: &Path, link: LinkType) -> io::Result<()> {
        let w = BufWriter::new(File::create(path)?);
        self.pcap = Some(PcapWriter::new(w, link)?);
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM, whose name it returns.
    pub fn run(&mut self, ctl: &mut CtlHandler<'_>) -> io::Result<&'static str> {
        loop {
            let now = self.clock.now();
            let timeout = self
                .stack
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now));
            let ready = self.epoll.wait(timeout)?;
            let now = self.clock.now();
            for token in ready {
                match token {
                    TOKEN_SIGNAL => {
                        if let Some(sig) = self.signals.take()? {
                            self.flush_pcap();
                            return Ok(if sig == libc::SIGINT {
                                "SIGINT"
                            } else {
                                "SIGTERM"
                            });
                        }
                    }
                    TOKEN_CTL => self.serve_ctl(now, ctl),
                    t => self.netif_poll((t - TOKEN_PORT) as usize, now),
                }
            }
            if self.stack.poll_timeout().is_some_and(|t| t <= now) {
                self.stack.handle_timeout(now);
            }
            self.echo.poll(&mut self.stack, now);
            self.flush_tx();
            // The LOG target's lines, where the kernel's go to its log.
            for line in self.stack.nf.drain_log() {
                eprintln!("{line}");
            }
        }
    }

    /// Reads one batch from a queue into the stack. Linux tun_get_user() per frame, then
    /// one NAPI poll for the batch.
    fn netif_poll(&mut self, i: usize, now: Instant) {
        let Some(port) = self.ports.get(i).filter(|p| !p.dead) else {
            return;
        };
        let ifindex = port.ifindex;
        let vnet = port.tap.vnet_hdr();
        let (mut plain, mut with_hdr) = (Vec::new(), Vec::new());
        for _ in 0..NAPI_POLL_WEIGHT {
            let n = match self.ports[i].tap.read(&mut self.hdr, &mut self.frame) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    self.stack.netif_rx_dropped(ifindex, DropReason::DevHdr);
                    continue;
                }
                Err(e) => {
                    eprintln!("skiff: {}: read: {e}; detached", self.ports[i].tap.name());
                    let _ = self.epoll.delete(self.ports[i].tap.as_raw_fd());
                    self.ports[i].dead = true;
                    break;
                }
            };
            let hdr = if vnet {
                match VirtioNetHdr::new_checked(&self.hdr[..], HdrSize::V12)
                    .and_then(|h| VirtioNetHdrRepr::parse(&h))
                {
                    Ok(h) => Some(h),
                    Err(_) => {
                        self.stack.netif_rx_dropped(ifindex, DropReason::DevHdr);
                        continue;
                    }
                }
            } else {
                None
            };
            if self.pcap.is_some() {
                let mac_len = if self.ports[i].tap.is_tun() {
                    0
                } else {
                    ETH_HLEN
                };
                self.capture_rx(hdr.as_ref(), n, mac_len);
            }
            let Some(mut skb) = self.stack.alloc_skb(n) else {
                self.stack.netif_rx_dropped(ifindex, DropReason::DevReady);
                continue;
            };
            if skb.put_slice(&self.frame[..n]).is_err() {
                self.stack.recycle(skb);
                self.stack.netif_rx_dropped(ifindex, DropReason::DevReady);
                continue;
            }
            match hdr {
                Some(h) => with_hdr.push((h, skb)),
                None => plain.push(skb),
            }
        }
        if !with_hdr.is_empty() {
            self.stack.netif_receive_vnet(now, ifindex, with_hdr);
        }
        if !plain.is_empty() {
            self.stack.netif_receive_list(now, ifindex, plain);
        }
    }

    /// Writes what the stack transmitted: behind a virtio-net header carrying its
    /// checksum and GSO metadata when the queue has one (virtio_net_hdr_from_skb()),
    /// else finished in software. A refused write is counted (`tx_dropped`).
    fn flush_tx(&mut self) {
        while let Some((ifindex, skb)) = self.stack.poll_transmit() {
            let Some(port) = self
                .ports
                .iter()
                .position(|p| p.ifindex == ifindex && !p.dead)
            else {
                self.stack.dev_tx_dropped(ifindex, skb);
                continue;
            };
            let tap = &self.ports[port].tap;
            let frames = if tap.vnet_hdr() {
                match virtio_net_hdr_from_skb(&skb, false) {
                    Ok(hdr) => vec![(Some(hdr), skb)],
                    Err(_) => sw_frames(&mut self.stack, skb),
                }
            } else {
                sw_frames(&mut self.stack, skb)
            };
            for (hdr, skb) in frames {
                let mut h = [0u8; VNET_HDR_LEN];
                if let Some(hdr) = hdr {
                    let repr = VirtioNetHdrRepr {
                        num_buffers: Some(0),
                        ..hdr
                    };
                    // A 12-byte buffer always holds the header.
                    let _ = repr.emit(&mut h);
                }
                let bytes = frame_bytes(&skb);
                let r = self.ports[port].tap.write(Some(&h), &bytes);
                drop(bytes);
                if r.is_err() {
                    self.stack.dev_tx_dropped(ifindex, skb);
                    continue;
                }
                self.capture_tx(skb);
            }
        }
    }

    fn capture_rx(&mut self, hdr: Option<&VirtioNetHdrRepr>, n: usize, mac_len: usize) {
        let Some(hdr) = hdr.filter(|h| h.needs_csum || h.gso_size != 0) else {
            let ts = wall_nanos();
            if let Some(w) = self.pcap.as_mut() {
                let _ = w.write_packet(ts, &self.frame[..n]);
            }
            return;
        };
        let Some(mut skb) = self.stack.alloc_skb(n) else {
            return;
        };
        if skb.put_slice(&self.frame[..n]).is_err()
            || virtio_net_hdr_to_skb(&mut skb, hdr, mac_len).is_err()
        {
            // The stack drops it; the capture shows the frame as it came.
            self.stack.recycle(skb);
            let ts = wall_nanos();
            if let Some(w) = self.pcap.as_mut() {
                let _ = w.write_packet(ts, &self.frame[..n]);
            }
            return;
        }
        self.capture_tx(skb);
    }

    /// Records a frame (or its software-finished segments) and frees it.
    fn capture_tx(&mut self, skb: SkBuff) {
        if self.pcap.is_none() {
            self.stack.recycle(skb);
            return;
        }
        let segs = if skb.gso.is_some() || matches!(skb.ip_summed, ChecksumState::Partial { .. }) {
            self.stack.skb_finish_sw(skb).unwrap_or_default()
        } else {
            vec![skb]
        };
        let ts = wall_nanos();
        for seg in segs {
            if let Some(w) = self.pcap.as_mut() {
                let _ = w.write_packet(ts, &frame_bytes(&seg));
            }
            self.stack.recycle(seg);
        }
    }

    fn flush_pcap(&mut self) {
        if let Some(w) = self.pcap.as_mut() {
            let _ = w.flush();
        }
    }

    /// Answers every waiting control connection: one request line, one reply, closed.
    /// The reply is `ok` or `error` on its first line, then the text.
    fn serve_ctl(&mut self, now: Instant, handler: &mut CtlHandler<'_>) {
        let Some((listener, _)) = self.ctl.as_ref() else {
            return;
        };
        while let Ok((conn, _)) = listener.accept() {
            // A client that does not send its line within a second is dropped.
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
            let mut line = String::new();
            let _ = BufReader::new((&conn).take(CTL_REQUEST_MAX)).read_line(&mut line);
            let reply = match handler(&mut self.stack, now, line.trim()) {
                Ok(text) => format!("ok\n{text}"),
                Err(msg) => format!("error\n{msg}\n"),
            };
            let _ = (&conn).write_all(reply.as_bytes());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.flush_pcap();
        if let Some((_, path)) = self.ctl.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A frame the queue cannot carry with metadata, finished in software.
fn sw_frames(stack: &mut Stack, skb: SkBuff) -> Vec<(Option<VirtioNetHdrRepr>, SkBuff)> {
    stack
        .dev_hard_xmit_sw(skb)
        .into_iter()
        .map(|s| (None, s))
        .collect()
}

/// Every byte of a frame: its linear data, then its `frag_list`.
pub fn frame_bytes(skb: &SkBuff) -> std::borrow::Cow<'_, [u8]> {
    if !skb.is_nonlinear() {
        return std::borrow::Cow::Borrowed(skb.data());
    }
    let mut frame = Vec::with_capacity(skb.len());
    skb.for_each_chunk(&mut |c| frame.extend_from_slice(c));
    std::borrow::Cow::Owned(frame)
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
