//! TAP and TUN devices: `/dev/net/tun` from user space, hand-written on `libc` (no crate
//! handles the virtio-net header on Ethernet frames correctly). Linux drivers/net/tun.c:
//! TUNSETIFF with IFF_TAP/IFF_TUN, IFF_NO_PI, IFF_VNET_HDR and IFF_MULTI_QUEUE;
//! TUNSETVNETHDRSZ; TUNSETOFFLOAD, negotiated down when the kernel refuses a flag.
#![allow(unsafe_code)]

use crate::device::{Device, RxFrame};
use skiff_core::Stack;
use skiff_core::netdev::NetdevFeatures;
use skiff_core::skb::SkBuff;
use skiff_wire::virtio::{HdrSize, VirtioNetHdr, VirtioNetHdrRepr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOW('T', 208, unsigned int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `_IOW('T', 216, int)`.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;

/// `TUN_F_*`: what the reader (skiff) takes from the kernel.
pub const TUN_F_CSUM: u32 = 0x01;
pub const TUN_F_TSO4: u32 = 0x02;
pub const TUN_F_TSO6: u32 = 0x04;
pub const TUN_F_USO4: u32 = 0x20;
pub const TUN_F_USO6: u32 = 0x40;

/// The virtio-net header skiff uses: `struct virtio_net_hdr_mrg_rxbuf`, 12 bytes.
pub const VNET_HDR_LEN: usize = 12;
/// The most pieces one writev takes (Linux UIO_MAXIOV).
const IOV_MAX: libc::c_int = 1024;
/// The largest frame a read takes: a 64 KiB GSO packet and its link header.
pub const MAX_FRAME: usize = 65536 + 14;
/// What a read asks the stack's pool for: an Ethernet frame of a 1500-byte MTU. The pool
/// hands out whole 2 KiB buffers, so a frame up to their tailroom lands there directly.
pub const RX_BUF_LEN: usize = 1514;

/// Where [`Tap::read_skb`] put a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxAt {
    /// In the pool buffer.
    Skb,
    /// In the spare buffer (a frame longer than the pool buffer's tailroom).
    Spare,
}

/// How to open a device.
#[derive(Debug, Clone)]
pub struct TapOptions {
    /// The interface name; created if absent, attached to otherwise.
    pub name: String,
    /// IFF_TUN (IP packets) instead of IFF_TAP (Ethernet frames).
    pub tun: bool,
    /// IFF_VNET_HDR: every frame carries a virtio-net header.
    pub vnet_hdr: bool,
    /// IFF_MULTI_QUEUE: one file descriptor per queue (open the same name again).
    pub multi_queue: bool,
    /// Ask for checksum, TSO and USO offload (with a virtio-net header only).
    pub offload: bool,
}

impl TapOptions {
    /// A TAP device called `name` without a virtio-net header.
    pub fn tap(name: &str) -> TapOptions {
        TapOptions {
            name: name.to_string(),
            tun: false,
            vnet_hdr: false,
            multi_queue: false,
            offload: false,
        }
    }
}

/// One queue of a TAP or TUN device, non-blocking.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    tun: bool,
    vnet_hdr: bool,
    offloads: u32,
    /// The overflow buffer of reads through [`Device::recv`] (see [`Tap::read_skb`]).
    spare: Option<SkBuff>,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Tap {
    /// Opens (creating if needed) the device: Linux tun_set_iff().
    pub fn open(opts: &TapOptions) -> io::Result<Tap> {
        let name = opts.name.as_bytes();
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad interface name {:?}", opts.name),
            ));
        }
        // SAFETY: the path is a NUL-terminated C string; open() has no other preconditions.
        let raw = check(unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `raw` is a descriptor open() just returned, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain old data, valid when zeroed.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
            *d = *s as libc::c_char;
        }
        let mut flags = IFF_NO_PI | if opts.tun { IFF_TUN } else { IFF_TAP };
        if opts.vnet_hdr {
            flags |= IFF_VNET_HDR;
        }
        if opts.multi_queue {
            flags |= IFF_MULTI_QUEUE;
        }
        ifr.ifr_ifru.ifru_flags = flags;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which `ifr` is.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut ifr) })?;
        let name: Vec<u8> = ifr
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let mut tap = Tap {
            fd,
            name: String::from_utf8_lossy(&name).into_owned(),
            tun: opts.tun,
            vnet_hdr: opts.vnet_hdr,
            offloads: 0,
            spare: None,
        };
        if opts.vnet_hdr {
            let size: libc::c_int = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
            check(unsafe { libc::ioctl(tap.fd.as_raw_fd(), TUNSETVNETHDRSZ, &size) })?;
        }
        if opts.vnet_hdr && opts.offload {
            tap.offloads = tap.negotiate_offloads()?;
        }
        Ok(tap)
    }

    /// TUNSETOFFLOAD with every flag skiff handles, then fewer while the kernel refuses
    /// (an older kernel has no USO).
    fn negotiate_offloads(&self) -> io::Result<u32> {
        let all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        for flags in [all | TUN_F_USO4 | TUN_F_USO6, all, TUN_F_CSUM, 0] {
            // SAFETY: TUNSETOFFLOAD takes its flags by value.
            let r =
                unsafe { libc::ioctl(self.fd.as_raw_fd(), TUNSETOFFLOAD, flags as libc::c_ulong) };
            if r == 0 {
                return Ok(flags);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(e);
            }
        }
        Ok(0)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TUN_F_* flags the kernel accepted.
    pub fn offloads(&self) -> u32 {
        self.offloads
    }

    /// Another handle on the same queue (dup()).
    pub fn try_clone(&self) -> io::Result<Tap> {
        Ok(Tap {
            fd: self.fd.try_clone()?,
            name: self.name.clone(),
            tun: self.tun,
            vnet_hdr: self.vnet_hdr,
            offloads: self.offloads,
            spare: None,
        })
    }

    /// IFF_TUN: bare IP packets, no link header.
    pub fn is_tun(&self) -> bool {
        self.tun
    }

    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// The stack-side features of a device on this queue: with a virtio-net header the
    /// kernel takes partial checksums and TSO/USO packets whatever TUNSETOFFLOAD said
    /// (virtio_net_hdr_to_skb()), so transmit offloads are on.
    pub fn features(&self) -> NetdevFeatures {
        let base = NetdevFeatures::SG
            .union(NetdevFeatures::RXCSUM)
            .union(NetdevFeatures::GRO);
        if self.vnet_hdr {
            base.union(NetdevFeatures::HW_CSUM)
                .union(NetdevFeatures::TSO)
                .union(NetdevFeatures::GSO_UDP_L4)
        } else {
            base
        }
    }

    /// Reads one frame into `frame`, and its virtio-net header into `hdr` when the device
    /// has one. `Ok(None)` when nothing is waiting.
    pub fn read(
        &self,
        hdr: &mut [u8; VNET_HDR_LEN],
        frame: &mut [u8],
    ) -> io::Result<Option<usize>> {
        self.readv(hdr, frame, &mut [])
    }

    /// Reads one frame straight into `skb`, an empty buffer from the stack's pool: one
    /// readv of the virtio-net header (into `hdr`, when the device has one), the frame
    /// into the skb's tailroom and what is longer (a GSO or jumbo frame) into `spare`, a
    /// 64 KiB buffer made when first needed. A frame that fits stays in `skb`; a longer
    /// one is completed in `spare` (its first tailroom's worth copied in front) and the
    /// caller takes it from there, `skb` left empty. Either buffer not holding the frame
    /// is left empty for the next read. Linux tun_do_read() into a driver's rx buffers.
    pub fn read_skb(
        &self,
        hdr: &mut [u8; VNET_HDR_LEN],
        skb: &mut SkBuff,
        spare: &mut Option<SkBuff>,
    ) -> io::Result<Option<RxAt>> {
        let sp = match spare {
            Some(sp) => sp,
            None => spare.insert(
                SkBuff::new(skb.headroom(), MAX_FRAME)
                    .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?,
            ),
        };
        let room = skb.tailroom();
        let whole = sp.tailroom();
        let res = match (skb.put(room), sp.put(whole)) {
            (Ok(head), Ok(rest)) => {
                let rest = rest.get_mut(room..).unwrap_or_default();
                self.readv(hdr, head, rest)
            }
            _ => Err(io::Error::from(io::ErrorKind::OutOfMemory)),
        };
        let n = match res {
            Ok(Some(n)) => n,
            other => {
                skb.trim(0);
                sp.trim(0);
                return other.map(|_| None);
            }
        };
        if n <= room {
            skb.trim(n);
            sp.trim(0);
            return Ok(Some(RxAt::Skb));
        }
        // The frame's start went to the pool buffer: move it in front of the rest.
        if let Some(front) = sp.data_mut().get_mut(..room) {
            front.copy_from_slice(skb.data());
        }
        sp.trim(n);
        skb.trim(0);
        Ok(Some(RxAt::Spare))
    }

    /// One readv: the header (when the device has one), then `a`, then `b`. Returns the
    /// frame's length; a frame longer than `a` and `b` (the kernel reports its whole
    /// length) is `InvalidData`.
    fn readv(
        &self,
        hdr: &mut [u8; VNET_HDR_LEN],
        a: &mut [u8],
        b: &mut [u8],
    ) -> io::Result<Option<usize>> {
        let room = a.len() + b.len();
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: a.as_mut_ptr().cast(),
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            },
        ];
        let iov = if self.vnet_hdr {
            &mut iov[..]
        } else {
            &mut iov[1..]
        };
        // SAFETY: every iovec points into a live, exclusively borrowed buffer of its length.
        let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                _ => Err(e),
            };
        }
        let mut n = n as usize;
        if self.vnet_hdr {
            n = n.checked_sub(VNET_HDR_LEN).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "read shorter than the virtio-net header",
                )
            })?;
        }
        if n > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame longer than the read buffers",
            ));
        }
        Ok(Some(n))
    }

    /// Writes one frame, after its virtio-net header when the device has one (`hdr` is
    /// then required). A full queue is `WouldBlock`.
    pub fn write(&self, hdr: Option<&[u8; VNET_HDR_LEN]>, frame: &[u8]) -> io::Result<()> {
        self.write_chunks(hdr, &[frame])
    }

    /// [`Tap::write`] of a frame held in pieces (an skb's data and its `frag_list`), in
    /// one writev without copying them together.
    pub fn write_chunks(
        &self,
        hdr: Option<&[u8; VNET_HDR_LEN]>,
        chunks: &[&[u8]],
    ) -> io::Result<()> {
        let zero = [0u8; VNET_HDR_LEN];
        let h: &[u8] = hdr.unwrap_or(&zero);
        let head = if self.vnet_hdr { Some(h) } else { None };
        let pieces = head
            .into_iter()
            .chain(chunks.iter().copied())
            .map(|c| libc::iovec {
                iov_base: c.as_ptr().cast_mut().cast(),
                iov_len: c.len(),
            });
        // A linear frame (the usual case) needs no allocation.
        let mut inline = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 4];
        let heap: Vec<libc::iovec>;
        let iov: &[libc::iovec] = if chunks.len() < inline.len() {
            let mut n = 0;
            for (slot, v) in inline.iter_mut().zip(pieces) {
                *slot = v;
                n += 1;
            }
            &inline[..n]
        } else {
            heap = pieces.collect();
            &heap
        };
        let count = libc::c_int::try_from(iov.len())
            .ok()
            .filter(|&n| n <= IOV_MAX)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: every iovec points into a live buffer of its length; writev only reads.
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), count) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// A TAP queue as a device of a [`crate::net::NetStack`]: plain frames, or frames behind
/// a virtio-net header carrying checksum and GSO metadata both ways.
impl Device for Tap {
    /// A frame read straight into a pool buffer ([`Tap::read_skb`]); a header that does
    /// not parse loses its frame (`InvalidData`).
    fn recv(&mut self, stack: &mut Stack) -> io::Result<Option<RxFrame>> {
        let Some(mut skb) = stack.alloc_skb(RX_BUF_LEN) else {
            return Err(io::ErrorKind::OutOfMemory.into());
        };
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut spare = self.spare.take();
        let at = self.read_skb(&mut hdr, &mut skb, &mut spare);
        self.spare = spare;
        let skb = match at {
            Ok(Some(RxAt::Skb)) => skb,
            Ok(Some(RxAt::Spare)) => {
                stack.recycle(skb);
                // Some: read_skb just filled it.
                self.spare.take().ok_or(io::ErrorKind::OutOfMemory)?
            }
            Ok(None) => {
                stack.recycle(skb);
                return Ok(None);
            }
            Err(e) => {
                stack.recycle(skb);
                return Err(e);
            }
        };
        if !self.vnet_hdr {
            return Ok(Some((None, skb)));
        }
        match VirtioNetHdr::new_checked(&hdr[..], HdrSize::V12)
            .and_then(|h| VirtioNetHdrRepr::parse(&h))
        {
            Ok(repr) => Ok(Some((Some(repr), skb))),
            Err(e) => {
                stack.recycle(skb);
                Err(io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))
            }
        }
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.vnet_hdr {
            // No offload metadata: an all-zero header says "a plain frame".
            return self.write(Some(&[0; VNET_HDR_LEN]), frame);
        }
        self.write(None, frame)
    }

    fn features(&self) -> Option<NetdevFeatures> {
        Some(Tap::features(self))
    }

    fn has_vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    fn send_vnet(&mut self, hdr: &VirtioNetHdrRepr, frame: &[u8]) -> io::Result<()> {
        let repr = VirtioNetHdrRepr {
            num_buffers: Some(0),
            ..*hdr
        };
        let mut h = [0u8; VNET_HDR_LEN];
        repr.emit(&mut h)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}")))?;
        self.write(Some(&h), frame)
    }

    fn ready_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }
}
