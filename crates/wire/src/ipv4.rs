//! The IPv4 header. RFC 791 §3.1; Linux include/uapi/linux/ip.h struct iphdr,
//! net/ipv4/ip_input.c ip_rcv_core().

use crate::checksum::ip_fast_csum;
use crate::ip_options::{Ipv4Options, Ipv4OptionsIter, MAX_OPTIONS_LEN, OptionsOrigin};
use crate::{Error, Ipv4Addr, Result, RxChecksum, addr, be16, need, put16};
use core::fmt;

/// The protocol field (`IPPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    Icmp,
    Igmp,
    Tcp,
    Udp,
    UdpLite,
    Other(u8),
}

impl From<u8> for IpProtocol {
    #[inline]
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            2 => IpProtocol::Igmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            136 => IpProtocol::UdpLite,
            other => IpProtocol::Other(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    #[inline]
    fn from(v: IpProtocol) -> u8 {
        match v {
            IpProtocol::Icmp => 1,
            IpProtocol::Igmp => 2,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::UdpLite => 136,
            IpProtocol::Other(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    /// tcpdump's form, e.g. `UDP (17)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            IpProtocol::Icmp => "ICMP",
            IpProtocol::Igmp => "IGMP",
            IpProtocol::Tcp => "TCP",
            IpProtocol::Udp => "UDP",
            IpProtocol::UdpLite => "UDPLite",
            IpProtocol::Other(_) => "unknown",
        };
        write!(f, "{name} ({})", u8::from(*self))
    }
}

/// `IPPROTO_*` numbers. Linux include/uapi/linux/in.h; those without a variant of their own
/// are `IpProtocol::Other`.
pub const IPPROTO_IP: u8 = 0;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_IGMP: u8 = 2;
/// IP in IP (RFC 2003): the IPIP tunnels of multicast routing.
pub const IPPROTO_IPIP: u8 = 4;
pub use crate::tcp::IPPROTO_TCP;
pub use crate::udp::{IPPROTO_UDP, IPPROTO_UDPLITE};
pub const IPPROTO_DCCP: u8 = 33;
pub const IPPROTO_GRE: u8 = 47;
pub const IPPROTO_ESP: u8 = 50;
pub const IPPROTO_AH: u8 = 51;
pub const IPPROTO_SCTP: u8 = 132;
pub const IPPROTO_RAW: u8 = 255;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOT_LEN: usize = 2;
    pub const ID: usize = 4;
    pub const FRAG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECK: usize = 10;
    pub const SADDR: usize = 12;
    pub const DADDR: usize = 16;
}

/// The header length in bytes that the IHL field of the header at `b` gives (IHL * 4);
/// 0 for an empty slice. Linux ip_hdrlen().
#[inline]
pub fn ip_hdrlen(b: &[u8]) -> usize {
    b.get(field::VER_IHL)
        .map_or(0, |v| usize::from(v & 0x0f) * 4)
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Length of a header with 40 bytes of options (IHL 15).
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_OPTIONS_LEN;
/// `frag_off` bits. Linux include/net/ip.h.
pub const IP_CE: u16 = 0x8000;
pub const IP_DF: u16 = 0x4000;
pub const IP_MF: u16 = 0x2000;
pub const IP_OFFSET: u16 = 0x1fff;
/// The largest fragment offset in bytes (8191 units of 8).
pub const MAX_FRAG_OFFSET: u16 = IP_OFFSET * 8;

/// A view over an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The header checks of Linux ip_rcv_core() that come before the checksum, in its
    /// order. Once they pass, every header accessor and [`Self::verify_checksum`] is safe.
    ///
    /// | failure | error | Linux counter |
    /// |---|---|---|
    /// | buffer < 20 | [`Error::BadHeaderLen`] | `InHdrErrors` (`pskb_may_pull` fails) |
    /// | version != 4 | [`Error::BadVersion`] | `InHdrErrors` |
    /// | ihl < 5 | [`Error::BadHeaderLen`] | `InHdrErrors` |
    /// | buffer < ihl*4 | [`Error::BadHeaderLen`] | `InHdrErrors` (`pskb_may_pull` fails) |
    pub fn check_header_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::BadHeaderLen);
        }
        if self.version() != 4 {
            return Err(Error::BadVersion);
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN || b.len() < hlen {
            return Err(Error::BadHeaderLen);
        }
        Ok(())
    }

    /// [`Self::check_header_len`], then the total length, as Linux ip_rcv_core():
    ///
    /// | failure | error | Linux counter |
    /// |---|---|---|
    /// | buffer < total_len | [`Error::Truncated`] | `InTruncatedPkts` |
    /// | total_len < ihl*4 | [`Error::BadTotalLen`] | `InHdrErrors` |
    ///
    /// Linux verifies the header checksum between the two steps (`InCsumErrors`); a caller
    /// that must count like Linux runs `check_header_len`, `verify_checksum`, then this.
    /// A [`Error::Truncated`] from here is `InHdrErrors` when the buffer is under 20 bytes
    /// and `InTruncatedPkts` otherwise.
    pub fn check_len(&self) -> Result<()> {
        self.check_header_len()?;
        let tot = usize::from(self.total_len());
        if self.buffer.as_ref().len() < tot {
            return Err(Error::Truncated);
        }
        if tot < self.header_len() {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        ip_hdrlen(self.buffer.as_ref())
    }

    /// The whole DSCP + ECN byte.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOT_LEN)
    }

    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ID)
    }

    /// The raw flags + fragment offset field (Linux `iph->frag_off`).
    pub fn frag_off(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FRAG_OFF)
    }

    pub fn dont_frag(&self) -> bool {
        self.frag_off() & IP_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.frag_off() & IP_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (self.frag_off() & IP_OFFSET) * 8
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> IpProtocol {
        self.buffer.as_ref()[field::PROTOCOL].into()
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECK)
    }

    pub fn src(&self) -> Ipv4Addr {
        addr(self.buffer.as_ref(), field::SADDR)
    }

    pub fn dst(&self) -> Ipv4Addr {
        addr(self.buffer.as_ref(), field::DADDR)
    }

    /// The options area, between the fixed header and `header_len`.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload up to `total_len`: bytes past it (Ethernet padding) are not part of the
    /// packet, as Linux pskb_trim_rcsum() in ip_rcv_core().
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// The header sums to zero. Linux ip_fast_csum() in ip_rcv_core().
    pub fn verify_checksum(&self) -> bool {
        ip_fast_csum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets IHL to `len / 4` (`len` in bytes, at most 60).
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    pub fn set_dscp(&mut self, dscp: u8) {
        let tos = (dscp << 2) | self.ecn();
        self.set_tos(tos);
    }

    pub fn set_ecn(&mut self, ecn: u8) {
        let tos = (self.tos() & !0x03) | (ecn & 0x03);
        self.set_tos(tos);
    }

    pub fn set_total_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::TOT_LEN, len);
    }

    pub fn set_ident(&mut self, id: u16) {
        put16(self.buffer.as_mut(), field::ID, id);
    }

    /// Sets the raw flags + fragment offset field.
    pub fn set_frag_off(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::FRAG_OFF, v);
    }

    fn set_flag(&mut self, flag: u16, on: bool) {
        let v = self.frag_off();
        self.set_frag_off(if on { v | flag } else { v & !flag });
    }

    pub fn set_dont_frag(&mut self, on: bool) {
        self.set_flag(IP_DF, on);
    }

    pub fn set_more_frags(&mut self, on: bool) {
        self.set_flag(IP_MF, on);
    }

    /// Sets the fragment offset from bytes; the low three bits are dropped.
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let v = (self.frag_off() & !IP_OFFSET) | (bytes / 8);
        self.set_frag_off(v);
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    pub fn set_protocol(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }

    pub fn set_checksum(&mut self, check: u16) {
        put16(self.buffer.as_mut(), field::CHECK, check);
    }

    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SADDR..field::SADDR + 4].copy_from_slice(&a.octets());
    }

    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DADDR..field::DADDR + 4].copy_from_slice(&a.octets());
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[start..end]
    }

    /// Computes and stores the header checksum. Linux ip_send_check().
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let check = ip_fast_csum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(check);
    }
}

/// A parsed IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub ttl: u8,
    /// The whole DSCP + ECN byte.
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes: a multiple of 8, at most [`MAX_FRAG_OFFSET`].
    pub frag_offset: u16,
    /// The options area, a multiple of 4 bytes, at most 40.
    pub options: &'a [u8],
    pub payload_len: usize,
}

impl<'a> Ipv4Repr<'a> {
    /// Reads a header: lengths as [`Ipv4Packet::check_len`], then the checksum (unless
    /// skipped), then the options' syntax as Linux ip_options_compile() does for a received
    /// packet. The reserved flag bit is not kept.
    /// RFC 791 §3.1; Linux net/ipv4/ip_input.c ip_rcv_core(), ip_rcv_options().
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&'a T>,
        checksum: RxChecksum,
    ) -> Result<Ipv4Repr<'a>> {
        packet.check_len()?;
        if checksum == RxChecksum::Verify && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let buf: &'a [u8] = packet.buffer.as_ref();
        let hlen = packet.header_len();
        let options = &buf[HEADER_LEN..hlen];
        Ipv4Options::parse(options, OptionsOrigin::Received)?;
        Ok(Ipv4Repr {
            src: packet.src(),
            dst: packet.dst(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
            options,
            payload_len: usize::from(packet.total_len()) - hlen,
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload: the total length field.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// A fragment: more fragments follow or the offset is not 0. Linux ip_is_fragment().
    pub const fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Writes the header, options and checksum at the start of `buf`; the payload is not
    /// touched. Fails with [`Error::BadHeaderLen`] for options not a multiple of 4 or over
    /// 40 bytes, [`Error::BadTotalLen`] if the total length exceeds 65535,
    /// [`Error::BadLength`] for a fragment offset that is not a multiple of 8 or over
    /// [`MAX_FRAG_OFFSET`], and [`Error::Truncated`] if `buf` is shorter than the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.emit_without_checksum(buf)?;
        Ipv4Packet::new_unchecked(&mut buf[..self.header_len()]).fill_checksum();
        Ok(())
    }

    /// [`Self::emit`] with the checksum field left at 0, for a caller that fills it
    /// later, as Linux ip_build_and_send_pkt() leaves it to ip_local_out().
    #[inline]
    pub fn emit_without_checksum(&self, buf: &mut [u8]) -> Result<()> {
        if !self.options.len().is_multiple_of(4) || self.options.len() > MAX_OPTIONS_LEN {
            return Err(Error::BadHeaderLen);
        }
        let tot_len = u16::try_from(self.buffer_len()).map_err(|_| Error::BadTotalLen)?;
        // Every multiple of 8 that fits a u16 is at most MAX_FRAG_OFFSET.
        if !self.frag_offset.is_multiple_of(8) {
            return Err(Error::BadLength);
        }
        let hlen = self.header_len();
        need(buf, hlen)?;
        let frag_off = (u16::from(self.dont_frag) << 14)
            | (u16::from(self.more_frags) << 13)
            | (self.frag_offset / 8);
        let [len0, len1] = tot_len.to_be_bytes();
        let [id0, id1] = self.ident.to_be_bytes();
        let [fo0, fo1] = frag_off.to_be_bytes();
        let [s0, s1, s2, s3] = self.src.octets();
        let [d0, d1, d2, d3] = self.dst.octets();
        let fixed = [
            0x40 | (hlen / 4) as u8,
            self.tos,
            len0,
            len1,
            id0,
            id1,
            fo0,
            fo1,
            self.ttl,
            self.protocol.into(),
            0,
            0,
            s0,
            s1,
            s2,
            s3,
            d0,
            d1,
            d2,
            d3,
        ];
        buf[..HEADER_LEN].copy_from_slice(&fixed);
        if hlen > HEADER_LEN {
            buf[HEADER_LEN..hlen].copy_from_slice(self.options);
        }
        Ok(())
    }
}

/// The fields of a locally built datagram's 20-byte header: no options, not a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4BasicHeader {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// An `IPPROTO_*` number.
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub tot_len: u16,
}

impl Ipv4BasicHeader {
    /// Writes the header with its checksum as five big-endian words, the checksum summed
    /// from the fields rather than read back: Linux ip_build_and_send_pkt()'s header and
    /// ip_send_check() in one. Fails with [`Error::Truncated`] if `buf` is shorter than
    /// [`HEADER_LEN`].
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let Some(out) = buf.first_chunk_mut::<HEADER_LEN>() else {
            return Err(Error::Truncated);
        };
        *out = self.to_bytes();
        Ok(())
    }

    /// The header [`Self::emit`] writes.
    #[inline]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let w0 = 0x4500_0000 | u32::from(self.tos) << 16 | u32::from(self.tot_len);
        let w1 = u32::from(self.ident) << 16 | u32::from(self.dont_frag) << 14;
        let w2 = u32::from(self.ttl) << 24 | u32::from(self.protocol) << 16;
        let (s, d) = (u32::from(self.src), u32::from(self.dst));
        // The 16-bit one's complement sum of the words is that of their 32-bit sum, folded.
        let sum = u64::from(w0) + u64::from(w1) + u64::from(w2) + u64::from(s) + u64::from(d);
        let sum = (sum & 0xffff_ffff) + (sum >> 32);
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = (sum & 0xffff) + (sum >> 16);
        let w2 = w2 | u32::from(!(sum as u16));
        let mut h = [0u8; HEADER_LEN];
        for (chunk, w) in h.chunks_exact_mut(4).zip([w0, w1, w2, s, d]) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        h
    }
}

impl fmt::Display for Ipv4Repr<'_> {
    /// One tcpdump -v-like line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = match (self.more_frags, self.dont_frag) {
            (false, false) => "none",
            (false, true) => "DF",
            (true, false) => "+",
            (true, true) => "+DF",
        };
        write!(
            f,
            "IP {} > {}: {}, tos {:#x}, ttl {}, id {}, offset {}, flags [{}], length {}",
            self.src,
            self.dst,
            self.protocol,
            self.tos,
            self.ttl,
            self.ident,
            self.frag_offset,
            flags,
            self.buffer_len()
        )?;
        if !self.options.is_empty() {
            f.write_str(", options (")?;
            for (n, item) in Ipv4OptionsIter::new(self.options).enumerate() {
                if n > 0 {
                    f.write_str(",")?;
                }
                match item {
                    Ok((_, opt)) => write!(f, "{opt}")?,
                    Err(_) => f.write_str("bad")?,
                }
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

    /// An ICMP echo header from 10.0.1.2 to 10.0.2.2, 84 bytes, DF, id 0x1234.
    /// Checksum by hand (RFC 1071): 4500+0054+1234+4000+4001+0a00+0102+0a00+0202 = 0xee8d,
    /// complemented 0x1172.
    #[rustfmt::skip]
    const ECHO: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54,
        0x12, 0x34, 0x40, 0x00,
        0x40, 0x01, 0x11, 0x72,
        0x0a, 0x00, 0x01, 0x02,
        0x0a, 0x00, 0x02, 0x02,
    ];

    /// The basic header writes what Ipv4Repr::emit() writes, checksum included.
    #[test]
    fn basic_header_matches_repr_emit() {
        let h = Ipv4BasicHeader {
            src: SRC,
            dst: DST,
            protocol: IpProtocol::Icmp.into(),
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            dont_frag: true,
            tot_len: 84,
        };
        let mut buf = [0xaa; 24];
        h.emit(&mut buf).unwrap();
        assert_eq!(buf[..20], ECHO);
        assert_eq!(buf[20..], [0xaa; 4]);
        assert_eq!(h.emit(&mut [0; 19]), Err(Error::Truncated));
        // Fields whose sums carry, both DF settings, any TOS and protocol.
        for (i, &(ident, df, tos, ttl, len)) in [
            (0xffff, false, 0xff, 255, 0xffff),
            (0, true, 0xb8, 1, 20),
            (0x8001, false, 0x03, 128, 1500),
        ]
        .iter()
        .enumerate()
        {
            let h = Ipv4BasicHeader {
                src: Ipv4Addr::new(255, 255, 255, 254),
                dst: Ipv4Addr::new(0xfe, 0xff, 0x80, i as u8),
                protocol: [IPPROTO_UDP, IPPROTO_TCP, IPPROTO_GRE][i],
                ttl,
                tos,
                ident,
                dont_frag: df,
                tot_len: len,
            };
            let repr = Ipv4Repr {
                src: h.src,
                dst: h.dst,
                protocol: IpProtocol::from(h.protocol),
                ttl,
                tos,
                ident,
                dont_frag: df,
                more_frags: false,
                frag_offset: 0,
                options: &[],
                payload_len: usize::from(len) - 20,
            };
            let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
            h.emit(&mut a).unwrap();
            repr.emit(&mut b).unwrap();
            assert_eq!(a, b, "case {i}");
            assert_eq!(ip_fast_csum(&a), 0, "case {i} verifies");
        }
    }

    fn echo_repr() -> Ipv4Repr<'static> {
        Ipv4Repr {
            src: SRC,
            dst: DST,
            protocol: IpProtocol::Icmp,
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            options: &[],
            payload_len: 64,
        }
    }

    fn packet(header: &[u8], payload: usize) -> Vec<u8> {
        let mut v = header.to_vec();
        v.resize(header.len() + payload, 0xa5);
        v
    }

    #[test]
    fn golden_echo() {
        let repr = echo_repr();
        let mut buf = [0xa5; 84];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..20], &ECHO);
        assert_eq!(&buf[20..], &[0xa5; 64], "emit wrote past the header");
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p, RxChecksum::Verify).unwrap(), repr);
        assert_eq!(
            repr.to_string(),
            "IP 10.0.1.2 > 10.0.2.2: ICMP (1), tos 0x0, ttl 64, id 4660, offset 0, flags [DF], length 84"
        );
    }

    #[test]
    fn emit_without_checksum_leaves_the_field_zero() {
        let mut buf = [0xa5; 84];
        echo_repr().emit_without_checksum(&mut buf).unwrap();
        assert_eq!(&buf[..10], &ECHO[..10]);
        assert_eq!(&buf[10..12], &[0, 0]);
        assert_eq!(&buf[12..20], &ECHO[12..20]);
        assert_eq!(&buf[20..], &[0xa5; 64]);
    }

    /// A UDP fragment with RR (NOP-padded) and router alert: tos 0xb9, MF, offset 1480
    /// (185 units). Checksum: the sum of the 16 words is 0x5338 after folding, so 0xacc7.
    #[rustfmt::skip]
    const FRAG_RR: [u8; 32] = [
        0x48, 0xb9, 0x00, 0x28,
        0xab, 0xcd, 0x20, 0xb9,
        0x01, 0x11, 0xac, 0xc7,
        0xc0, 0xa8, 0x00, 0x01,
        0xe0, 0x00, 0x00, 0x05,
        0x01, 0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00,
        0x94, 0x04, 0x00, 0x00,
    ];

    #[test]
    fn golden_options_fragment() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(224, 0, 0, 5),
            protocol: IpProtocol::Udp,
            ttl: 1,
            tos: 0xb9,
            ident: 0xabcd,
            dont_frag: false,
            more_frags: true,
            frag_offset: 1480,
            options: &FRAG_RR[20..],
            payload_len: 8,
        };
        let mut buf = [0xa5; 40];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..32], &FRAG_RR);
        assert_eq!(&buf[32..], &[0xa5; 8]);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.dscp(), p.ecn(), p.frag_off()), (0x2e, 1, 0x20b9));
        assert_eq!(p.options(), &FRAG_RR[20..]);
        let back = Ipv4Repr::parse(&p, RxChecksum::Verify).unwrap();
        assert_eq!(back, repr);
        assert!(back.is_fragment());
        assert_eq!(
            back.to_string(),
            "IP 192.168.0.1 > 224.0.0.5: UDP (17), tos 0xb9, ttl 1, id 43981, offset 1480, \
             flags [+], length 40, options (NOP,RR,RA)"
        );
    }

    #[test]
    fn payload_trimmed_to_total_len() {
        let mut buf = packet(&ECHO, 64);
        buf.extend_from_slice(&[0; 6]);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), &[0xa5; 64]);
    }

    #[test]
    fn check_len_order() {
        let full = packet(&ECHO, 64);
        let check = |b: &[u8]| Ipv4Packet::new_checked(b).map(|_| ());
        assert_eq!(check(&full[..19]), Err(Error::BadHeaderLen));
        let mut b = full.clone();
        b[0] = 0x65;
        assert_eq!(check(&b), Err(Error::BadVersion));
        // A bad version is reported before a bad IHL.
        b[0] = 0x64;
        assert_eq!(check(&b), Err(Error::BadVersion));
        b[0] = 0x44;
        assert_eq!(check(&b), Err(Error::BadHeaderLen));
        b[0] = 0x4f;
        assert_eq!(check(&b[..59]), Err(Error::BadHeaderLen));
        assert_eq!(check(&full[..83]), Err(Error::Truncated));
        let mut b = full.clone();
        b[3] = 19;
        assert_eq!(check(&b), Err(Error::BadTotalLen));
        b[0] = 0x46;
        b[3] = 23;
        assert_eq!(check(&b), Err(Error::BadTotalLen));
        // The header checks alone accept a truncated packet.
        assert!(
            Ipv4Packet::new_unchecked(&full[..40])
                .check_header_len()
                .is_ok()
        );
    }

    #[test]
    fn bad_checksum() {
        let mut b = packet(&ECHO, 64);
        b[11] ^= 1;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(
            Ipv4Repr::parse(&p, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
        assert_eq!(Ipv4Repr::parse(&p, RxChecksum::Skip).unwrap(), echo_repr());
    }

    #[test]
    fn bad_option() {
        let mut b = packet(&FRAG_RR, 8);
        // RR pointer 3 (< 4): pointer to it, byte 23 of the header.
        b[23] = 3;
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Ipv4Repr::parse(&p, RxChecksum::Verify),
            Err(Error::BadOption { pointer: 23 })
        );
    }

    #[test]
    fn emit_errors() {
        let mut buf = [0u8; 100];
        let r = Ipv4Repr {
            options: &[1, 1, 1],
            ..echo_repr()
        };
        assert_eq!(r.emit(&mut buf), Err(Error::BadHeaderLen));
        let r = Ipv4Repr {
            options: &[1; 44],
            ..echo_repr()
        };
        assert_eq!(r.emit(&mut buf), Err(Error::BadHeaderLen));
        let r = Ipv4Repr {
            payload_len: 65516,
            ..echo_repr()
        };
        assert_eq!(r.emit(&mut buf), Err(Error::BadTotalLen));
        let r = Ipv4Repr {
            payload_len: 65515,
            ..echo_repr()
        };
        assert!(r.emit(&mut buf).is_ok());
        for bad in [7, 65532, 65535] {
            let r = Ipv4Repr {
                frag_offset: bad,
                ..echo_repr()
            };
            assert_eq!(r.emit(&mut buf), Err(Error::BadLength), "offset {bad}");
        }
        let r = Ipv4Repr {
            frag_offset: 65528,
            ..echo_repr()
        };
        r.emit(&mut buf).unwrap();
        assert_eq!(&buf[6..8], &[0x5f, 0xff]);
        assert_eq!(echo_repr().emit(&mut buf[..19]), Err(Error::Truncated));
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 24];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_version(4);
        p.set_header_len(24);
        p.set_dscp(46);
        p.set_ecn(3);
        p.set_total_len(24);
        p.set_ident(7);
        p.set_dont_frag(true);
        p.set_more_frags(true);
        p.set_frag_offset(16);
        p.set_more_frags(false);
        p.set_ttl(9);
        p.set_protocol(IpProtocol::Other(253));
        p.set_src(SRC);
        p.set_dst(DST);
        p.options_mut().copy_from_slice(&[148, 4, 0, 0]);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.tos()), (4, 24, 0xbb));
        assert_eq!((p.frag_off(), p.frag_offset(), p.ttl()), (0x4002, 16, 9));
        assert_eq!(p.protocol(), IpProtocol::Other(253));
        assert!(p.verify_checksum() && p.dont_frag() && !p.more_frags());
        assert_eq!((p.src(), p.dst(), p.ident()), (SRC, DST, 7));
        assert!(p.payload().is_empty());
    }

    #[test]
    fn protocol_names() {
        assert_eq!(IpProtocol::Udp.to_string(), "UDP (17)");
        assert_eq!(IpProtocol::from(136), IpProtocol::UdpLite);
        assert_eq!(IpProtocol::Other(253).to_string(), "unknown (253)");
        for v in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(v)), v);
        }
    }

    #[test]
    fn ipproto_numbers() {
        let named = [
            IPPROTO_ICMP,
            IPPROTO_IGMP,
            IPPROTO_TCP,
            IPPROTO_UDP,
            IPPROTO_UDPLITE,
        ];
        assert_eq!(
            named.map(IpProtocol::from),
            [
                IpProtocol::Icmp,
                IpProtocol::Igmp,
                IpProtocol::Tcp,
                IpProtocol::Udp,
                IpProtocol::UdpLite
            ]
        );
        let other = [
            IPPROTO_IP,
            IPPROTO_DCCP,
            IPPROTO_GRE,
            IPPROTO_ESP,
            IPPROTO_AH,
            IPPROTO_SCTP,
            IPPROTO_RAW,
        ];
        assert_eq!(other, [0, 33, 47, 50, 51, 132, 255]);
        for p in other {
            assert_eq!(IpProtocol::from(p), IpProtocol::Other(p));
        }
    }
}
