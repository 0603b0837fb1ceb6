//! The devices a [`crate::net::NetStack`] drives (non-blocking frame I/O) and an in-memory
//! cable. Linux include/linux/netdevice.h `net_device_ops`, in small.

use skiff_core::netdev::NetdevFeatures;
use skiff_wire::virtio::VirtioNetHdrRepr;
use std::io;

/// A network device the driver thread serves: non-blocking frame I/O. A TAP device is one;
/// [`pair`] makes two joined in memory.
pub trait Device: Send {
    /// The next received frame, if one is waiting.
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>>;
    /// Puts a frame on the wire.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
    /// The offloads the stack may use on this device, set when it is attached; `None`
    /// keeps the stack's default (no transmit offloads).
    fn features(&self) -> Option<NetdevFeatures> {
        None
    }
    /// Frames carry a virtio-net header: the driver uses `recv_vnet` / `send_vnet`.
    fn has_vnet_hdr(&self) -> bool {
        false
    }
    /// The next frame with its virtio-net header.
    fn recv_vnet(&mut self) -> io::Result<Option<(VirtioNetHdrRepr, Vec<u8>)>> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Puts a frame on the wire behind its virtio-net header.
    fn send_vnet(&mut self, hdr: &VirtioNetHdrRepr, frame: &[u8]) -> io::Result<()> {
        let _ = (hdr, frame);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// One end of an in-memory Ethernet cable.
#[derive(Debug)]
pub struct PairDevice {
    tx: std::sync::mpsc::Sender<Vec<u8>>,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
}

/// Two devices joined back to back: what one sends, the other receives.
pub fn pair() -> (PairDevice, PairDevice) {
    let (a_tx, b_rx) = std::sync::mpsc::channel();
    let (b_tx, a_rx) = std::sync::mpsc::channel();
    (
        PairDevice { tx: a_tx, rx: a_rx },
        PairDevice { tx: b_tx, rx: b_rx },
    )
}

impl Device for PairDevice {
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.rx.try_recv() {
            Ok(f) => Ok(Some(f)),
            Err(std::sync::mpsc::TryRecvError::Empty) => Ok(None),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Ok(None),
        }
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        // A cable with nobody at the other end loses the frame, as a wire would.
        let _ = self.tx.send(frame.to_vec());
        Ok(())
    }
}
