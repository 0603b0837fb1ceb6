//! The virtio-net header that TAP/TUN puts before each frame with `IFF_VNET_HDR`.
//! Virtio 1.x §5.1.6; Linux include/uapi/linux/virtio_net.h.
//!
//! Fields are little-endian: virtio 1.0 headers are, and TUN uses that order once
//! `TUNSETVNETLE` is set (always on little-endian hosts). The header is 10 bytes
//! (`struct virtio_net_hdr`) or 12 (`virtio_net_hdr_mrg_rxbuf` / `virtio_net_hdr_v1`,
//! with `num_buffers`), as chosen by `TUNSETVNETHDRSZ`.
//!
//! This module checks syntax only: known flag bits and GSO types. Whether the values fit
//! the packet (Linux virtio_net_hdr_to_skb()) is decided where the packet is at hand.

use crate::{Error, Result, need};
use core::fmt;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: csum_start/csum_offset describe a checksum to finish.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was validated.
pub const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_ECN`: the TCP super-packet has CWR set.
pub const GSO_ECN: u8 = 0x80;

mod field {
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: usize = 2;
    pub const GSO_SIZE: usize = 4;
    pub const CSUM_START: usize = 6;
    pub const CSUM_OFFSET: usize = 8;
    pub const NUM_BUFFERS: usize = 10;
}

/// Which header layout precedes the frame (the `TUNSETVNETHDRSZ` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HdrSize {
    /// `struct virtio_net_hdr`, 10 bytes.
    V10,
    /// `struct virtio_net_hdr_mrg_rxbuf`, 12 bytes: adds `num_buffers`.
    V12,
}

impl HdrSize {
    /// Bytes in the header.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(self) -> usize {
        match self {
            HdrSize::V10 => 10,
            HdrSize::V12 => 12,
        }
    }
}

/// `VIRTIO_NET_HDR_GSO_*` without the ECN bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VirtioGsoType {
    None,
    TcpV4,
    /// UFO: IPv4 UDP fragmentation offload.
    Udp,
    TcpV6,
    /// USO: UDP segmentation (IPv4 and IPv6).
    UdpL4,
}

impl VirtioGsoType {
    /// The `gso_type` value; unknown values (including the UDP tunnel bits) are
    /// `Unsupported`.
    pub const fn from_raw(v: u8) -> Result<VirtioGsoType> {
        match v {
            0 => Ok(VirtioGsoType::None),
            1 => Ok(VirtioGsoType::TcpV4),
            3 => Ok(VirtioGsoType::Udp),
            4 => Ok(VirtioGsoType::TcpV6),
            5 => Ok(VirtioGsoType::UdpL4),
            _ => Err(Error::Unsupported),
        }
    }

    pub const fn raw(self) -> u8 {
        match self {
            VirtioGsoType::None => 0,
            VirtioGsoType::TcpV4 => 1,
            VirtioGsoType::Udp => 3,
            VirtioGsoType::TcpV6 => 4,
            VirtioGsoType::UdpL4 => 5,
        }
    }

    pub const fn is_tcp(self) -> bool {
        matches!(self, VirtioGsoType::TcpV4 | VirtioGsoType::TcpV6)
    }
}

impl fmt::Display for VirtioGsoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VirtioGsoType::None => "NONE",
            VirtioGsoType::TcpV4 => "TCPV4",
            VirtioGsoType::Udp => "UDP",
            VirtioGsoType::TcpV6 => "TCPV6",
            VirtioGsoType::UdpL4 => "UDP_L4",
        })
    }
}

#[inline]
fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline]
fn put_le16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// A view over a virtio-net header and the frame after it.
#[derive(Debug, Clone)]
pub struct VirtioNetHdr<T: AsRef<[u8]>> {
    buffer: T,
    size: HdrSize,
}

impl<T: AsRef<[u8]>> VirtioNetHdr<T> {
    pub const fn new_unchecked(buffer: T, size: HdrSize) -> Self {
        VirtioNetHdr { buffer, size }
    }

    pub fn new_checked(buffer: T, size: HdrSize) -> Result<Self> {
        let hdr = Self::new_unchecked(buffer, size);
        hdr.check_len()?;
        Ok(hdr)
    }

    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), self.size.len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub const fn size(&self) -> HdrSize {
        self.size
    }

    /// Raw flag bits.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Raw `gso_type`, ECN bit included.
    pub fn gso_type(&self) -> u8 {
        self.buffer.as_ref()[field::GSO_TYPE]
    }

    pub fn hdr_len(&self) -> u16 {
        le16(self.buffer.as_ref(), field::HDR_LEN)
    }

    pub fn gso_size(&self) -> u16 {
        le16(self.buffer.as_ref(), field::GSO_SIZE)
    }

    pub fn csum_start(&self) -> u16 {
        le16(self.buffer.as_ref(), field::CSUM_START)
    }

    pub fn csum_offset(&self) -> u16 {
        le16(self.buffer.as_ref(), field::CSUM_OFFSET)
    }

    /// `num_buffers` of the 12-byte layout.
    pub fn num_buffers(&self) -> Option<u16> {
        match self.size {
            HdrSize::V10 => None,
            HdrSize::V12 => Some(le16(self.buffer.as_ref(), field::NUM_BUFFERS)),
        }
    }

    /// The frame after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.size.len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VirtioNetHdr<T> {
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS] = v;
    }

    pub fn set_gso_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::GSO_TYPE] = v;
    }

    pub fn set_hdr_len(&mut self, v: u16) {
        put_le16(self.buffer.as_mut(), field::HDR_LEN, v);
    }

    pub fn set_gso_size(&mut self, v: u16) {
        put_le16(self.buffer.as_mut(), field::GSO_SIZE, v);
    }

    pub fn set_csum_start(&mut self, v: u16) {
        put_le16(self.buffer.as_mut(), field::CSUM_START, v);
    }

    pub fn set_csum_offset(&mut self, v: u16) {
        put_le16(self.buffer.as_mut(), field::CSUM_OFFSET, v);
    }

    /// Writes `num_buffers`; a no-op on the 10-byte layout, which has no such field.
    pub fn set_num_buffers(&mut self, v: u16) {
        if self.size == HdrSize::V12 {
            put_le16(self.buffer.as_mut(), field::NUM_BUFFERS, v);
        }
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.size.len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// A parsed virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtioNetHdrRepr {
    pub needs_csum: bool,
    pub data_valid: bool,
    pub gso_type: VirtioGsoType,
    /// `VIRTIO_NET_HDR_GSO_ECN`; only with a TCP `gso_type`.
    pub ecn: bool,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
    /// Present exactly for the 12-byte layout.
    pub num_buffers: Option<u16>,
}

impl VirtioNetHdrRepr {
    /// Flag bits other than NEEDS_CSUM and DATA_VALID (RSC_INFO, UDP_TUNNEL_CSUM, …) are
    /// `Unsupported`: we never negotiate the features behind them. So are unknown GSO types
    /// and the ECN bit on anything but TCP (Linux rejects it on GSO_NONE; on UDP it would
    /// ask for a TCP-only fix-up).
    pub fn parse<T: AsRef<[u8]>>(hdr: &VirtioNetHdr<T>) -> Result<VirtioNetHdrRepr> {
        hdr.check_len()?;
        let flags = hdr.flags();
        if flags & !(F_NEEDS_CSUM | F_DATA_VALID) != 0 {
            return Err(Error::Unsupported);
        }
        let raw = hdr.gso_type();
        let ecn = raw & GSO_ECN != 0;
        let gso_type = VirtioGsoType::from_raw(raw & !GSO_ECN)?;
        let repr = VirtioNetHdrRepr {
            needs_csum: flags & F_NEEDS_CSUM != 0,
            data_valid: flags & F_DATA_VALID != 0,
            gso_type,
            ecn,
            hdr_len: hdr.hdr_len(),
            gso_size: hdr.gso_size(),
            csum_start: hdr.csum_start(),
            csum_offset: hdr.csum_offset(),
            num_buffers: hdr.num_buffers(),
        };
        repr.check_ecn()?;
        Ok(repr)
    }

    fn check_ecn(&self) -> Result<()> {
        if self.ecn && !self.gso_type.is_tcp() {
            return Err(Error::Unsupported);
        }
        Ok(())
    }

    pub const fn size(&self) -> HdrSize {
        match self.num_buffers {
            Some(_) => HdrSize::V12,
            None => HdrSize::V10,
        }
    }

    pub const fn header_len(&self) -> usize {
        self.size().len()
    }

    /// Writes the header at the start of `buf`; refuses (`Unsupported`) what `parse` would.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.check_ecn()?;
        need(buf, self.header_len())?;
        let flags = if self.needs_csum { F_NEEDS_CSUM } else { 0 }
            | if self.data_valid { F_DATA_VALID } else { 0 };
        let mut hdr = VirtioNetHdr::new_unchecked(buf, self.size());
        hdr.set_flags(flags);
        hdr.set_gso_type(self.gso_type.raw() | if self.ecn { GSO_ECN } else { 0 });
        hdr.set_hdr_len(self.hdr_len);
        hdr.set_gso_size(self.gso_size);
        hdr.set_csum_start(self.csum_start);
        hdr.set_csum_offset(self.csum_offset);
        if let Some(n) = self.num_buffers {
            hdr.set_num_buffers(n);
        }
        Ok(())
    }
}

/// `vnet flags NEEDS_CSUM, gso TCPV4 size 1448 hdr_len 66, csum 34+16`
/// (`flags none`, `TCPV4+ECN`, and `, num_buffers N` for the 12-byte layout).
impl fmt::Display for VirtioNetHdrRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vnet flags ")?;
        match (self.needs_csum, self.data_valid) {
            (false, false) => f.write_str("none")?,
            (true, false) => f.write_str("NEEDS_CSUM")?,
            (false, true) => f.write_str("DATA_VALID")?,
            (true, true) => f.write_str("NEEDS_CSUM|DATA_VALID")?,
        }
        write!(f, ", gso {}", self.gso_type)?;
        if self.ecn {
            f.write_str("+ECN")?;
        }
        write!(
            f,
            " size {} hdr_len {}, csum {}+{}",
            self.gso_size, self.hdr_len, self.csum_start, self.csum_offset
        )?;
        if let Some(n) = self.num_buffers {
            write!(f, ", num_buffers {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TSO over Ethernet: NEEDS_CSUM, TCPV4, hdr_len 66, gso_size 1448, csum 34+16.
    #[rustfmt::skip]
    const TSO: [u8; 10] = [
        0x01, 0x01,
        0x42, 0x00,
        0xa8, 0x05,
        0x22, 0x00,
        0x10, 0x00,
    ];

    const TSO_REPR: VirtioNetHdrRepr = VirtioNetHdrRepr {
        needs_csum: true,
        data_valid: false,
        gso_type: VirtioGsoType::TcpV4,
        ecn: false,
        hdr_len: 66,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
        num_buffers: None,
    };

    #[test]
    fn golden_v10() {
        let mut buf = [0xa5; 14];
        TSO_REPR.emit(&mut buf).unwrap();
        assert_eq!(&buf[..10], &TSO);
        assert_eq!(&buf[10..], &[0xa5; 4], "emit wrote past the header");
        let hdr = VirtioNetHdr::new_checked(&buf[..], HdrSize::V10).unwrap();
        assert_eq!(VirtioNetHdrRepr::parse(&hdr), Ok(TSO_REPR));
        assert_eq!(hdr.payload(), &[0xa5; 4]);
        assert_eq!(
            TSO_REPR.to_string(),
            "vnet flags NEEDS_CSUM, gso TCPV4 size 1448 hdr_len 66, csum 34+16"
        );
    }

    #[test]
    fn golden_v12() {
        #[rustfmt::skip]
        let expected: [u8; 12] = [
            0x02, 0x85,
            0x2a, 0x00,
            0xb8, 0x05,
            0x00, 0x00,
            0x00, 0x00,
            0x03, 0x01,
        ];
        let repr = VirtioNetHdrRepr {
            needs_csum: false,
            data_valid: true,
            gso_type: VirtioGsoType::UdpL4,
            ecn: false,
            hdr_len: 42,
            gso_size: 1464,
            csum_start: 0,
            csum_offset: 0,
            num_buffers: Some(0x0103),
        };
        // ECN is TCP-only.
        assert_eq!(
            VirtioNetHdrRepr { ecn: true, ..repr }.emit(&mut [0; 12]),
            Err(Error::Unsupported)
        );
        let mut buf = [0xa5; 12];
        repr.emit(&mut buf).unwrap();
        let mut want = expected;
        want[1] = 0x05;
        assert_eq!(buf, want);
        let hdr = VirtioNetHdr::new_checked(&buf[..], HdrSize::V12).unwrap();
        assert_eq!(VirtioNetHdrRepr::parse(&hdr), Ok(repr));
        assert_eq!(repr.header_len(), 12);
        assert_eq!(
            repr.to_string(),
            "vnet flags DATA_VALID, gso UDP_L4 size 1464 hdr_len 42, csum 0+0, num_buffers 259"
        );
        // The same bytes with the ECN bit on UDP_L4 are refused on parse too.
        let hdr = VirtioNetHdr::new_checked(&expected[..], HdrSize::V12).unwrap();
        assert_eq!(VirtioNetHdrRepr::parse(&hdr), Err(Error::Unsupported));
    }

    #[test]
    fn ecn_with_tcp() {
        let repr = VirtioNetHdrRepr {
            gso_type: VirtioGsoType::TcpV6,
            ecn: true,
            ..TSO_REPR
        };
        let mut buf = [0; 10];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf[1], 0x84);
        let hdr = VirtioNetHdr::new_checked(&buf[..], HdrSize::V10).unwrap();
        assert_eq!(VirtioNetHdrRepr::parse(&hdr), Ok(repr));
        assert!(repr.to_string().contains("gso TCPV6+ECN size"));
    }

    #[test]
    fn every_gso_type_and_flag_byte() {
        for raw in 0..=255u8 {
            let mut buf = TSO;
            buf[1] = raw;
            let hdr = VirtioNetHdr::new_checked(&buf[..], HdrSize::V10).unwrap();
            let ok = matches!(raw, 0 | 1 | 3 | 4 | 5 | 0x81 | 0x84);
            assert_eq!(
                VirtioNetHdrRepr::parse(&hdr).is_ok(),
                ok,
                "gso_type {raw:#x}"
            );
            let mut buf = TSO;
            buf[0] = raw;
            let hdr = VirtioNetHdr::new_checked(&buf[..], HdrSize::V10).unwrap();
            assert_eq!(
                VirtioNetHdrRepr::parse(&hdr).is_ok(),
                raw < 4,
                "flags {raw:#x}"
            );
        }
    }

    #[test]
    fn no_flags_display() {
        let repr = VirtioNetHdrRepr {
            needs_csum: false,
            data_valid: false,
            gso_type: VirtioGsoType::None,
            ecn: false,
            hdr_len: 0,
            gso_size: 0,
            csum_start: 0,
            csum_offset: 0,
            num_buffers: None,
        };
        assert_eq!(
            repr.to_string(),
            "vnet flags none, gso NONE size 0 hdr_len 0, csum 0+0"
        );
        let both = VirtioNetHdrRepr {
            needs_csum: true,
            data_valid: true,
            ..repr
        };
        assert!(
            both.to_string()
                .starts_with("vnet flags NEEDS_CSUM|DATA_VALID,")
        );
        let mut buf = [0; 10];
        both.emit(&mut buf).unwrap();
        assert_eq!(buf[0], 3);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            VirtioNetHdr::new_checked(&TSO[..9], HdrSize::V10).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            VirtioNetHdr::new_checked(&TSO[..], HdrSize::V12).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(TSO_REPR.emit(&mut [0; 9]), Err(Error::Truncated));
        let v12 = VirtioNetHdrRepr {
            num_buffers: Some(1),
            ..TSO_REPR
        };
        assert_eq!(v12.emit(&mut [0; 11]), Err(Error::Truncated));
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; 12];
        let mut hdr = VirtioNetHdr::new_unchecked(&mut buf[..], HdrSize::V12);
        hdr.set_flags(F_NEEDS_CSUM);
        hdr.set_gso_type(1);
        hdr.set_hdr_len(66);
        hdr.set_gso_size(1448);
        hdr.set_csum_start(34);
        hdr.set_csum_offset(16);
        hdr.set_num_buffers(7);
        assert_eq!(hdr.num_buffers(), Some(7));
        assert!(hdr.payload_mut().is_empty());
        assert_eq!(&buf[..10], &TSO);
        let mut short = TSO;
        let mut hdr = VirtioNetHdr::new_unchecked(&mut short[..], HdrSize::V10);
        hdr.set_num_buffers(7);
        assert_eq!(hdr.num_buffers(), None);
        assert_eq!(short, TSO);
    }
}
