//! Ethernet II frames with an optional 802.1Q tag. IEEE 802.3 §3.1, IEEE 802.1Q §9;
//! Linux net/ethernet/eth.c eth_type_trans().

use crate::{Result, be16, need, put16};
use core::fmt;

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// Group bit set (broadcast included), as `is_multicast_ether_addr()`.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// RFC 1112 §6.4 mapping of an IPv4 group to 01:00:5e + low 23 bits; Linux ip_eth_mc_map().
    pub const fn from_ipv4_multicast(group: crate::Ipv4Addr) -> EthernetAddress {
        let o = group.octets();
        EthernetAddress([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The EtherType field (`ETH_P_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    /// 802.1Q customer tag, `ETH_P_8021Q`.
    Vlan,
    Ipv6,
    Other(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Other(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Other(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            EtherType::Ipv4 => "IPv4",
            EtherType::Arp => "ARP",
            EtherType::Vlan => "802.1Q",
            EtherType::Ipv6 => "IPv6",
            EtherType::Other(_) => "Unknown",
        };
        write!(f, "{name} (0x{:04x})", u16::from(*self))
    }
}

/// An 802.1Q tag control field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN id, 0..=4095.
    pub vid: u16,
}

impl VlanTag {
    pub const fn from_tci(tci: u16) -> VlanTag {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

mod field {
    pub const DST: core::ops::Range<usize> = 0..6;
    pub const SRC: core::ops::Range<usize> = 6..12;
    pub const TYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_TYPE: usize = 16;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of an 802.1Q-tagged header.
pub const VLAN_HEADER_LEN: usize = 18;
/// The 802.1Q tag's EtherType.
const ETH_P_8021Q: u16 = 0x8100;

/// A view over an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// The header, including an 802.1Q tag when the outer type says one follows.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        need(b, self.header_len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst(&self) -> EthernetAddress {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        EthernetAddress(a)
    }

    pub fn src(&self) -> EthernetAddress {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        EthernetAddress(a)
    }

    /// The outer EtherType (0x8100 on a tagged frame).
    pub fn outer_ethertype(&self) -> EtherType {
        be16(self.buffer.as_ref(), field::TYPE).into()
    }

    pub fn vlan(&self) -> Option<VlanTag> {
        match self.outer_ethertype() {
            EtherType::Vlan => Some(VlanTag::from_tci(be16(self.buffer.as_ref(), field::TCI))),
            _ => None,
        }
    }

    /// The EtherType of the payload as a number, behind the tag if there is one (what
    /// Linux eth_type_trans() returns as `skb->protocol`).
    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        match be16(b, field::TYPE) {
            ETH_P_8021Q => be16(b, field::INNER_TYPE),
            t => t,
        }
    }

    /// The EtherType of the payload, behind the tag if there is one.
    pub fn ethertype(&self) -> EtherType {
        self.protocol().into()
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        match be16(self.buffer.as_ref(), field::TYPE) {
            ETH_P_8021Q => VLAN_HEADER_LEN,
            _ => HEADER_LEN,
        }
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0);
    }

    pub fn set_src(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// A parsed Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub src: EthernetAddress,
    pub dst: EthernetAddress,
    pub vlan: Option<VlanTag>,
    /// The payload's EtherType. Only the outer tag is taken off, so a double-tagged frame
    /// has [`EtherType::Vlan`] here, as Linux sees it before a second untag.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            vlan: frame.vlan(),
            ethertype: frame.ethertype(),
        })
    }

    pub const fn header_len(&self) -> usize {
        if self.vlan.is_some() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        need(buf, self.header_len())?;
        buf[field::DST].copy_from_slice(&self.dst.0);
        buf[field::SRC].copy_from_slice(&self.src.0);
        match self.vlan {
            Some(tag) => {
                put16(buf, field::TYPE, EtherType::Vlan.into());
                put16(buf, field::TCI, tag.tci());
                put16(buf, field::INNER_TYPE, self.ethertype.into());
            }
            None => put16(buf, field::TYPE, self.ethertype.into()),
        }
        Ok(())
    }
}

impl fmt::Display for EthernetRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}", self.src, self.dst)?;
        if let Some(tag) = self.vlan {
            write!(f, ", vlan {}, p {}", tag.vid, tag.pcp)?;
            if tag.dei {
                f.write_str(", DEI")?;
            }
        }
        write!(f, ", ethertype {}", self.ethertype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    const A: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
    const B: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

    #[rustfmt::skip]
    const UNTAGGED: [u8; 14] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x08, 0x00,
    ];

    #[rustfmt::skip]
    const TAGGED: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x81, 0x00, 0xb0, 0x64,
        0x08, 0x06,
    ];

    #[test]
    fn golden_untagged() {
        let repr = EthernetRepr {
            src: A,
            dst: B,
            vlan: None,
            ethertype: EtherType::Ipv4,
        };
        let mut buf = [0xa5; 20];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..14], &UNTAGGED);
        assert_eq!(&buf[14..], &[0xa5; 6], "emit wrote past the header");
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
        assert_eq!(frame.payload(), &[0xa5; 6]);
    }

    #[test]
    fn golden_tagged() {
        let tag = VlanTag {
            pcp: 5,
            dei: true,
            vid: 100,
        };
        let repr = EthernetRepr {
            src: A,
            dst: EthernetAddress::BROADCAST,
            vlan: Some(tag),
            ethertype: EtherType::Arp,
        };
        let mut buf = [0xa5; 18];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf, TAGGED);
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(frame.header_len(), 18);
        assert_eq!(frame.outer_ethertype(), EtherType::Vlan);
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
        assert_eq!(
            repr.to_string(),
            "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, vlan 100, p 5, DEI, ethertype ARP (0x0806)"
        );
    }

    #[test]
    fn double_tagged_keeps_inner_tag() {
        let mut buf = TAGGED;
        buf[16..18].copy_from_slice(&[0x81, 0x00]);
        let repr = EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(repr.ethertype, EtherType::Vlan);
        let mut out = [0xa5; 18];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, buf);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&UNTAGGED[..13]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            EthernetFrame::new_checked(&TAGGED[..17]).unwrap_err(),
            Error::Truncated
        );
        let mut small = [0u8; 17];
        let repr = EthernetRepr {
            src: A,
            dst: B,
            vlan: Some(VlanTag::from_tci(1)),
            ethertype: EtherType::Ipv4,
        };
        assert_eq!(repr.emit(&mut small), Err(Error::Truncated));
    }

    #[test]
    fn address_classes() {
        assert!(EthernetAddress::BROADCAST.is_broadcast());
        assert!(EthernetAddress::BROADCAST.is_multicast());
        assert!(A.is_unicast());
        let m = EthernetAddress::from_ipv4_multicast(crate::Ipv4Addr::new(239, 129, 2, 3));
        assert_eq!(m, EthernetAddress([0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]));
    }

    #[test]
    fn tci_round_trip() {
        for tci in [0u16, 1, 0x0fff, 0x1000, 0xe000, 0xffff] {
            assert_eq!(VlanTag::from_tci(tci).tci(), tci);
        }
    }
}
