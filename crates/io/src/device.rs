//! The devices a [`crate::net::NetStack`] drives (non-blocking frame I/O) and an in-memory
//! cable. Linux include/linux/netdevice.h `net_device_ops`, in small.

use crate::epoll::EventFd;
use skiff_core::Stack;
use skiff_core::netdev::NetdevFeatures;
use skiff_core::skb::SkBuff;
use skiff_wire::virtio::VirtioNetHdrRepr;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

/// A received frame in a buffer of the stack's pool, with its virtio-net header when the
/// device has one.
pub type RxFrame = (Option<VirtioNetHdrRepr>, SkBuff);

/// A network device the driver thread serves: non-blocking frame I/O. A TAP device is one;
/// [`pair`] makes two joined in memory.
pub trait Device: Send {
    /// The next received frame, if one is waiting, in a buffer the device takes from
    /// `stack`'s pool (`Stack::alloc_skb`, handed back with `Stack::recycle` when unused).
    fn recv(&mut self, stack: &mut Stack) -> io::Result<Option<RxFrame>>;
    /// Puts a frame on the wire.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
    /// The offloads the stack may use on this device, set when it is attached; `None`
    /// keeps the stack's default (no transmit offloads).
    fn features(&self) -> Option<NetdevFeatures> {
        None
    }
    /// Frames carry a virtio-net header: `recv` returns it, the driver uses `send_vnet`.
    fn has_vnet_hdr(&self) -> bool {
        false
    }
    /// Puts a frame on the wire behind its virtio-net header.
    fn send_vnet(&mut self, hdr: &VirtioNetHdrRepr, frame: &[u8]) -> io::Result<()> {
        let _ = (hdr, frame);
        Err(io::ErrorKind::Unsupported.into())
    }
    /// A descriptor that is readable (level-triggered) while a frame waits: the driver
    /// sleeps in epoll on it. `None`: the driver cannot sleep on the device, and polls it
    /// every millisecond.
    fn ready_fd(&self) -> Option<RawFd>;
}

/// One end of an in-memory Ethernet cable: frames cross as vectors, and an eventfd per
/// direction says one waits.
#[derive(Debug)]
pub struct PairDevice {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    /// Signalled by the other end after each frame it sends us.
    rx_ready: Arc<EventFd>,
    /// The other end's `rx_ready`.
    peer_ready: Arc<EventFd>,
}

/// Two devices joined back to back: what one sends, the other receives.
///
/// # Panics
/// When the system gives no eventfd (out of descriptors).
pub fn pair() -> (PairDevice, PairDevice) {
    let (a_tx, b_rx) = std::sync::mpsc::channel();
    let (b_tx, a_rx) = std::sync::mpsc::channel();
    let a_ready = Arc::new(EventFd::new().expect("an eventfd for the cable"));
    let b_ready = Arc::new(EventFd::new().expect("an eventfd for the cable"));
    (
        PairDevice {
            tx: a_tx,
            rx: a_rx,
            rx_ready: a_ready.clone(),
            peer_ready: b_ready.clone(),
        },
        PairDevice {
            tx: b_tx,
            rx: b_rx,
            rx_ready: b_ready,
            peer_ready: a_ready,
        },
    )
}

impl PairDevice {
    fn next(&self) -> Option<Vec<u8>> {
        // Empty, or the other end is gone (a cut cable: nothing more comes).
        self.rx.try_recv().ok()
    }
}

impl Device for PairDevice {
    /// The frame, copied once from the cable into a pool buffer.
    fn recv(&mut self, stack: &mut Stack) -> io::Result<Option<RxFrame>> {
        // Empty: clear the readiness, then look again for a frame sent in between (its
        // sender signals after queueing it, so none is missed).
        let Some(frame) = self.next().or_else(|| {
            self.rx_ready.clear();
            self.next()
        }) else {
            return Ok(None);
        };
        let Some(mut skb) = stack.alloc_skb(frame.len()) else {
            return Err(io::ErrorKind::OutOfMemory.into());
        };
        if skb.put_slice(&frame).is_err() {
            stack.recycle(skb);
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(Some((None, skb)))
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        // A cable with nobody at the other end loses the frame, as a wire would.
        if self.tx.send(frame.to_vec()).is_ok() {
            self.peer_ready.signal();
        }
        Ok(())
    }

    fn ready_fd(&self) -> Option<RawFd> {
        Some(self.rx_ready.as_raw_fd())
    }
}
