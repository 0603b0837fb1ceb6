//! ARP (RFC 826) for Ethernet and IPv4. Linux net/ipv4/arp.c arp_rcv(), arp_process().

use crate::ethernet::EthernetAddress;
use crate::{Error, Ipv4Addr, Result, addr, be16, need, put16};
use core::fmt;

/// `ARPHRD_ETHER`.
pub const HTYPE_ETHERNET: u16 = 1;
/// `ETH_P_IP`.
pub const PTYPE_IPV4: u16 = 0x0800;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = 28;

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    /// Start of the variable-length addresses: sha, spa, tha, tpa.
    pub const ADDRS: usize = 8;
}

/// The ARP opcode (`ARPOP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Other(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Other(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(v: ArpOperation) -> u16 {
        match v {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Other(other) => other,
        }
    }
}

/// A view over an ARP packet of any hardware and protocol address sizes.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The fixed part, then the four addresses its length fields claim.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, field::ADDRS)?;
        need(b, self.addrs_end())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn htype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }

    pub fn ptype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE)
    }

    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn oper(&self) -> ArpOperation {
        be16(self.buffer.as_ref(), field::OPER).into()
    }

    /// Sender hardware address (`hlen` bytes).
    pub fn sha(&self) -> &[u8] {
        self.addr(0)
    }

    /// Sender protocol address (`plen` bytes).
    pub fn spa(&self) -> &[u8] {
        self.addr(1)
    }

    /// Target hardware address (`hlen` bytes).
    pub fn tha(&self) -> &[u8] {
        self.addr(2)
    }

    /// Target protocol address (`plen` bytes).
    pub fn tpa(&self) -> &[u8] {
        self.addr(3)
    }

    fn addrs_end(&self) -> usize {
        field::ADDRS + 2 * (usize::from(self.hlen()) + usize::from(self.plen()))
    }

    /// Byte range of address `i` (0 sha, 1 spa, 2 tha, 3 tpa) from the length fields.
    fn addr_range(&self, i: usize) -> core::ops::Range<usize> {
        let (h, p) = (usize::from(self.hlen()), usize::from(self.plen()));
        let (start, len) = match i {
            0 => (0, h),
            1 => (h, p),
            2 => (h + p, h),
            _ => (2 * h + p, p),
        };
        field::ADDRS + start..field::ADDRS + start + len
    }

    /// An empty slice when the buffer is shorter than the lengths claim (unchecked view).
    fn addr(&self, i: usize) -> &[u8] {
        self.buffer
            .as_ref()
            .get(self.addr_range(i))
            .unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    pub fn set_htype(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::HTYPE, v);
    }

    pub fn set_ptype(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::PTYPE, v);
    }

    pub fn set_hlen(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    pub fn set_plen(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    pub fn set_oper(&mut self, v: ArpOperation) {
        put16(self.buffer.as_mut(), field::OPER, v.into());
    }

    pub fn sha_mut(&mut self) -> &mut [u8] {
        self.addr_mut(0)
    }

    pub fn spa_mut(&mut self) -> &mut [u8] {
        self.addr_mut(1)
    }

    pub fn tha_mut(&mut self) -> &mut [u8] {
        self.addr_mut(2)
    }

    pub fn tpa_mut(&mut self) -> &mut [u8] {
        self.addr_mut(3)
    }

    fn addr_mut(&mut self, i: usize) -> &mut [u8] {
        let range = self.addr_range(i);
        self.buffer.as_mut().get_mut(range).unwrap_or_default()
    }
}

/// A parsed ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpRepr {
    EthernetIpv4 {
        operation: ArpOperation,
        source_hardware_addr: EthernetAddress,
        source_protocol_addr: Ipv4Addr,
        target_hardware_addr: EthernetAddress,
        target_protocol_addr: Ipv4Addr,
    },
}

impl ArpRepr {
    /// Linux arp_rcv() then arp_process(), in that order: address lengths other than 6/4 →
    /// `BadLength`, hardware type other than Ethernet or protocol other than IPv4 →
    /// `Unsupported`. Any opcode parses; acting only on requests and replies is the
    /// neighbour code's job.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hlen() != 6 || packet.plen() != 4 {
            return Err(Error::BadLength);
        }
        if packet.htype() != HTYPE_ETHERNET || packet.ptype() != PTYPE_IPV4 {
            return Err(Error::Unsupported);
        }
        let mac = |a: &[u8]| EthernetAddress([a[0], a[1], a[2], a[3], a[4], a[5]]);
        Ok(ArpRepr::EthernetIpv4 {
            operation: packet.oper(),
            source_hardware_addr: mac(packet.sha()),
            source_protocol_addr: addr(packet.spa(), 0),
            target_hardware_addr: mac(packet.tha()),
            target_protocol_addr: addr(packet.tpa(), 0),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        match self {
            ArpRepr::EthernetIpv4 { .. } => ETHERNET_IPV4_LEN,
        }
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        need(buf, self.buffer_len())?;
        let ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } = *self;
        let mut packet = ArpPacket::new_unchecked(buf);
        packet.set_htype(HTYPE_ETHERNET);
        packet.set_ptype(PTYPE_IPV4);
        packet.set_hlen(6);
        packet.set_plen(4);
        packet.set_oper(operation);
        packet.sha_mut().copy_from_slice(&source_hardware_addr.0);
        packet
            .spa_mut()
            .copy_from_slice(&source_protocol_addr.octets());
        packet.tha_mut().copy_from_slice(&target_hardware_addr.0);
        packet
            .tpa_mut()
            .copy_from_slice(&target_protocol_addr.octets());
        Ok(())
    }
}

/// tcpdump's lines: `ARP, Request who-has 10.0.0.2 tell 10.0.0.1`,
/// `ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02`.
impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } = self;
        match operation {
            ArpOperation::Request => write!(
                f,
                "ARP, Request who-has {target_protocol_addr} tell {source_protocol_addr}"
            ),
            ArpOperation::Reply => write!(
                f,
                "ARP, Reply {source_protocol_addr} is-at {source_hardware_addr}"
            ),
            ArpOperation::Other(op) => write!(
                f,
                "ARP, Unknown opcode {op}, {source_protocol_addr} ({source_hardware_addr}) > \
                 {target_protocol_addr}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const MAC2: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
    const IP1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[rustfmt::skip]
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
    ];

    const REQUEST_REPR: ArpRepr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: MAC1,
        source_protocol_addr: IP1,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: IP2,
    };

    #[test]
    fn golden_request() {
        let mut buf = [0xa5; 32];
        REQUEST_REPR.emit(&mut buf).unwrap();
        assert_eq!(&buf[..28], &REQUEST);
        assert_eq!(&buf[28..], &[0xa5; 4], "emit wrote past the packet");
        let packet = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet), Ok(REQUEST_REPR));
        assert_eq!(
            REQUEST_REPR.to_string(),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1"
        );
    }

    #[test]
    fn golden_reply() {
        #[rustfmt::skip]
        let expected: [u8; 28] = [
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2,
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
        ];
        let repr = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: MAC2,
            source_protocol_addr: IP2,
            target_hardware_addr: MAC1,
            target_protocol_addr: IP1,
        };
        let mut buf = [0xa5; 28];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf, expected);
        // Ethernet padding after the packet is ignored.
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&expected);
        let packet = ArpPacket::new_checked(&padded[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet), Ok(repr));
        assert_eq!(
            repr.to_string(),
            "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02"
        );
    }

    #[test]
    fn other_opcode() {
        let mut buf = REQUEST;
        buf[7] = 9;
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        let ArpRepr::EthernetIpv4 { operation, .. } = repr;
        assert_eq!(operation, ArpOperation::Other(9));
        assert_eq!(
            repr.to_string(),
            "ARP, Unknown opcode 9, 10.0.0.1 (02:00:00:00:00:01) > 10.0.0.2"
        );
        let mut out = [0; 28];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, buf);
    }

    #[test]
    fn errors() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..7]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        let parse = |b: &[u8]| ArpRepr::parse(&ArpPacket::new_checked(b)?);
        let mut buf = REQUEST;
        buf[1] = 6; // ARPHRD_IEEE802
        assert_eq!(parse(&buf), Err(Error::Unsupported));
        let mut buf = REQUEST;
        buf[2..4].copy_from_slice(&0x86ddu16.to_be_bytes());
        assert_eq!(parse(&buf), Err(Error::Unsupported));
        // Shorter addresses fit a 28-byte buffer but are the wrong size.
        let mut buf = REQUEST;
        buf[4] = 5;
        assert_eq!(parse(&buf), Err(Error::BadLength));
        let mut buf = REQUEST;
        buf[5] = 3;
        buf[0] = 0xff; // lengths are checked first, as arp_rcv() does
        assert_eq!(parse(&buf), Err(Error::BadLength));
        // Longer ones claim more than the buffer holds.
        let mut buf = REQUEST;
        buf[4] = 7;
        assert_eq!(parse(&buf), Err(Error::Truncated));
        assert_eq!(REQUEST_REPR.emit(&mut [0; 27]), Err(Error::Truncated));
    }

    #[test]
    fn generic_layout() {
        // hlen 2, plen 1: 8 + 2*(2+1) = 14 bytes.
        let buf = [0, 9, 0, 9, 2, 1, 0, 1, 0xa1, 0xa2, 0xb1, 0xc1, 0xc2, 0xd1];
        let packet = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.sha(), &[0xa1, 0xa2]);
        assert_eq!(packet.spa(), &[0xb1]);
        assert_eq!(packet.tha(), &[0xc1, 0xc2]);
        assert_eq!(packet.tpa(), &[0xd1]);
        assert_eq!((packet.htype(), packet.ptype()), (9, 9));
        assert_eq!(packet.oper(), ArpOperation::Request);
        // Zero-length addresses: an 8-byte packet.
        let packet = ArpPacket::new_checked(&[0, 1, 8, 0, 0, 0, 0, 2][..]).unwrap();
        assert!(packet.sha().is_empty() && packet.tpa().is_empty());
        // An unchecked view never panics on addresses.
        let packet = ArpPacket::new_unchecked(&REQUEST[..10]);
        assert!(packet.tpa().is_empty());
    }
}
