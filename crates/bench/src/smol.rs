//! smoltcp's side of the benches: a device that reads frames in place, one after the
//! other (as from a DMA ring), and keeps the last frame sent; an interface with our MAC
//! and 10.0.0.1/24.

use smoltcp::iface::{Config, Interface};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

pub struct Ring {
    pub frames: Vec<Vec<u8>>,
    /// The next frame to receive; set back to 0 to receive them all again.
    pub next: usize,
    pub tx: Vec<u8>,
}

impl Ring {
    pub fn new(frames: Vec<Vec<u8>>) -> Ring {
        Ring {
            frames,
            next: 0,
            tx: Vec::new(),
        }
    }
}

pub struct Rx<'a>(&'a [u8]);
pub struct Tx<'a>(&'a mut Vec<u8>);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.resize(len, 0);
        f(self.0)
    }
}

impl Device for Ring {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let frame = self.frames.get(self.next)?;
        self.next += 1;
        Some((Rx(frame), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

pub fn iface(dev: &mut Ring) -> Interface {
    let mac = EthernetAddress(crate::frames::OUR_MAC);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(mac)),
        dev,
        Instant::ZERO,
    );
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24)).unwrap();
    });
    iface
}
