//! UDP (RFC 768) and UDP-Lite (RFC 3828) headers. Linux net/ipv4/udp.c __udp4_lib_rcv(),
//! include/net/udplite.h udplite_checksum_init().
//!
//! Both share the 8-byte header; they differ in the third field. In UDP it is the datagram
//! length and the checksum covers that many bytes; in UDP-Lite the datagram length is the
//! IP payload length and the field is the checksum coverage.

use crate::checksum::{csum_fold, csum_partial, csum_tcpudp_magic, csum_tcpudp_nofold};
use crate::{Error, Ipv4Addr, Result, RxChecksum, TxChecksum, be16, need, put16};
use core::fmt;

/// IANA protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IANA protocol number of UDP-Lite.
pub const IPPROTO_UDPLITE: u8 = 136;
/// Length of the UDP (and UDP-Lite) header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LEN: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// The folded, complemented checksum of the UDP pseudo-header plus `base`.
/// `!udp_v4_check(len, s, d, 0)` is what a `CHECKSUM_PARTIAL` datagram carries.
/// Linux include/net/udp.h udp_v4_check().
#[inline]
pub fn udp_v4_check(len: u32, saddr: Ipv4Addr, daddr: Ipv4Addr, base: u32) -> u16 {
    csum_tcpudp_magic(saddr, daddr, len, IPPROTO_UDP, base)
}

/// A view over a UDP or UDP-Lite datagram (header and payload).
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
    lite: bool,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// A UDP view.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket {
            buffer,
            lite: false,
        }
    }

    /// A UDP-Lite view: the whole buffer is the datagram.
    pub const fn new_unchecked_lite(buffer: T) -> Self {
        UdpPacket { buffer, lite: true }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn new_checked_lite(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked_lite(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The header must fit. For UDP the length field must also lie in 8..=buffer length
    /// (`BadLength` below 8, `Truncated` past the end: Linux "short packet"); the UDP-Lite
    /// coverage is checked by [`UdpLiteRepr::parse`].
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        if self.lite {
            return Ok(());
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::BadLength);
        }
        need(b, len)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether this is a UDP-Lite view.
    pub const fn is_lite(&self) -> bool {
        self.lite
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: datagram length (UDP) or checksum coverage (UDP-Lite).
    #[allow(clippy::len_without_is_empty)] // Linux's `uh->len`, not a collection length
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LEN)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Header plus payload: the length field for UDP (trailing bytes are not part of the
    /// datagram, as Linux trims to it), the whole buffer for UDP-Lite.
    pub fn datagram_len(&self) -> usize {
        if self.lite {
            self.buffer.as_ref().len()
        } else {
            usize::from(self.len())
        }
    }

    /// The datagram (header and payload), trimmed to [`Self::datagram_len`].
    pub fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.datagram_len()]
    }

    pub fn payload(&self) -> &[u8] {
        &self.datagram()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::LEN, len);
    }

    pub fn set_checksum(&mut self, checksum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.datagram_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// One tcpdump-like line: `UDP, 1024 > 53, length 12` (payload length), with
/// `, coverage N` for UDP-Lite.
impl<T: AsRef<[u8]>> fmt::Display for UdpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.lite { "UDP-Lite" } else { "UDP" };
        if let Err(e) = self.check_len() {
            return write!(f, "{name}, {e}");
        }
        write!(
            f,
            "{name}, {} > {}, length {}",
            self.src_port(),
            self.dst_port(),
            self.payload().len()
        )?;
        if self.lite {
            write!(f, ", coverage {}", self.len())?;
        }
        Ok(())
    }
}

/// Fails with [`Error::BadChecksum`] unless the first `covered` bytes of `datagram` sum,
/// with the pseudo-header for `datagram.len()`, to zero.
fn verify(datagram: &[u8], covered: usize, src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Result<()> {
    let len = u32::try_from(datagram.len()).map_err(|_| Error::BadLength)?;
    let pseudo = csum_tcpudp_nofold(src, dst, len, proto, 0);
    match csum_fold(csum_partial(&datagram[..covered], pseudo)) {
        0 => Ok(()),
        _ => Err(Error::BadChecksum),
    }
}

/// Writes the header of the datagram filling `buf` and its checksum over `covered` bytes.
/// The caller has checked `HEADER_LEN <= covered <= buf.len() <= 65535`.
#[allow(clippy::too_many_arguments)]
fn emit_header(
    buf: &mut [u8],
    ports: (u16, u16),
    len_field: u16,
    covered: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    csum: TxChecksum,
) {
    // Fits: the caller bounded it by 65535.
    let len = buf.len() as u32;
    put16(buf, field::SRC_PORT, ports.0);
    put16(buf, field::DST_PORT, ports.1);
    put16(buf, field::LEN, len_field);
    put16(buf, field::CHECKSUM, 0);
    let check = match csum {
        TxChecksum::Full => {
            let pseudo = csum_tcpudp_nofold(src, dst, len, proto, 0);
            // RFC 768: a computed zero is sent as all ones; zero means "no checksum".
            match csum_fold(csum_partial(&buf[..covered], pseudo)) {
                0 => 0xffff,
                c => c,
            }
        }
        TxChecksum::Partial => !csum_tcpudp_magic(src, dst, len, proto, 0),
        TxChecksum::None => 0,
    };
    put16(buf, field::CHECKSUM, check);
}

/// Checks that `buf` can hold a whole datagram: a header, at most 65535 bytes.
fn check_datagram_len(buf: &[u8]) -> Result<u16> {
    need(buf, HEADER_LEN)?;
    u16::try_from(buf.len()).map_err(|_| Error::BadLength)
}

/// A parsed UDP header. The length is the datagram's, so the repr holds only the ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl UdpRepr {
    /// RFC 768; Linux net/ipv4/udp.c __udp4_lib_rcv(), udp4_csum_init(). A zero checksum
    /// means "not computed" and is accepted; otherwise it must verify over the `len` bytes.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: RxChecksum,
    ) -> Result<UdpRepr> {
        if packet.is_lite() {
            return Err(Error::Unsupported);
        }
        packet.check_len()?;
        if csum == RxChecksum::Verify && packet.checksum() != 0 {
            let datagram = packet.datagram();
            verify(datagram, datagram.len(), src, dst, IPPROTO_UDP)?;
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header of the datagram that fills `buf` (payload already in place after
    /// the header): length = `buf.len()`. Linux udp_send_skb(), udp4_hwcsum().
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: TxChecksum,
    ) -> Result<()> {
        let len = check_datagram_len(buf)?;
        let covered = buf.len();
        let ports = (self.src_port, self.dst_port);
        emit_header(buf, ports, len, covered, src, dst, IPPROTO_UDP, csum);
        Ok(())
    }
}

/// A parsed UDP-Lite header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpLiteRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// The checksum coverage field: bytes from the start of the header; 0 = the whole
    /// datagram.
    pub coverage: u16,
}

impl UdpLiteRepr {
    /// RFC 3828 §3.1; Linux include/net/udplite.h udplite_checksum_init(). In Linux's order:
    /// coverage past the datagram → `BadLength` ("short packet"), zero checksum →
    /// `BadChecksum` (checksums are mandatory), coverage 1..=7 → `BadLength`. The
    /// pseudo-header carries the datagram (IP payload) length; the sum covers `coverage`.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: RxChecksum,
    ) -> Result<UdpLiteRepr> {
        if !packet.is_lite() {
            return Err(Error::Unsupported);
        }
        packet.check_len()?;
        let datagram = packet.datagram();
        if usize::from(packet.len()) > datagram.len() {
            return Err(Error::BadLength);
        }
        if packet.checksum() == 0 {
            return Err(Error::BadChecksum);
        }
        let repr = UdpLiteRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            coverage: packet.len(),
        };
        let covered = repr.covered(datagram.len())?;
        if csum == RxChecksum::Verify {
            verify(datagram, covered, src, dst, IPPROTO_UDPLITE)?;
        }
        Ok(repr)
    }

    /// Bytes the checksum covers in a datagram of `len` bytes.
    pub fn covered(&self, len: usize) -> Result<usize> {
        match usize::from(self.coverage) {
            0 => Ok(len),
            c if c < HEADER_LEN || c > len => Err(Error::BadLength),
            c => Ok(c),
        }
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header of the datagram that fills `buf`, as [`UdpRepr::emit`].
    /// A checksum is mandatory: [`TxChecksum::None`] is `Unsupported`, and so is
    /// [`TxChecksum::Partial`] unless the coverage is the whole datagram (a device sums to
    /// the end; Linux never offloads UDP-Lite).
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: TxChecksum,
    ) -> Result<()> {
        check_datagram_len(buf)?;
        let covered = self.covered(buf.len())?;
        match csum {
            TxChecksum::None => return Err(Error::Unsupported),
            TxChecksum::Partial if covered != buf.len() => return Err(Error::Unsupported),
            _ => {}
        }
        let ports = (self.src_port, self.dst_port);
        emit_header(
            buf,
            ports,
            self.coverage,
            covered,
            src,
            dst,
            IPPROTO_UDPLITE,
            csum,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::csum_complete_partial;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// 10.0.0.1:1024 > 10.0.0.2:53, payload "abcd". Checksum by hand (RFC 1071):
    /// pseudo 0a00+0001+0a00+0002+0011+000c = 0x1420; header 0400+0035+000c = 0x0441;
    /// payload 6162+6364 = 0xc4c6. Sum 0x1420+0x0441+0xc4c6 = 0xdd27 → ~ = 0x22d8.
    #[rustfmt::skip]
    const GOLDEN: [u8; 12] = [
        0x04, 0x00, 0x00, 0x35,
        0x00, 0x0c, 0x22, 0xd8,
        b'a', b'b', b'c', b'd',
    ];

    fn filled(payload: &[u8], extra: usize) -> Vec<u8> {
        let mut buf = vec![0xa5; HEADER_LEN + payload.len() + extra];
        buf[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        buf
    }

    const REPR: UdpRepr = UdpRepr {
        src_port: 1024,
        dst_port: 53,
    };

    #[test]
    fn golden_udp() {
        let mut buf = filled(b"abcd", 3);
        REPR.emit(&mut buf[..12], SRC, DST, TxChecksum::Full)
            .unwrap();
        assert_eq!(&buf[..12], &GOLDEN);
        assert_eq!(&buf[12..], &[0xa5; 3], "emit wrote past the datagram");
        // Trailing bytes (Ethernet padding) are not part of the datagram.
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.payload(), b"abcd");
        assert_eq!(
            UdpRepr::parse(&packet, SRC, DST, RxChecksum::Verify).unwrap(),
            REPR
        );
        assert_eq!(packet.to_string(), "UDP, 1024 > 53, length 4");
    }

    #[test]
    fn zero_checksum_accepted_and_emitted() {
        let mut buf = GOLDEN;
        REPR.emit(&mut buf, SRC, DST, TxChecksum::None).unwrap();
        assert_eq!(&buf[6..8], &[0, 0]);
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(REPR)
        );
    }

    #[test]
    fn computed_zero_sent_as_ffff() {
        // 1.2.3.4 > 5.6.7.8 ports 0 > 0, 2-byte payload chosen so the sum is 0xffff.
        let (s, d) = (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8));
        let repr = UdpRepr {
            src_port: 0,
            dst_port: 0,
        };
        // Pseudo 0102+0304+0506+0708+0011+000a = 0x102f, plus the header's length word
        // 0x000a: 0x1039; the payload word 0xefc6 brings the sum to 0xffff.
        let mut buf = [0, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xc6];
        repr.emit(&mut buf, s, d, TxChecksum::Full).unwrap();
        assert_eq!(&buf[6..8], &[0xff, 0xff]);
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(UdpRepr::parse(&packet, s, d, RxChecksum::Verify), Ok(repr));
    }

    #[test]
    fn partial_then_complete() {
        let mut buf = filled(b"abcd", 0);
        REPR.emit(&mut buf, SRC, DST, TxChecksum::Partial).unwrap();
        // Folded pseudo-header sum, uncomplemented: 0x1420.
        assert_eq!(&buf[6..8], &[0x14, 0x20]);
        assert_eq!(!udp_v4_check(12, SRC, DST, 0), 0x1420);
        csum_complete_partial(&mut buf, 0, 6).unwrap();
        assert_eq!(buf, GOLDEN);
    }

    #[test]
    fn bad_checksum() {
        let mut buf = GOLDEN;
        buf[11] ^= 1;
        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
        assert_eq!(
            UdpRepr::parse(&packet, SRC, DST, RxChecksum::Skip),
            Ok(REPR)
        );
        // The addresses are covered too.
        let packet = UdpPacket::new_checked(&GOLDEN[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&packet, DST, DST, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            UdpPacket::new_checked(&GOLDEN[..7]).unwrap_err(),
            Error::Truncated
        );
        // Length field past the buffer: Linux "short packet".
        assert_eq!(
            UdpPacket::new_checked(&GOLDEN[..11]).unwrap_err(),
            Error::Truncated
        );
        for len in [0u16, 7] {
            let mut buf = GOLDEN;
            buf[4..6].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                UdpPacket::new_checked(&buf[..]).unwrap_err(),
                Error::BadLength
            );
            // parse re-checks an unchecked view.
            assert_eq!(
                UdpRepr::parse(
                    &UdpPacket::new_unchecked(&buf[..]),
                    SRC,
                    DST,
                    RxChecksum::Skip
                ),
                Err(Error::BadLength)
            );
        }
        assert_eq!(
            REPR.emit(&mut [0; 7], SRC, DST, TxChecksum::Full),
            Err(Error::Truncated)
        );
        assert_eq!(
            REPR.emit(&mut vec![0; 65536], SRC, DST, TxChecksum::Full),
            Err(Error::BadLength)
        );
        // A header-only datagram of maximal size works.
        let mut big = vec![0; 65535];
        REPR.emit(&mut big, SRC, DST, TxChecksum::Full).unwrap();
        let packet = UdpPacket::new_checked(&big[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(REPR)
        );
        assert_eq!(packet.payload().len(), 65527);
    }

    #[test]
    fn wrong_flavour_is_unsupported() {
        let udp = UdpPacket::new_checked(&GOLDEN[..]).unwrap();
        let lite = UdpPacket::new_checked_lite(&GOLDEN[..]).unwrap();
        assert_eq!(
            UdpLiteRepr::parse(&udp, SRC, DST, RxChecksum::Skip),
            Err(Error::Unsupported)
        );
        assert_eq!(
            UdpRepr::parse(&lite, SRC, DST, RxChecksum::Skip),
            Err(Error::Unsupported)
        );
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; 12];
        let mut packet = UdpPacket::new_unchecked(&mut buf[..]);
        packet.set_src_port(1024);
        packet.set_dst_port(53);
        packet.set_len(12);
        packet.set_checksum(0x22d8);
        packet.payload_mut().copy_from_slice(b"abcd");
        assert_eq!(packet.into_inner(), &GOLDEN[..]);
    }

    /// UDP-Lite 10.0.0.1:1024 > 10.0.0.2:53, coverage 8 (header only), payload "abcd".
    /// Pseudo 0a00+0001+0a00+0002+0088+000c = 0x1497 (length = datagram length 12);
    /// header 0400+0035+0008 = 0x043d. Sum 0x18d4 → ~ = 0xe72b.
    #[rustfmt::skip]
    const LITE: [u8; 12] = [
        0x04, 0x00, 0x00, 0x35,
        0x00, 0x08, 0xe7, 0x2b,
        b'a', b'b', b'c', b'd',
    ];

    const LITE_REPR: UdpLiteRepr = UdpLiteRepr {
        src_port: 1024,
        dst_port: 53,
        coverage: 8,
    };

    #[test]
    fn golden_udplite_partial_coverage() {
        let mut buf = filled(b"abcd", 2);
        LITE_REPR
            .emit(&mut buf[..12], SRC, DST, TxChecksum::Full)
            .unwrap();
        assert_eq!(&buf[..12], &LITE);
        assert_eq!(&buf[12..], &[0xa5; 2]);
        let packet = UdpPacket::new_checked_lite(&LITE[..]).unwrap();
        assert_eq!(
            UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(LITE_REPR)
        );
        assert_eq!(packet.payload(), b"abcd");
        assert_eq!(
            packet.to_string(),
            "UDP-Lite, 1024 > 53, length 4, coverage 8"
        );
        // Uncovered bytes may change freely.
        let mut changed = LITE;
        changed[11] ^= 0xff;
        let packet = UdpPacket::new_checked_lite(&changed[..]).unwrap();
        assert_eq!(
            UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(LITE_REPR)
        );
        // Covered ones may not.
        changed[7] ^= 1;
        let packet = UdpPacket::new_checked_lite(&changed[..]).unwrap();
        assert_eq!(
            UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn udplite_full_coverage() {
        for coverage in [0u16, 12] {
            let repr = UdpLiteRepr {
                coverage,
                ..LITE_REPR
            };
            let mut buf = filled(b"abcd", 0);
            repr.emit(&mut buf, SRC, DST, TxChecksum::Full).unwrap();
            let packet = UdpPacket::new_checked_lite(&buf[..]).unwrap();
            assert_eq!(
                UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
                Ok(repr)
            );
            let full = buf.clone();
            // The checksum equals a UDP checksum with protocol 136 over everything.
            let mut partial = filled(b"abcd", 0);
            repr.emit(&mut partial, SRC, DST, TxChecksum::Partial)
                .unwrap();
            csum_complete_partial(&mut partial, 0, 6).unwrap();
            assert_eq!(partial, full);
        }
    }

    #[test]
    fn udplite_errors() {
        let parse = |b: &[u8]| {
            UdpLiteRepr::parse(
                &UdpPacket::new_checked_lite(b).unwrap(),
                SRC,
                DST,
                RxChecksum::Skip,
            )
        };
        let mut zero = LITE;
        zero[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(parse(&zero), Err(Error::BadChecksum));
        for cov in [1u16, 7, 13, 0xffff] {
            let mut buf = LITE;
            buf[4..6].copy_from_slice(&cov.to_be_bytes());
            assert_eq!(parse(&buf), Err(Error::BadLength), "coverage {cov}");
            let repr = UdpLiteRepr {
                coverage: cov,
                ..LITE_REPR
            };
            assert_eq!(
                repr.emit(&mut buf, SRC, DST, TxChecksum::Full),
                Err(Error::BadLength)
            );
        }
        // Coverage past the datagram wins over a zero checksum, as in Linux.
        let mut both = zero;
        both[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(parse(&both), Err(Error::BadLength));
        assert_eq!(
            UdpPacket::new_checked_lite(&LITE[..7]).unwrap_err(),
            Error::Truncated
        );
        let mut buf = LITE;
        assert_eq!(
            LITE_REPR.emit(&mut buf, SRC, DST, TxChecksum::None),
            Err(Error::Unsupported)
        );
        assert_eq!(
            LITE_REPR.emit(&mut buf, SRC, DST, TxChecksum::Partial),
            Err(Error::Unsupported)
        );
        assert_eq!(
            LITE_REPR.emit(&mut buf[..7], SRC, DST, TxChecksum::Full),
            Err(Error::Truncated)
        );
        assert_eq!(buf, LITE, "failed emits must not write");
    }

    #[test]
    fn display_on_bad_view() {
        let packet = UdpPacket::new_unchecked(&GOLDEN[..5]);
        assert_eq!(packet.to_string(), "UDP, truncated");
    }
}
