//! TCP header (RFC 9293 §3.1) with its options carried raw, and an options reader.
//! Linux net/ipv4/tcp_ipv4.c tcp_v4_rcv(), net/ipv4/tcp_input.c tcp_parse_options().

use crate::checksum::{csum_fold, csum_partial, csum_tcpudp_magic, csum_tcpudp_nofold};
use crate::{Error, Ipv4Addr, Result, RxChecksum, TxChecksum, be16, be32, need, put16, put32};
use core::{fmt, ops};

/// IANA protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Longest option space: data offset 15 words minus the fixed header.
pub const MAX_OPTIONS_LEN: usize = 40;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    /// Data offset (4 bits), reserved (3 bits), then the nine flag bits.
    pub const DOFF_FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// The folded, complemented checksum of the TCP pseudo-header plus `base`.
/// `!tcp_v4_check(len, s, d, 0)` is what a `CHECKSUM_PARTIAL` segment carries.
/// Linux include/net/tcp.h tcp_v4_check().
#[inline]
pub fn tcp_v4_check(len: u32, saddr: Ipv4Addr, daddr: Ipv4Addr, base: u32) -> u16 {
    csum_tcpudp_magic(saddr, daddr, len, IPPROTO_TCP, base)
}

/// The nine TCP control bits (RFC 9293 §3.1; ECE/CWR RFC 3168; AE from AccECN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u16);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x001);
    pub const SYN: TcpFlags = TcpFlags(0x002);
    pub const RST: TcpFlags = TcpFlags(0x004);
    pub const PSH: TcpFlags = TcpFlags(0x008);
    pub const ACK: TcpFlags = TcpFlags(0x010);
    pub const URG: TcpFlags = TcpFlags(0x020);
    pub const ECE: TcpFlags = TcpFlags(0x040);
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// Accurate ECN, formerly NS (RFC 3540).
    pub const AE: TcpFlags = TcpFlags(0x100);
    const MASK: u16 = 0x1ff;

    /// The flags in the low nine bits of `bits`; higher bits are dropped.
    pub const fn from_bits(bits: u16) -> TcpFlags {
        TcpFlags(bits & Self::MASK)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// All of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Any of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
}

impl ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        *self = self.union(rhs);
    }
}

impl ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl ops::BitAndAssign for TcpFlags {
    fn bitand_assign(&mut self, rhs: TcpFlags) {
        self.0 &= rhs.0;
    }
}

impl ops::Not for TcpFlags {
    type Output = TcpFlags;
    fn not(self) -> TcpFlags {
        TcpFlags::from_bits(!self.0)
    }
}

/// tcpdump's notation: `[S.]`, `[P.]`, `[R]`, `[none]`; letters in tcpdump's order
/// F S R P . U E W e (`.` is ACK, `e` is AE).
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: [(TcpFlags, char); 9] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
            (TcpFlags::AE, 'e'),
        ];
        f.write_str("[")?;
        if self.is_empty() {
            f.write_str("none")?;
        }
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                write!(f, "{letter}")?;
            }
        }
        f.write_str("]")
    }
}

/// A view over a TCP segment (header, options and payload).
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Linux tcp_v4_rcv(): the fixed header must fit (`Truncated`), the data offset must be
    /// at least 5 (`BadHeaderLen`), and the header it claims must fit (`Truncated`).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        if self.header_len() < HEADER_LEN {
            return Err(Error::BadHeaderLen);
        }
        need(b, self.header_len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }

    /// The data offset field, in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        self.buffer.as_ref()[field::DOFF_FLAGS] >> 4
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits(be16(self.buffer.as_ref(), field::DOFF_FLAGS))
    }

    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn urgent(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// The raw option bytes, padding included.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    pub fn options_iter(&self) -> TcpOptionIter<'_> {
        TcpOptionIter::new(self.options())
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_seq(&mut self, seq: u32) {
        put32(self.buffer.as_mut(), field::SEQ, seq);
    }

    pub fn set_ack(&mut self, ack: u32) {
        put32(self.buffer.as_mut(), field::ACK, ack);
    }

    /// Sets the data offset (in words, low four bits used), keeping the other bits.
    pub fn set_data_offset(&mut self, words: u8) {
        let b = &mut self.buffer.as_mut()[field::DOFF_FLAGS];
        *b = (words << 4) | (*b & 0x0f);
    }

    /// Sets the nine flag bits, keeping the data offset and the reserved bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let b = self.buffer.as_mut();
        let word = be16(b, field::DOFF_FLAGS) & !TcpFlags::MASK | flags.bits();
        put16(b, field::DOFF_FLAGS, word);
    }

    pub fn set_window(&mut self, window: u16) {
        put16(self.buffer.as_mut(), field::WINDOW, window);
    }

    pub fn set_checksum(&mut self, checksum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    pub fn set_urgent(&mut self, urgent: u16) {
        put16(self.buffer.as_mut(), field::URGENT, urgent);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// One tcpdump-like line:
/// `TCP 1024 > 80: Flags [S.], seq 100, ack 7, win 65535, options 20 bytes, length 0`
/// (`ack` when ACK is set, `urg` when URG is set, `options` when there are any).
impl<T: AsRef<[u8]>> fmt::Display for TcpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Err(e) = self.check_len() {
            return write!(f, "TCP, {e}");
        }
        let flags = self.flags();
        write!(
            f,
            "TCP {} > {}: Flags {flags}, seq {}",
            self.src_port(),
            self.dst_port(),
            self.seq()
        )?;
        if flags.contains(TcpFlags::ACK) {
            write!(f, ", ack {}", self.ack())?;
        }
        write!(f, ", win {}", self.window())?;
        if flags.contains(TcpFlags::URG) {
            write!(f, ", urg {}", self.urgent())?;
        }
        if !self.options().is_empty() {
            write!(f, ", options {} bytes", self.options().len())?;
        }
        write!(f, ", length {}", self.payload().len())
    }
}

/// One TCP option (RFC 9293 §3.2, RFC 7323, RFC 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list; what follows is padding.
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// SACK blocks, 8 bytes each (left edge, right edge).
    Sack(&'a [u8]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// Walks option bytes as Linux tcp_parse_options() does. A broken frame (a length byte
/// missing, below 2, or past the end) yields `Err(BadLength)` and ends the walk; a known
/// kind with the wrong length yields `Err(BadLength)` for that option only (Linux skips
/// it), and the walk goes on. `Eol` ends the walk.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    pub const fn new(options: &'a [u8]) -> Self {
        TcpOptionIter { rest: options }
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            0 => {
                self.rest = &[];
                return Some(Ok(TcpOption::Eol));
            }
            1 => {
                self.rest = after;
                return Some(Ok(TcpOption::Nop));
            }
            _ => {}
        }
        let len = match after.first() {
            Some(&len) if len >= 2 && usize::from(len) <= self.rest.len() => usize::from(len),
            _ => {
                self.rest = &[];
                return Some(Err(Error::BadLength));
            }
        };
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let option = match (kind, data.len()) {
            (2, 2) => TcpOption::Mss(be16(data, 0)),
            (3, 1) => TcpOption::WindowScale(data[0]),
            (4, 0) => TcpOption::SackPermitted,
            (5, n) if n >= 8 && n % 8 == 0 => TcpOption::Sack(data),
            (8, 8) => TcpOption::Timestamp {
                tsval: be32(data, 0),
                tsecr: be32(data, 4),
            },
            (2..=5 | 8, _) => return Some(Err(Error::BadLength)),
            _ => TcpOption::Unknown { kind, data },
        };
        Some(Ok(option))
    }
}

/// A parsed TCP header; the options stay raw bytes (padding included) borrowed from the
/// segment, so a re-emit reproduces them exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// RFC 9293 §3.1; Linux tcp_v4_rcv(), tcp_v4_checksum_init(). The checksum covers the
    /// whole buffer (the IP payload) with its pseudo-header; there is no "no checksum".
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: RxChecksum,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        let segment: &'a [u8] = T::as_ref(packet.buffer);
        if csum == RxChecksum::Verify {
            let len = u32::try_from(segment.len()).map_err(|_| Error::BadLength)?;
            let pseudo = csum_tcpudp_nofold(src, dst, len, IPPROTO_TCP, 0);
            if csum_fold(csum_partial(segment, pseudo)) != 0 {
                return Err(Error::BadChecksum);
            }
        }
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq(),
            ack: packet.ack(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent(),
            options: &segment[HEADER_LEN..packet.header_len()],
        })
    }

    /// Header length with options; meaningful once `emit` accepts the options.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    pub fn options_iter(&self) -> TcpOptionIter<'a> {
        TcpOptionIter::new(self.options)
    }

    /// Writes the header of the segment that fills `buf` (payload already in place after
    /// the header); reserved bits are written as zero. Options must be whole words, at
    /// most 40 bytes (`BadHeaderLen`). Linux tcp_transmit_skb(), __tcp_v4_send_check().
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: TxChecksum,
    ) -> Result<()> {
        if !self.options.len().is_multiple_of(4) || self.options.len() > MAX_OPTIONS_LEN {
            return Err(Error::BadHeaderLen);
        }
        let header_len = self.header_len();
        need(buf, header_len)?;
        let len = u32::try_from(buf.len()).map_err(|_| Error::BadLength)?;
        put16(buf, field::SRC_PORT, self.src_port);
        put16(buf, field::DST_PORT, self.dst_port);
        put32(buf, field::SEQ, self.seq);
        put32(buf, field::ACK, self.ack);
        // header_len <= 60, so the data offset fits its four bits.
        let doff = (header_len / 4) as u16;
        put16(buf, field::DOFF_FLAGS, doff << 12 | self.flags.bits());
        put16(buf, field::WINDOW, self.window);
        put16(buf, field::CHECKSUM, 0);
        put16(buf, field::URGENT, self.urgent);
        buf[HEADER_LEN..header_len].copy_from_slice(self.options);
        let check = match csum {
            TxChecksum::Full => csum_fold(csum_partial(
                buf,
                csum_tcpudp_nofold(src, dst, len, IPPROTO_TCP, 0),
            )),
            TxChecksum::Partial => !tcp_v4_check(len, src, dst, 0),
            TxChecksum::None => 0,
        };
        put16(buf, field::CHECKSUM, check);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::csum_complete_partial;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// MSS 1460, SACK permitted, timestamps 1/0, NOP, window scale 7: Linux's SYN layout.
    #[rustfmt::skip]
    const SYN_OPTIONS: [u8; 20] = [
        0x02, 0x04, 0x05, 0xb4,
        0x04, 0x02,
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x01,
        0x03, 0x03, 0x07,
    ];

    /// 10.0.0.1:1024 > 10.0.0.2:80 [S] seq 100 win 65535 with SYN_OPTIONS, no payload.
    /// Checksum by hand: pseudo 0a00+0001+0a00+0002+0006+0028 = 0x1431;
    /// header 0400+0050+0000+0064+0000+0000+a002+ffff+0000+0000 = 0x1a4b5;
    /// options 0204+05b4+0402+080a+0000+0001+0000+0000+0103+0307 = 0x17cf.
    /// Sum 0x1431+0x1a4b5+0x17cf = 0x1d0b5 → 0xd0b6 → ~ = 0x2f49.
    #[rustfmt::skip]
    const SYN: [u8; 40] = [
        0x04, 0x00, 0x00, 0x50,
        0x00, 0x00, 0x00, 0x64,
        0x00, 0x00, 0x00, 0x00,
        0xa0, 0x02, 0xff, 0xff,
        0x2f, 0x49, 0x00, 0x00,
        0x02, 0x04, 0x05, 0xb4,
        0x04, 0x02,
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x01,
        0x03, 0x03, 0x07,
    ];

    const SYN_REPR: TcpRepr<'static> = TcpRepr {
        src_port: 1024,
        dst_port: 80,
        seq: 100,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 65535,
        urgent: 0,
        options: &SYN_OPTIONS,
    };

    #[test]
    fn golden_syn() {
        let mut buf = [0xa5; 44];
        SYN_REPR
            .emit(&mut buf[..40], SRC, DST, TxChecksum::Full)
            .unwrap();
        assert_eq!(&buf[..40], &SYN);
        assert_eq!(&buf[40..], &[0xa5; 4], "emit wrote past the segment");
        let packet = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(packet.header_len(), 40);
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(SYN_REPR)
        );
        assert_eq!(
            packet.to_string(),
            "TCP 1024 > 80: Flags [S], seq 100, win 65535, options 20 bytes, length 0"
        );
        let options: Vec<_> = packet.options_iter().collect();
        assert_eq!(
            options,
            [
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamp { tsval: 1, tsecr: 0 }),
                Ok(TcpOption::Nop),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    /// 10.0.0.1:1024 > 10.0.0.2:80 [P.] seq 101 ack 5000 win 502, payload "hi".
    /// Pseudo 0a00+0001+0a00+0002+0006+0016 = 0x141f; header 0400+0050+0000+0065
    /// +0000+1388+5018+01f6 = 0x6a4b; payload 6869. Sum 0xe6d3 → ~ = 0x192c.
    #[rustfmt::skip]
    const DATA: [u8; 22] = [
        0x04, 0x00, 0x00, 0x50,
        0x00, 0x00, 0x00, 0x65,
        0x00, 0x00, 0x13, 0x88,
        0x50, 0x18, 0x01, 0xf6,
        0x19, 0x2c, 0x00, 0x00,
        b'h', b'i',
    ];

    const DATA_REPR: TcpRepr<'static> = TcpRepr {
        src_port: 1024,
        dst_port: 80,
        seq: 101,
        ack: 5000,
        flags: TcpFlags::PSH.union(TcpFlags::ACK),
        window: 502,
        urgent: 0,
        options: &[],
    };

    #[test]
    fn golden_data_segment() {
        let mut buf = [0xa5; 22];
        buf[20..].copy_from_slice(b"hi");
        DATA_REPR
            .emit(&mut buf, SRC, DST, TxChecksum::Full)
            .unwrap();
        assert_eq!(buf, DATA);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.payload(), b"hi");
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(DATA_REPR)
        );
        assert_eq!(
            packet.to_string(),
            "TCP 1024 > 80: Flags [P.], seq 101, ack 5000, win 502, length 2"
        );
    }

    #[test]
    fn partial_then_complete() {
        let mut buf = [0u8; 22];
        buf[20..].copy_from_slice(b"hi");
        DATA_REPR
            .emit(&mut buf, SRC, DST, TxChecksum::Partial)
            .unwrap();
        assert_eq!(&buf[16..18], &0x141fu16.to_be_bytes());
        assert_eq!(!tcp_v4_check(22, SRC, DST, 0), 0x141f);
        csum_complete_partial(&mut buf, 0, 16).unwrap();
        assert_eq!(buf, DATA);
        DATA_REPR
            .emit(&mut buf, SRC, DST, TxChecksum::None)
            .unwrap();
        assert_eq!(&buf[16..18], &[0, 0]);
    }

    #[test]
    fn bad_checksum() {
        let mut buf = DATA;
        buf[21] ^= 0x40;
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
        assert!(TcpRepr::parse(&packet, SRC, DST, RxChecksum::Skip).is_ok());
        // No "zero means none" rule in TCP.
        buf = DATA;
        buf[16..18].copy_from_slice(&[0, 0]);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            TcpPacket::new_checked(&DATA[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&SYN[..39]).unwrap_err(),
            Error::Truncated
        );
        for doff in 0..5u8 {
            let mut buf = DATA;
            buf[12] = doff << 4;
            assert_eq!(
                TcpPacket::new_checked(&buf[..]).unwrap_err(),
                Error::BadHeaderLen
            );
            assert_eq!(
                TcpRepr::parse(
                    &TcpPacket::new_unchecked(&buf[..]),
                    SRC,
                    DST,
                    RxChecksum::Skip
                ),
                Err(Error::BadHeaderLen)
            );
        }
        let mut buf = [0xa5u8; 60];
        for bad in [&[1u8, 1, 1][..], &[1; 44][..]] {
            let repr = TcpRepr {
                options: bad,
                ..DATA_REPR
            };
            assert_eq!(
                repr.emit(&mut buf, SRC, DST, TxChecksum::Full),
                Err(Error::BadHeaderLen)
            );
        }
        assert_eq!(
            SYN_REPR.emit(&mut buf[..39], SRC, DST, TxChecksum::Full),
            Err(Error::Truncated)
        );
        assert_eq!(buf, [0xa5; 60], "failed emits must not write");
        // 40 bytes of options is the maximum and round-trips.
        let repr = TcpRepr {
            options: &[1; 40],
            ..DATA_REPR
        };
        repr.emit(&mut buf, SRC, DST, TxChecksum::Full).unwrap();
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify),
            Ok(repr)
        );
    }

    #[test]
    fn reserved_bits_ignored_on_parse_zeroed_on_emit() {
        let mut buf = DATA;
        buf[12] |= 0x0e;
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        let repr = TcpRepr::parse(&packet, SRC, DST, RxChecksum::Skip).unwrap();
        assert_eq!(repr, DATA_REPR);
        let mut buf = [0u8; 22];
        buf[20..].copy_from_slice(b"hi");
        repr.emit(&mut buf, SRC, DST, TxChecksum::Full).unwrap();
        assert_eq!(buf, DATA);
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; 22];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        packet.set_src_port(1024);
        packet.set_dst_port(80);
        packet.set_seq(101);
        packet.set_ack(5000);
        packet.set_flags(TcpFlags::PSH | TcpFlags::ACK);
        packet.set_data_offset(5);
        packet.set_window(502);
        packet.set_checksum(0x192c);
        packet.set_urgent(0);
        assert!(packet.options_mut().is_empty());
        packet.payload_mut().copy_from_slice(b"hi");
        assert_eq!(packet.into_inner(), &DATA[..]);
    }

    #[test]
    fn flags_display_and_ops() {
        let cases = [
            (TcpFlags::SYN, "[S]"),
            (TcpFlags::SYN | TcpFlags::ACK, "[S.]"),
            (TcpFlags::PSH | TcpFlags::ACK, "[P.]"),
            (TcpFlags::FIN | TcpFlags::ACK, "[F.]"),
            (TcpFlags::RST, "[R]"),
            (TcpFlags::ECE, "[E]"),
            (TcpFlags::CWR, "[W]"),
            (TcpFlags::URG | TcpFlags::ACK, "[.U]"),
            (
                TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::AE,
                "[SEWe]",
            ),
            (TcpFlags::empty(), "[none]"),
        ];
        for (flags, text) in cases {
            assert_eq!(flags.to_string(), text);
        }
        let mut f = TcpFlags::SYN;
        f |= TcpFlags::ACK;
        assert!(f.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(f.intersects(TcpFlags::SYN | TcpFlags::FIN));
        f &= !TcpFlags::SYN;
        assert_eq!(f, TcpFlags::ACK);
        assert_eq!((!TcpFlags::empty()).bits(), 0x1ff);
        assert_eq!(TcpFlags::from_bits(0xffff).bits(), 0x1ff);
        assert_eq!(TcpFlags::AE.bits(), 0x100);
    }

    #[test]
    fn ae_flag_on_the_wire() {
        let repr = TcpRepr {
            flags: TcpFlags::AE | TcpFlags::ACK,
            ..DATA_REPR
        };
        let mut buf = [0u8; 20];
        repr.emit(&mut buf, SRC, DST, TxChecksum::None).unwrap();
        assert_eq!(&buf[12..14], &[0x51, 0x10]);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.flags(), TcpFlags::AE | TcpFlags::ACK);
    }

    #[test]
    fn urgent_display() {
        let repr = TcpRepr {
            flags: TcpFlags::URG | TcpFlags::ACK,
            urgent: 3,
            ..DATA_REPR
        };
        let mut buf = [0u8; 20];
        repr.emit(&mut buf, SRC, DST, TxChecksum::None).unwrap();
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap().to_string(),
            "TCP 1024 > 80: Flags [.U], seq 101, ack 5000, win 502, urg 3, length 0"
        );
        assert_eq!(
            TcpPacket::new_unchecked(&buf[..3]).to_string(),
            "TCP, truncated"
        );
    }

    #[test]
    fn options_sack_unknown_eol() {
        #[rustfmt::skip]
        let bytes = [
            0x01, 0x01,
            0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
            0x1e, 0x04, 0xaa, 0xbb,
            0x00, 0xff, 0xff,
        ];
        let options: Vec<_> = TcpOptionIter::new(&bytes).collect();
        assert_eq!(
            options,
            [
                Ok(TcpOption::Nop),
                Ok(TcpOption::Nop),
                Ok(TcpOption::Sack(&bytes[4..20])),
                Ok(TcpOption::Unknown {
                    kind: 0x1e,
                    data: &[0xaa, 0xbb]
                }),
                Ok(TcpOption::Eol),
            ]
        );
    }

    #[test]
    fn options_malformed() {
        fn walk(b: &[u8]) -> Vec<Result<TcpOption<'_>>> {
            TcpOptionIter::new(b).collect()
        }
        // Framing errors end the walk.
        assert_eq!(walk(&[0x02]), [Err(Error::BadLength)]);
        assert_eq!(walk(&[0x1e, 0x01, 0x01]), [Err(Error::BadLength)]);
        assert_eq!(walk(&[0x1e, 0x00, 0x01]), [Err(Error::BadLength)]);
        assert_eq!(walk(&[0x02, 0x04, 0x05]), [Err(Error::BadLength)]);
        // A known kind with the wrong length is skipped with an error.
        let wrong_sizes: [&[u8]; 5] = [
            &[0x02, 0x03, 0x05],
            &[0x03, 0x04, 0x07, 0x00],
            &[0x04, 0x03, 0x00],
            &[0x05, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x08, 0x09, 0, 0, 0, 0, 0, 0, 0],
        ];
        for opt in wrong_sizes {
            let mut bytes = opt.to_vec();
            bytes.push(0x01);
            assert_eq!(
                walk(&bytes),
                [Err(Error::BadLength), Ok(TcpOption::Nop)],
                "{opt:?}"
            );
        }
        assert_eq!(
            walk(&[0x05, 0x02, 0x01]),
            [Err(Error::BadLength), Ok(TcpOption::Nop)]
        );
    }
}
