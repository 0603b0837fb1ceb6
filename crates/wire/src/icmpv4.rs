//! ICMP for IPv4. RFC 792, RFC 1191 §4 (next-hop MTU), RFC 1812 §5.2.7 (unreachable
//! codes), RFC 6633 (no Source Quench); Linux net/ipv4/icmp.c icmp_rcv().

use crate::checksum::{csum_fold, csum_partial};
use crate::{Error, Ipv4Addr, Result, RxChecksum, addr, be16, need, put16};
use core::fmt;

/// Declares a `#define` family as an enum over `u8` with an `Other(u8)` catch-all for the
/// values the family leaves undefined, and the two `From` conversions.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value with no name here (kept, never rejected).
            Other(u8),
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                match v {
                    $($value => $name::$variant,)+
                    other => $name::Other(other),
                }
            }
        }

        impl $name {
            /// The wire value, as `u8::from` gives it, usable in `const` items.
            pub const fn raw(self) -> u8 {
                match self {
                    $($name::$variant => $value,)+
                    $name::Other(other) => other,
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $($name::$variant => $value,)+
                    $name::Other(other) => other,
                }
            }
        }
    };
}
pub(crate) use code_enum;

code_enum! {
    /// The ICMP type field. RFC 792; Linux include/uapi/linux/icmp.h `ICMP_*`.
    pub enum Icmpv4Message {
        /// `ICMP_ECHOREPLY`.
        EchoReply = 0,
        /// `ICMP_DEST_UNREACH`.
        DstUnreachable = 3,
        /// `ICMP_SOURCE_QUENCH` (RFC 6633: received, never sent).
        SourceQuench = 4,
        /// `ICMP_REDIRECT`.
        Redirect = 5,
        /// `ICMP_ECHO`.
        EchoRequest = 8,
        /// Router advertisement, RFC 1256.
        RouterAdvert = 9,
        /// Router solicitation, RFC 1256.
        RouterSolicit = 10,
        /// `ICMP_TIME_EXCEEDED`.
        TimeExceeded = 11,
        /// `ICMP_PARAMETERPROB`.
        ParamProblem = 12,
        /// `ICMP_TIMESTAMP`.
        Timestamp = 13,
        /// `ICMP_TIMESTAMPREPLY`.
        TimestampReply = 14,
        /// `ICMP_INFO_REQUEST` (RFC 792, obsolete).
        InfoRequest = 15,
        /// `ICMP_INFO_REPLY`.
        InfoReply = 16,
        /// `ICMP_ADDRESS`: address mask request, RFC 950.
        AddressMaskRequest = 17,
        /// `ICMP_ADDRESSREPLY`.
        AddressMaskReply = 18,
    }
}

code_enum! {
    /// Destination Unreachable codes. RFC 792, RFC 1812 §5.2.7.1; Linux `ICMP_*` codes.
    pub enum DstUnreachable {
        /// `ICMP_NET_UNREACH`.
        NetUnreachable = 0,
        /// `ICMP_HOST_UNREACH`.
        HostUnreachable = 1,
        /// `ICMP_PROT_UNREACH`.
        ProtoUnreachable = 2,
        /// `ICMP_PORT_UNREACH`.
        PortUnreachable = 3,
        /// `ICMP_FRAG_NEEDED`: carries the next-hop MTU (RFC 1191).
        FragRequired = 4,
        /// `ICMP_SR_FAILED`.
        SrcRouteFailed = 5,
        /// `ICMP_NET_UNKNOWN`.
        NetUnknown = 6,
        /// `ICMP_HOST_UNKNOWN`.
        HostUnknown = 7,
        /// `ICMP_HOST_ISOLATED`.
        HostIsolated = 8,
        /// `ICMP_NET_ANO`.
        NetProhibited = 9,
        /// `ICMP_HOST_ANO`.
        HostProhibited = 10,
        /// `ICMP_NET_UNR_TOS`.
        NetUnreachTos = 11,
        /// `ICMP_HOST_UNR_TOS`.
        HostUnreachTos = 12,
        /// `ICMP_PKT_FILTERED`.
        CommProhibited = 13,
        /// `ICMP_PREC_VIOLATION`.
        HostPrecedenceViolation = 14,
        /// `ICMP_PREC_CUTOFF`.
        PrecedenceCutoff = 15,
    }
}

code_enum! {
    /// Redirect codes. RFC 792; Linux `ICMP_REDIR_*`.
    pub enum Redirect {
        /// `ICMP_REDIR_NET`.
        Net = 0,
        /// `ICMP_REDIR_HOST`.
        Host = 1,
        /// `ICMP_REDIR_NETTOS`.
        NetTos = 2,
        /// `ICMP_REDIR_HOSTTOS`.
        HostTos = 3,
    }
}

code_enum! {
    /// Time Exceeded codes. RFC 792; Linux `ICMP_EXC_*`.
    pub enum TimeExceeded {
        /// `ICMP_EXC_TTL`.
        TtlExpired = 0,
        /// `ICMP_EXC_FRAGTIME`.
        FragReassembly = 1,
    }
}

code_enum! {
    /// Parameter Problem codes. RFC 792, RFC 1812 §5.2.7.3 (Linux sends code 0 only).
    pub enum ParamProblem {
        /// The pointer (byte 4) indicates the error.
        PointerIndicatesError = 0,
        /// A required option is missing.
        MissingRequiredOption = 1,
        /// Bad length.
        BadLength = 2,
    }
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const IDENT: usize = 4;
    pub const SEQ_NO: usize = 6;
    pub const POINTER: usize = 4;
    pub const GATEWAY: usize = 4;
    pub const MTU: usize = 6;
    pub const REST: core::ops::Range<usize> = 4..8;
    pub const DATA: usize = 8;
}

/// Length of the fixed ICMP header (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;

/// A view over an ICMP message (header and data, the whole IP payload).
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The 8-byte header. Linux icmp_rcv() pskb_may_pull(sizeof(struct icmphdr)).
    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> Icmpv4Message {
        self.buffer.as_ref()[field::TYPE].into()
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (bytes 4..6).
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// Echo sequence number (bytes 6..8).
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQ_NO)
    }

    /// Next-hop MTU of a Fragmentation Needed message (bytes 6..8). RFC 1191 §4.
    pub fn next_hop_mtu(&self) -> u16 {
        be16(self.buffer.as_ref(), field::MTU)
    }

    /// Parameter Problem pointer (byte 4).
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Redirect gateway (bytes 4..8).
    pub fn gateway(&self) -> Ipv4Addr {
        addr(self.buffer.as_ref(), field::GATEWAY)
    }

    /// Bytes 4..8, whatever the type makes of them.
    pub fn rest_of_header(&self) -> [u8; 4] {
        let mut rest = [0; 4];
        rest.copy_from_slice(&self.buffer.as_ref()[field::REST]);
        rest
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// True when the checksum over the whole message verifies. RFC 792.
    pub fn verify_checksum(&self) -> bool {
        csum_fold(csum_partial(self.buffer.as_ref(), 0)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn set_msg_type(&mut self, v: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = v.into();
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::IDENT, v);
    }

    pub fn set_echo_seq_no(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SEQ_NO, v);
    }

    pub fn set_rest_of_header(&mut self, v: [u8; 4]) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes the checksum over the whole message and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let check = csum_fold(csum_partial(self.buffer.as_ref(), 0));
        self.set_checksum(check);
    }
}

/// A parsed ICMP message. `data` is what follows the 8-byte header: the echoed payload, or
/// the quoted IP header and leading payload of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DstUnreachable {
        reason: DstUnreachable,
        /// Bytes 6..8: the next-hop MTU for [`DstUnreachable::FragRequired`] (RFC 1191),
        /// unused and 0 for the other codes. Bytes 4..6 are unused and written as 0.
        next_hop_mtu: u16,
        data: &'a [u8],
    },
    TimeExceeded {
        reason: TimeExceeded,
        data: &'a [u8],
    },
    ParamProblem {
        /// See [`ParamProblem`].
        code: u8,
        /// Offset of the bad octet in the quoted IP header (byte 4; bytes 5..8 unused).
        pointer: u8,
        data: &'a [u8],
    },
    Redirect {
        reason: Redirect,
        gateway: Ipv4Addr,
        data: &'a [u8],
    },
    /// Parse only: RFC 6633 forbids sending it, so `emit` fails with [`Error::Unsupported`].
    SourceQuench { data: &'a [u8] },
    /// Any other type, or an echo / source quench with a nonzero code: timestamps, router
    /// discovery, unknown types. Kept so the stack can count it per type (`IcmpMsg`).
    Other {
        msg_type: u8,
        code: u8,
        rest: [u8; 4],
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Reads a checked view. Unknown types and undefined codes parse (Linux icmp_rcv()
    /// counts them and moves on); only a short buffer or a bad checksum is an error.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        checksum: RxChecksum,
    ) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if checksum == RxChecksum::Verify && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let data = &T::as_ref(packet.buffer)[field::DATA..];
        let code = packet.code();
        Ok(match (packet.msg_type(), code) {
            (Icmpv4Message::EchoReply, 0) => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (Icmpv4Message::EchoRequest, 0) => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (Icmpv4Message::DstUnreachable, _) => Icmpv4Repr::DstUnreachable {
                reason: code.into(),
                next_hop_mtu: packet.next_hop_mtu(),
                data,
            },
            (Icmpv4Message::TimeExceeded, _) => Icmpv4Repr::TimeExceeded {
                reason: code.into(),
                data,
            },
            (Icmpv4Message::ParamProblem, _) => Icmpv4Repr::ParamProblem {
                code,
                pointer: packet.pointer(),
                data,
            },
            (Icmpv4Message::Redirect, _) => Icmpv4Repr::Redirect {
                reason: code.into(),
                gateway: packet.gateway(),
                data,
            },
            (Icmpv4Message::SourceQuench, 0) => Icmpv4Repr::SourceQuench { data },
            (msg_type, _) => Icmpv4Repr::Other {
                msg_type: msg_type.into(),
                code,
                rest: packet.rest_of_header(),
                data,
            },
        })
    }

    pub fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. }
            | Icmpv4Repr::ParamProblem { data, .. }
            | Icmpv4Repr::Redirect { data, .. }
            | Icmpv4Repr::SourceQuench { data }
            | Icmpv4Repr::Other { data, .. } => data,
        }
    }

    /// Header plus data: the bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// The type, code and bytes 4..8 this message puts on the wire.
    fn header(&self) -> Result<(u8, u8, [u8; 4])> {
        let two = |a: u16, b: u16| {
            let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
            [a[0], a[1], b[0], b[1]]
        };
        Ok(match *self {
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => (0, 0, two(ident, seq_no)),
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => (8, 0, two(ident, seq_no)),
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => (3, reason.into(), two(0, next_hop_mtu)),
            Icmpv4Repr::TimeExceeded { reason, .. } => (11, reason.into(), [0; 4]),
            Icmpv4Repr::ParamProblem { code, pointer, .. } => (12, code, [pointer, 0, 0, 0]),
            Icmpv4Repr::Redirect {
                reason, gateway, ..
            } => (5, reason.into(), gateway.octets()),
            Icmpv4Repr::SourceQuench { .. } | Icmpv4Repr::Other { msg_type: 4, .. } => {
                return Err(Error::Unsupported);
            }
            Icmpv4Repr::Other {
                msg_type,
                code,
                rest,
                ..
            } => (msg_type, code, rest),
        })
    }

    /// Writes header, data and checksum into `buf[..buffer_len()]`. Linux icmp_push_reply().
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let (msg_type, code, rest) = self.header()?;
        let len = self.buffer_len();
        need(buf, len)?;
        let mut packet = Icmpv4Packet::new_unchecked(&mut buf[..len]);
        packet.set_msg_type(msg_type.into());
        packet.set_code(code);
        packet.set_rest_of_header(rest);
        packet.data_mut().copy_from_slice(self.data());
        packet.fill_checksum();
        Ok(())
    }
}

/// What a tcpdump line can say about the datagram an error quotes.
struct Quoted {
    dst: Option<Ipv4Addr>,
    proto: Option<u8>,
    /// Transport name and destination port, when the quote reaches them.
    port: Option<(&'static str, u16)>,
}

impl Quoted {
    fn new(data: &[u8]) -> Quoted {
        let ip = data.len() >= 20 && data[0] >> 4 == 4;
        let proto = ip.then(|| data[9]);
        let ihl = usize::from(data.first().map_or(0, |b| b & 0x0f)) * 4;
        let name = match proto {
            Some(6) => Some("tcp"),
            Some(17) => Some("udp"),
            _ => None,
        };
        let port = name.filter(|_| ihl >= 20 && data.len() >= ihl + 4);
        Quoted {
            dst: ip.then(|| addr(data, 16)),
            proto,
            port: port.map(|name| (name, be16(data, ihl + 2))),
        }
    }
}

/// Writes `word ` for a present value, nothing otherwise.
fn word(f: &mut fmt::Formatter<'_>, w: Option<impl fmt::Display>) -> fmt::Result {
    match w {
        Some(w) => write!(f, "{w} "),
        None => Ok(()),
    }
}

fn fmt_unreachable(
    f: &mut fmt::Formatter<'_>,
    reason: DstUnreachable,
    mtu: u16,
    q: &Quoted,
) -> fmt::Result {
    use DstUnreachable::*;
    let (kind, tail) = match reason {
        NetUnreachable => ("net", ""),
        HostUnreachable => ("host", ""),
        NetUnknown => ("net", " - unknown"),
        HostUnknown => ("host", " - unknown"),
        NetProhibited => ("net", " - admin prohibited"),
        HostProhibited => ("host", " - admin prohibited"),
        NetUnreachTos => ("net", " - tos prohibited"),
        HostUnreachTos => ("host", " - tos prohibited"),
        CommProhibited => ("host", " - admin prohibited filter"),
        HostPrecedenceViolation => ("host", " - host precedence violation"),
        PrecedenceCutoff => ("host", " - precedence cutoff"),
        SrcRouteFailed => ("", " - source route failed"),
        HostIsolated => ("", " - source host isolated"),
        ProtoUnreachable | PortUnreachable | FragRequired | Other(_) => ("", ""),
    };
    word(f, (!kind.is_empty()).then_some(kind))?;
    word(f, q.dst)?;
    match reason {
        ProtoUnreachable => {
            f.write_str("protocol ")?;
            word(f, q.proto)?;
        }
        PortUnreachable => {
            word(f, q.port.map(|(name, _)| name))?;
            f.write_str("port ")?;
            word(f, q.port.map(|(_, port)| port))?;
        }
        _ => {}
    }
    write!(f, "unreachable{tail}")?;
    match reason {
        FragRequired if mtu != 0 => write!(f, " - need to frag (mtu {mtu})"),
        FragRequired => f.write_str(" - need to frag"),
        Other(code) => write!(f, " - #{code}"),
        _ => Ok(()),
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    /// One tcpdump-style line (tcpdump print-icmp.c wording).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ICMP ")?;
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                write!(f, "echo request, id {ident}, seq {seq_no}")?
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                write!(f, "echo reply, id {ident}, seq {seq_no}")?
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                data,
            } => fmt_unreachable(f, reason, next_hop_mtu, &Quoted::new(data))?,
            Icmpv4Repr::TimeExceeded { reason, .. } => match reason {
                TimeExceeded::TtlExpired => f.write_str("time exceeded in-transit")?,
                TimeExceeded::FragReassembly => f.write_str("ip reassembly time exceeded")?,
                TimeExceeded::Other(code) => write!(f, "time exceeded-#{code}")?,
            },
            Icmpv4Repr::ParamProblem { code, pointer, .. } => match code.into() {
                ParamProblem::PointerIndicatesError => {
                    write!(f, "parameter problem - octet {pointer}")?
                }
                ParamProblem::MissingRequiredOption => {
                    f.write_str("parameter problem - missing required option")?
                }
                ParamProblem::BadLength => f.write_str("parameter problem - bad length")?,
                ParamProblem::Other(code) => write!(f, "parameter problem code {code}")?,
            },
            Icmpv4Repr::Redirect {
                reason,
                gateway,
                data,
            } => {
                let (what, to) = match reason {
                    Redirect::Net => ("redirect", "net "),
                    Redirect::Host => ("redirect", "host "),
                    Redirect::NetTos => ("redirect-tos", "net "),
                    Redirect::HostTos => ("redirect-tos", "host "),
                    Redirect::Other(_) => ("redirect", ""),
                };
                write!(f, "{what}")?;
                if let Redirect::Other(code) = reason {
                    write!(f, "-#{code}")?;
                }
                match Quoted::new(data).dst {
                    Some(dst) => write!(f, " {dst} to {to}{gateway}")?,
                    None => write!(f, " to {to}{gateway}")?,
                }
            }
            Icmpv4Repr::SourceQuench { .. } => f.write_str("source quench")?,
            Icmpv4Repr::Other { msg_type, code, .. } => {
                match Icmpv4Message::from(msg_type) {
                    Icmpv4Message::EchoRequest => f.write_str("echo request")?,
                    Icmpv4Message::EchoReply => f.write_str("echo reply")?,
                    Icmpv4Message::SourceQuench => f.write_str("source quench")?,
                    Icmpv4Message::RouterAdvert => f.write_str("router advertisement")?,
                    Icmpv4Message::RouterSolicit => f.write_str("router solicitation")?,
                    Icmpv4Message::Timestamp => f.write_str("time stamp query")?,
                    Icmpv4Message::TimestampReply => f.write_str("time stamp reply")?,
                    _ => write!(f, "type-#{msg_type}")?,
                }
                if code != 0 {
                    write!(f, " code {code}")?;
                }
            }
        }
        write!(f, ", length {}", self.buffer_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A quoted IPv4 header 10.0.0.1 -> 10.0.2.2, proto UDP, then ports 1234 -> 53.
    #[rustfmt::skip]
    const QUOTE: [u8; 28] = [
        0x45, 0x00, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
        10, 0, 0, 1,  10, 0, 2, 2,
        0x04, 0xd2, 0x00, 0x35, 0x00, 0x1c, 0x00, 0x00,
    ];

    fn emit_golden(repr: &Icmpv4Repr<'_>, expected_header: [u8; 8]) {
        let len = repr.buffer_len();
        let mut buf = vec![0xa5; len + 4];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..8], &expected_header);
        assert_eq!(&buf[8..len], repr.data());
        assert_eq!(&buf[len..], &[0xa5; 4], "emit wrote past the message");
        // RFC 1071 reference over the expected bytes: the checksum folds to zero.
        let packet = Icmpv4Packet::new_checked(&buf[..len]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(
            &Icmpv4Repr::parse(&packet, RxChecksum::Verify).unwrap(),
            repr
        );
    }

    #[test]
    fn golden_echo_request() {
        // ping 10.0.2.2: id 0x1234, seq 1, 4 bytes of data "abcd".
        // Sum: 0800 + 1234 + 0001 + 6162 + 6364 = defb; !defb = 2104.
        let repr = Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 1,
            data: b"abcd",
        };
        emit_golden(&repr, [8, 0, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01]);
        assert_eq!(
            repr.to_string(),
            "ICMP echo request, id 4660, seq 1, length 12"
        );
    }

    #[test]
    fn golden_echo_reply() {
        // Sum: 0000 + 0001 + 0002 = 0x0003 -> 0xfffc.
        let repr = Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 2,
            data: &[],
        };
        emit_golden(&repr, [0, 0, 0xff, 0xfc, 0, 1, 0, 2]);
        assert_eq!(repr.to_string(), "ICMP echo reply, id 1, seq 2, length 8");
    }

    fn csum_with(header: [u8; 8], data: &[u8]) -> [u8; 8] {
        // Independent reference: the internet-checksum crate.
        let mut c = internet_checksum::Checksum::new();
        c.add_bytes(&header);
        c.add_bytes(data);
        let mut h = header;
        h[2..4].copy_from_slice(&c.checksum());
        h
    }

    #[test]
    fn golden_frag_needed() {
        let repr = Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::FragRequired,
            next_hop_mtu: 576,
            data: &QUOTE,
        };
        emit_golden(&repr, csum_with([3, 4, 0, 0, 0, 0, 0x02, 0x40], &QUOTE));
        assert_eq!(
            repr.to_string(),
            "ICMP 10.0.2.2 unreachable - need to frag (mtu 576), length 36"
        );
    }

    #[test]
    fn golden_port_unreachable() {
        let repr = Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::PortUnreachable,
            next_hop_mtu: 0,
            data: &QUOTE,
        };
        emit_golden(&repr, csum_with([3, 3, 0, 0, 0, 0, 0, 0], &QUOTE));
        assert_eq!(
            repr.to_string(),
            "ICMP 10.0.2.2 udp port 53 unreachable, length 36"
        );
    }

    #[test]
    fn golden_time_exceeded() {
        let repr = Icmpv4Repr::TimeExceeded {
            reason: TimeExceeded::TtlExpired,
            data: &QUOTE[..20],
        };
        emit_golden(&repr, csum_with([11, 0, 0, 0, 0, 0, 0, 0], &QUOTE[..20]));
        assert_eq!(repr.to_string(), "ICMP time exceeded in-transit, length 28");
    }

    #[test]
    fn golden_param_problem() {
        let repr = Icmpv4Repr::ParamProblem {
            code: 0,
            pointer: 20,
            data: &QUOTE,
        };
        emit_golden(&repr, csum_with([12, 0, 0, 0, 20, 0, 0, 0], &QUOTE));
        assert_eq!(
            repr.to_string(),
            "ICMP parameter problem - octet 20, length 36"
        );
    }

    #[test]
    fn golden_redirect() {
        let repr = Icmpv4Repr::Redirect {
            reason: Redirect::Host,
            gateway: Ipv4Addr::new(10, 0, 0, 9),
            data: &QUOTE,
        };
        emit_golden(&repr, csum_with([5, 1, 0, 0, 10, 0, 0, 9], &QUOTE));
        assert_eq!(
            repr.to_string(),
            "ICMP redirect 10.0.2.2 to host 10.0.0.9, length 36"
        );
    }

    #[test]
    fn golden_other_timestamp() {
        let ts = [0u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let repr = Icmpv4Repr::Other {
            msg_type: 13,
            code: 0,
            rest: [0, 7, 0, 1],
            data: &ts,
        };
        emit_golden(&repr, csum_with([13, 0, 0, 0, 0, 7, 0, 1], &ts));
        assert_eq!(repr.to_string(), "ICMP time stamp query, length 20");
    }

    #[test]
    fn source_quench_parses_but_is_never_sent() {
        let bytes = csum_with([4, 0, 0, 0, 0, 0, 0, 0], &QUOTE);
        let mut msg = bytes.to_vec();
        msg.extend_from_slice(&QUOTE);
        let packet = Icmpv4Packet::new_checked(&msg[..]).unwrap();
        let repr = Icmpv4Repr::parse(&packet, RxChecksum::Verify).unwrap();
        assert_eq!(repr, Icmpv4Repr::SourceQuench { data: &QUOTE });
        assert_eq!(repr.to_string(), "ICMP source quench, length 36");
        let mut out = [0xa5; 64];
        assert_eq!(repr.emit(&mut out), Err(Error::Unsupported));
        assert_eq!(out, [0xa5; 64], "a refused emit writes nothing");
        let other = Icmpv4Repr::Other {
            msg_type: 4,
            code: 1,
            rest: [0; 4],
            data: &[],
        };
        assert_eq!(other.emit(&mut out), Err(Error::Unsupported));
    }

    #[test]
    fn raw_is_the_wire_value() {
        for v in 0..=255u8 {
            assert_eq!(Icmpv4Message::from(v).raw(), v);
            assert_eq!(
                DstUnreachable::from(v).raw(),
                u8::from(DstUnreachable::from(v))
            );
        }
        assert_eq!(Icmpv4Message::from(17), Icmpv4Message::AddressMaskRequest);
        assert_eq!(Icmpv4Message::from(18), Icmpv4Message::AddressMaskReply);
    }

    #[test]
    fn unknown_codes_are_kept() {
        for (t, code) in [(3u8, 16u8), (3, 255), (5, 4), (11, 2), (12, 3)] {
            let msg = csum_with([t, code, 0, 0, 1, 2, 3, 4], &[]);
            let packet = Icmpv4Packet::new_checked(&msg[..]).unwrap();
            let repr = Icmpv4Repr::parse(&packet, RxChecksum::Verify).unwrap();
            let mut out = [0u8; 8];
            repr.emit(&mut out).unwrap();
            assert_eq!(out[..2], [t, code]);
            match repr {
                Icmpv4Repr::DstUnreachable { reason, .. } => {
                    assert_eq!(reason, DstUnreachable::Other(code));
                    assert_eq!(
                        repr.to_string(),
                        format!("ICMP unreachable - #{code}, length 8")
                    );
                }
                Icmpv4Repr::Redirect { reason, .. } => {
                    assert_eq!(reason, Redirect::Other(code));
                    assert_eq!(repr.to_string(), "ICMP redirect-#4 to 1.2.3.4, length 8");
                }
                Icmpv4Repr::TimeExceeded { reason, .. } => {
                    assert_eq!(reason, TimeExceeded::Other(code));
                    assert_eq!(repr.to_string(), "ICMP time exceeded-#2, length 8");
                }
                Icmpv4Repr::ParamProblem {
                    code: 3,
                    pointer: 1,
                    ..
                } => {
                    assert_eq!(repr.to_string(), "ICMP parameter problem code 3, length 8");
                }
                other => panic!("{other:?}"),
            }
        }
        // Echo with a nonzero code and unknown types are Other, counted per type.
        for (t, code) in [(8u8, 1u8), (0, 9), (42, 0), (4, 1)] {
            let msg = csum_with([t, code, 0, 0, 9, 9, 9, 9], &[]);
            let packet = Icmpv4Packet::new_checked(&msg[..]).unwrap();
            assert_eq!(
                Icmpv4Repr::parse(&packet, RxChecksum::Verify).unwrap(),
                Icmpv4Repr::Other {
                    msg_type: t,
                    code,
                    rest: [9; 4],
                    data: &[]
                }
            );
        }
    }

    #[test]
    fn display_without_a_quote() {
        let unreach = |reason| Icmpv4Repr::DstUnreachable {
            reason,
            next_hop_mtu: 0,
            data: &[],
        };
        assert_eq!(
            unreach(DstUnreachable::NetUnreachable).to_string(),
            "ICMP net unreachable, length 8"
        );
        assert_eq!(
            unreach(DstUnreachable::FragRequired).to_string(),
            "ICMP unreachable - need to frag, length 8"
        );
        assert_eq!(
            unreach(DstUnreachable::PortUnreachable).to_string(),
            "ICMP port unreachable, length 8"
        );
        assert_eq!(
            unreach(DstUnreachable::CommProhibited).to_string(),
            "ICMP host unreachable - admin prohibited filter, length 8"
        );
        let with_quote = |reason| Icmpv4Repr::DstUnreachable {
            reason,
            next_hop_mtu: 0,
            data: &QUOTE[..20],
        };
        assert_eq!(
            with_quote(DstUnreachable::NetUnreachable).to_string(),
            "ICMP net 10.0.2.2 unreachable, length 28"
        );
        assert_eq!(
            with_quote(DstUnreachable::ProtoUnreachable).to_string(),
            "ICMP 10.0.2.2 protocol 17 unreachable, length 28"
        );
        assert_eq!(
            with_quote(DstUnreachable::PortUnreachable).to_string(),
            "ICMP 10.0.2.2 port unreachable, length 28"
        );
        let redirect = Icmpv4Repr::Redirect {
            reason: Redirect::NetTos,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            data: &[],
        };
        assert_eq!(
            redirect.to_string(),
            "ICMP redirect-tos to net 10.0.0.1, length 8"
        );
    }

    #[test]
    fn errors() {
        for len in 0..8 {
            assert_eq!(
                Icmpv4Packet::new_checked(&[8u8; 8][..len]).unwrap_err(),
                Error::Truncated
            );
        }
        let repr = Icmpv4Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: b"xy",
        };
        let mut buf = [0u8; 10];
        assert_eq!(repr.emit(&mut buf[..9]), Err(Error::Truncated));
        repr.emit(&mut buf).unwrap();
        buf[9] ^= 1;
        let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(
            Icmpv4Repr::parse(&packet, RxChecksum::Verify),
            Err(Error::BadChecksum)
        );
        assert!(Icmpv4Repr::parse(&packet, RxChecksum::Skip).is_ok());
    }

    #[test]
    fn view_accessors() {
        let msg = [3u8, 4, 0xab, 0xcd, 0x11, 0x22, 0x05, 0xdc, 0x45];
        let p = Icmpv4Packet::new_checked(&msg[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Message::DstUnreachable);
        assert_eq!(p.code(), 4);
        assert_eq!(p.checksum(), 0xabcd);
        assert_eq!(p.echo_ident(), 0x1122);
        assert_eq!(p.echo_seq_no(), 1500);
        assert_eq!(p.next_hop_mtu(), 1500);
        assert_eq!(p.pointer(), 0x11);
        assert_eq!(p.gateway(), Ipv4Addr::new(0x11, 0x22, 0x05, 0xdc));
        assert_eq!(p.rest_of_header(), [0x11, 0x22, 0x05, 0xdc]);
        assert_eq!(p.data(), &[0x45]);
        let mut owned = msg;
        let mut p = Icmpv4Packet::new_checked(&mut owned[..]).unwrap();
        p.set_echo_ident(7);
        p.set_echo_seq_no(9);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.into_inner()[4..8], [0, 7, 0, 9]);
    }

    #[test]
    fn enum_conversions() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Icmpv4Message::from(v)), v);
            assert_eq!(u8::from(DstUnreachable::from(v)), v);
            assert_eq!(u8::from(Redirect::from(v)), v);
            assert_eq!(u8::from(TimeExceeded::from(v)), v);
            assert_eq!(u8::from(ParamProblem::from(v)), v);
        }
        assert_eq!(DstUnreachable::from(13), DstUnreachable::CommProhibited);
        assert_eq!(DstUnreachable::from(16), DstUnreachable::Other(16));
        assert_eq!(Icmpv4Message::from(14), Icmpv4Message::TimestampReply);
    }

    /// Every field of every sendable kind, drawn independently; `build` picks by `kind`.
    type Fields = (u8, u16, u16, u8, [u8; 4]);

    fn build(f: Fields, data: &[u8]) -> Icmpv4Repr<'_> {
        let (kind, a, b, c, rest) = f;
        match kind % 7 {
            0 => Icmpv4Repr::EchoRequest {
                ident: a,
                seq_no: b,
                data,
            },
            1 => Icmpv4Repr::EchoReply {
                ident: a,
                seq_no: b,
                data,
            },
            2 => Icmpv4Repr::DstUnreachable {
                reason: c.into(),
                next_hop_mtu: a,
                data,
            },
            3 => Icmpv4Repr::TimeExceeded {
                reason: c.into(),
                data,
            },
            4 => Icmpv4Repr::ParamProblem {
                code: c,
                pointer: rest[0],
                data,
            },
            5 => Icmpv4Repr::Redirect {
                reason: c.into(),
                gateway: rest.into(),
                data,
            },
            // Types that parse as Other whatever the code.
            _ => Icmpv4Repr::Other {
                msg_type: 13 | (c & 0xf0),
                code: c,
                rest,
                data,
            },
        }
    }

    proptest! {
        #[test]
        fn round_trip(f in any::<Fields>(), data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let repr = build(f, &data);
            let mut buf = vec![0xa5u8; repr.buffer_len()];
            repr.emit(&mut buf).unwrap();
            let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Icmpv4Repr::parse(&packet, RxChecksum::Verify).unwrap(), repr);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Icmpv4Packet::new_checked(&bytes[..])
                && let Ok(repr) = Icmpv4Repr::parse(&p, RxChecksum::Skip)
            {
                let _ = repr.to_string();
                prop_assert_eq!(repr.buffer_len(), bytes.len());
            }
        }
    }
}
