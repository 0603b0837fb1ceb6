//! IPv4 options: RFC 791 §3.1 (EOL, NOP, RR, LSRR, SSRR), RFC 781 (timestamp), RFC 2113
//! (router alert); Linux net/ipv4/ip_options.c.
//!
//! Offsets and error pointers count from the start of the IP header (20 + index into the
//! options area), as Linux's `struct ip_options` and the ICMP Parameter Problem pointer do.
//! Only syntax is checked here; writing addresses and times into RR/TS and following source
//! routes is skiff-core's job.

use crate::{Error, Result, be16, need, put16};
use core::fmt;

/// Option kinds (`IPOPT_*`).
pub mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const RR: u8 = 7;
    pub const TIMESTAMP: u8 = 68;
    pub const LSRR: u8 = 131;
    pub const SSRR: u8 = 137;
    pub const RA: u8 = 148;
}

/// Length of the fixed IPv4 header: option offsets start here.
const IPHDR_LEN: usize = 20;
/// At most 40 option bytes fit behind a 20-byte header (IHL 15).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The flag nibble of a timestamp option (`IPOPT_TS_*`). RFC 781.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampFlag {
    /// Timestamps only.
    TsOnly,
    /// Each timestamp preceded by the recording address.
    TsAndAddr,
    /// Timestamps for prespecified addresses only.
    TsPrespec,
    /// Any other nibble value: Linux accepts it on receive and leaves the option alone.
    Unknown(u8),
}

impl From<u8> for TimestampFlag {
    /// Reads the low nibble.
    fn from(v: u8) -> Self {
        match v & 0x0f {
            0 => TimestampFlag::TsOnly,
            1 => TimestampFlag::TsAndAddr,
            3 => TimestampFlag::TsPrespec,
            other => TimestampFlag::Unknown(other),
        }
    }
}

impl From<TimestampFlag> for u8 {
    fn from(v: TimestampFlag) -> u8 {
        match v {
            TimestampFlag::TsOnly => 0,
            TimestampFlag::TsAndAddr => 1,
            TimestampFlag::TsPrespec => 3,
            TimestampFlag::Unknown(other) => other,
        }
    }
}

/// One IPv4 option. Every variant but [`Ipv4Option::RouterAlert`] keeps all its bytes, so
/// emitting what was parsed gives the same bytes back; a router alert whose length is not 4
/// parses as [`Ipv4Option::Unknown`] for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv4Option<'a> {
    /// End of option list.
    Eol,
    /// No operation (padding).
    Nop,
    /// Record route; `data` is the route data after the pointer byte.
    RecordRoute { pointer: u8, data: &'a [u8] },
    /// Internet timestamp; `data` follows the overflow/flag byte.
    Timestamp {
        pointer: u8,
        overflow: u8,
        flag: TimestampFlag,
        data: &'a [u8],
    },
    /// Loose source and record route; `route` follows the pointer byte.
    Lsrr { pointer: u8, route: &'a [u8] },
    /// Strict source and record route.
    Ssrr { pointer: u8, route: &'a [u8] },
    /// Router alert (RFC 2113): value 0 is "router shall examine packet".
    RouterAlert { value: u16 },
    /// Any other option; `kind` keeps its copied flag, `data` follows the length byte.
    Unknown { kind: u8, data: &'a [u8] },
}

impl<'a> Ipv4Option<'a> {
    /// The option-type byte.
    pub const fn kind(&self) -> u8 {
        match self {
            Ipv4Option::Eol => kind::EOL,
            Ipv4Option::Nop => kind::NOP,
            Ipv4Option::RecordRoute { .. } => kind::RR,
            Ipv4Option::Timestamp { .. } => kind::TIMESTAMP,
            Ipv4Option::Lsrr { .. } => kind::LSRR,
            Ipv4Option::Ssrr { .. } => kind::SSRR,
            Ipv4Option::RouterAlert { .. } => kind::RA,
            Ipv4Option::Unknown { kind, .. } => *kind,
        }
    }

    /// The copied flag: the option goes into every fragment. RFC 791 §3.1; Linux IPOPT_COPIED().
    pub const fn copied(&self) -> bool {
        self.kind() & 0x80 != 0
    }

    /// Bytes on the wire.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> usize {
        match self {
            Ipv4Option::Eol | Ipv4Option::Nop => 1,
            Ipv4Option::RecordRoute { data, .. } => 3 + data.len(),
            Ipv4Option::Lsrr { route, .. } | Ipv4Option::Ssrr { route, .. } => 3 + route.len(),
            Ipv4Option::Timestamp { data, .. } => 4 + data.len(),
            Ipv4Option::RouterAlert { .. } => 4,
            Ipv4Option::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buf` and returns its length. Fails with
    /// [`Error::BadLength`] if it is longer than 255 bytes, [`Error::Unsupported`] for a
    /// timestamp overflow or flag above 15.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.len();
        let len_byte = u8::try_from(len).map_err(|_| Error::BadLength)?;
        need(buf, len)?;
        buf[0] = self.kind();
        match *self {
            Ipv4Option::Eol | Ipv4Option::Nop => {}
            Ipv4Option::RecordRoute {
                pointer,
                data: rest,
            }
            | Ipv4Option::Lsrr {
                pointer,
                route: rest,
            }
            | Ipv4Option::Ssrr {
                pointer,
                route: rest,
            } => {
                buf[1] = len_byte;
                buf[2] = pointer;
                buf[3..len].copy_from_slice(rest);
            }
            Ipv4Option::Timestamp {
                pointer,
                overflow,
                flag,
                data,
            } => {
                let flag = u8::from(flag);
                if overflow > 15 || flag > 15 {
                    return Err(Error::Unsupported);
                }
                buf[1] = len_byte;
                buf[2] = pointer;
                buf[3] = (overflow << 4) | flag;
                buf[4..len].copy_from_slice(data);
            }
            Ipv4Option::RouterAlert { value } => {
                buf[1] = len_byte;
                put16(buf, 2, value);
            }
            Ipv4Option::Unknown { data, .. } => {
                buf[1] = len_byte;
                buf[2..len].copy_from_slice(data);
            }
        }
        Ok(len)
    }

    /// Decodes one multi-byte option `opt` (its whole `len` bytes) found at header offset
    /// `at`, with the per-option checks of Linux ip_options_compile() on a received packet.
    fn decode(opt: &'a [u8], at: usize) -> Result<Ipv4Option<'a>> {
        let bad = |delta: usize| Error::BadOption {
            pointer: (at + delta) as u8,
        };
        let len = opt.len();
        match opt[0] {
            kind::RR | kind::LSRR | kind::SSRR => {
                if len < 3 {
                    return Err(bad(1));
                }
                let pointer = opt[2];
                if pointer < 4 {
                    return Err(bad(2));
                }
                // Only RR checks room for the next address here; a source route is checked
                // when it is followed (Linux ip_options_rcv_srr()).
                if opt[0] == kind::RR
                    && usize::from(pointer) <= len
                    && usize::from(pointer) + 3 > len
                {
                    return Err(bad(2));
                }
                let rest = &opt[3..];
                Ok(match opt[0] {
                    kind::RR => Ipv4Option::RecordRoute {
                        pointer,
                        data: rest,
                    },
                    kind::LSRR => Ipv4Option::Lsrr {
                        pointer,
                        route: rest,
                    },
                    _ => Ipv4Option::Ssrr {
                        pointer,
                        route: rest,
                    },
                })
            }
            kind::TIMESTAMP => {
                if len < 4 {
                    return Err(bad(1));
                }
                let pointer = usize::from(opt[2]);
                if pointer < 5 {
                    return Err(bad(2));
                }
                let flag = TimestampFlag::from(opt[3]);
                let overflow = opt[3] >> 4;
                if pointer <= len {
                    let entry = match flag {
                        TimestampFlag::TsAndAddr | TimestampFlag::TsPrespec => 8,
                        _ => 4,
                    };
                    if pointer + entry - 1 > len {
                        return Err(bad(2));
                    }
                } else if flag != TimestampFlag::TsPrespec && overflow == 15 {
                    // Full: the hop would bump the overflow counter past 15.
                    return Err(bad(3));
                }
                Ok(Ipv4Option::Timestamp {
                    pointer: opt[2],
                    overflow,
                    flag,
                    data: &opt[4..],
                })
            }
            kind::RA if len == 4 => Ok(Ipv4Option::RouterAlert {
                value: be16(opt, 2),
            }),
            kind::RA if len < 4 => Err(bad(1)),
            other => Ok(Ipv4Option::Unknown {
                kind: other,
                data: &opt[2..],
            }),
        }
    }
}

impl fmt::Display for Ipv4Option<'_> {
    /// The tcpdump name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Option::Eol => f.write_str("EOL"),
            Ipv4Option::Nop => f.write_str("NOP"),
            Ipv4Option::RecordRoute { .. } => f.write_str("RR"),
            Ipv4Option::Timestamp { .. } => f.write_str("timestamp"),
            Ipv4Option::Lsrr { .. } => f.write_str("LSRR"),
            Ipv4Option::Ssrr { .. } => f.write_str("SSRR"),
            Ipv4Option::RouterAlert { value: 0 } | Ipv4Option::Unknown { kind: kind::RA, .. } => {
                f.write_str("RA")
            }
            Ipv4Option::RouterAlert { value } => write!(f, "RA value {value}"),
            Ipv4Option::Unknown { kind, .. } => write!(f, "unknown {kind}"),
        }
    }
}

/// The next option of `area` starting at index `i`: `Ok(None)` at the end, else the option's
/// bytes (one byte for EOL and NOP). Checks only that the length byte exists and fits.
fn split(area: &[u8], i: usize) -> Result<Option<&[u8]>> {
    let rest = &area[i.min(area.len())..];
    match rest {
        [] => Ok(None),
        [kind::EOL | kind::NOP, ..] => Ok(Some(&rest[..1])),
        [_, len, ..] if *len >= 2 && usize::from(*len) <= rest.len() => {
            Ok(Some(&rest[..usize::from(*len)]))
        }
        _ => Err(Error::BadOption {
            pointer: (IPHDR_LEN + i) as u8,
        }),
    }
}

/// Iterates over an options area, yielding `(offset from the IP header start, option)`.
/// Stops after EOL and after the first error; an area longer than [`MAX_OPTIONS_LEN`] yields
/// [`Error::BadHeaderLen`].
#[derive(Debug, Clone)]
pub struct Ipv4OptionsIter<'a> {
    area: &'a [u8],
    next: usize,
    done: bool,
}

impl<'a> Ipv4OptionsIter<'a> {
    pub const fn new(area: &'a [u8]) -> Self {
        Ipv4OptionsIter {
            area,
            next: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Ipv4OptionsIter<'a> {
    type Item = Result<(usize, Ipv4Option<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.area.len() > MAX_OPTIONS_LEN {
            self.done = true;
            return Some(Err(Error::BadHeaderLen));
        }
        let at = IPHDR_LEN + self.next;
        let item = match split(self.area, self.next) {
            Ok(None) => None,
            Ok(Some([kind::EOL])) => {
                self.done = true;
                Some(Ok((at, Ipv4Option::Eol)))
            }
            Ok(Some([kind::NOP])) => Some(Ok((at, Ipv4Option::Nop))),
            Ok(Some(opt)) => Some(Ipv4Option::decode(opt, at).map(|o| (at, o))),
            Err(e) => Some(Err(e)),
        };
        match &item {
            Some(Ok((_, opt))) => self.next += opt.len(),
            _ => self.done = true,
        }
        item
    }
}

/// Who hands the options to [`Ipv4Options::parse`]: Linux ip_options_compile() is called
/// with an skb for a received packet and without one for `setsockopt(IP_OPTIONS)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsOrigin {
    /// A received packet: unknown options and timestamp flags are accepted.
    Received,
    /// A local socket: source routes must be well formed, and without `CAP_NET_RAW` unknown
    /// options and timestamp flags are refused.
    Socket { cap_net_raw: bool },
}

/// Where the options of one header are, like Linux's `struct ip_options`. Offsets count
/// from the start of the IP header; 0 means absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4Options {
    /// Length of the options area.
    pub optlen: u8,
    /// Offset of the LSRR or SSRR option.
    pub srr: u8,
    /// The source route is strict (SSRR).
    pub is_strictroute: bool,
    /// Offset of the record route option.
    pub rr: u8,
    /// Offset of the timestamp option.
    pub ts: u8,
    /// Offset of a router alert with value 0.
    pub router_alert: u8,
    /// Some option is none of RR, TS, LSRR, SSRR, RA (Linux accepts and skips it on receive).
    pub has_unknown: bool,
    /// Some option has the copied flag, so fragments after the first keep options.
    pub has_copied: bool,
}

impl Ipv4Options {
    /// Checks the syntax of an options area and records where each option is.
    /// Errors carry the Parameter Problem pointer Linux would send.
    /// RFC 791 §3.1, RFC 1812 §5.2.4.1; Linux net/ipv4/ip_options.c __ip_options_compile().
    pub fn parse(area: &[u8], origin: OptionsOrigin) -> Result<Ipv4Options> {
        if area.is_empty() {
            // Almost every packet: nothing to walk.
            return Ok(Ipv4Options::default());
        }
        if area.len() > MAX_OPTIONS_LEN {
            return Err(Error::BadHeaderLen);
        }
        let mut opts = Ipv4Options {
            optlen: area.len() as u8,
            ..Ipv4Options::default()
        };
        let strict_socket = origin == OptionsOrigin::Socket { cap_net_raw: false };
        let mut i = 0;
        while let Some(raw) = split(area, i)? {
            let at = (IPHDR_LEN + i) as u8;
            let dup = Error::BadOption { pointer: at };
            i += raw.len();
            // Linux looks for a second RR or TS before any other check of the option.
            if (raw[0] == kind::RR && opts.rr != 0) || (raw[0] == kind::TIMESTAMP && opts.ts != 0) {
                return Err(dup);
            }
            let opt = match raw {
                [kind::EOL] => break,
                [kind::NOP] => continue,
                _ => Ipv4Option::decode(raw, usize::from(at))?,
            };
            opts.has_copied |= opt.copied();
            match opt {
                Ipv4Option::Lsrr { pointer, route } | Ipv4Option::Ssrr { pointer, route } => {
                    if opts.srr != 0 {
                        return Err(dup);
                    }
                    // setsockopt wants the first hop at pointer 4 and whole addresses.
                    if origin != OptionsOrigin::Received
                        && (pointer != 4 || route.len() < 4 || !route.len().is_multiple_of(4))
                    {
                        return Err(Error::BadOption { pointer: at + 1 });
                    }
                    opts.srr = at;
                    opts.is_strictroute = raw[0] == kind::SSRR;
                }
                Ipv4Option::RecordRoute { .. } => opts.rr = at,
                Ipv4Option::Timestamp { pointer, flag, .. } => {
                    if strict_socket
                        && matches!(flag, TimestampFlag::Unknown(_))
                        && usize::from(pointer) <= raw.len()
                    {
                        return Err(Error::BadOption { pointer: at + 3 });
                    }
                    opts.ts = at;
                }
                // Any router alert of length 4 or more whose first two value bytes are 0.
                Ipv4Option::RouterAlert { .. } | Ipv4Option::Unknown { kind: kind::RA, .. } => {
                    if raw[2] == 0 && raw[3] == 0 {
                        opts.router_alert = at;
                    }
                }
                _ => {
                    if strict_socket {
                        return Err(dup);
                    }
                    opts.has_unknown = true;
                }
            }
        }
        Ok(opts)
    }
}

/// Replaces every option without the copied flag by NOPs of the same length, so the header
/// can be reused for the fragments after the first. Stops at EOL or at a malformed option.
/// RFC 791 §3.2; Linux net/ipv4/ip_options.c ip_options_fragment().
pub fn ip_options_fragment(opts: &mut [u8]) {
    let mut i = 0;
    while let Ok(Some(raw)) = split(opts, i) {
        let len = raw.len();
        match raw[0] {
            kind::EOL => return,
            k if k & 0x80 == 0 => opts[i..i + len].fill(kind::NOP),
            _ => {}
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(area: &[u8]) -> Result<Ipv4Options> {
        Ipv4Options::parse(area, OptionsOrigin::Received)
    }

    fn bad(pointer: u8) -> Result<Ipv4Options> {
        Err(Error::BadOption { pointer })
    }

    fn items(area: &[u8]) -> Vec<Result<(usize, Ipv4Option<'_>)>> {
        Ipv4OptionsIter::new(area).collect()
    }

    #[test]
    fn empty_and_padding() {
        assert_eq!(rx(&[]), Ok(Ipv4Options::default()));
        let o = rx(&[1, 1, 1, 0]).unwrap();
        assert_eq!(o.optlen, 4);
        assert_eq!((o.rr, o.ts, o.srr, o.has_unknown), (0, 0, 0, false));
        // EOL ends parsing: garbage after it is not looked at.
        assert!(rx(&[0, 7, 0xff, 0xff]).is_ok());
        assert_eq!(
            items(&[1, 0, 7, 9]),
            vec![Ok((20, Ipv4Option::Nop)), Ok((21, Ipv4Option::Eol))]
        );
    }

    #[test]
    fn length_errors_point_at_option() {
        // Option type byte alone at the end.
        assert_eq!(rx(&[1, 1, 1, 7]), bad(23));
        // Length 0, 1 and past the area.
        assert_eq!(rx(&[1, 7, 0, 4]), bad(21));
        assert_eq!(rx(&[1, 7, 1, 4]), bad(21));
        assert_eq!(rx(&[7, 5, 4, 0]), bad(20));
        assert_eq!(rx(&[1, 1, 0x99, 3]), bad(22));
        assert_eq!(
            items(&[1, 7, 1, 4]),
            vec![
                Ok((20, Ipv4Option::Nop)),
                Err(Error::BadOption { pointer: 21 })
            ]
        );
    }

    #[test]
    fn record_route() {
        #[rustfmt::skip]
        let area = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let o = rx(&area).unwrap();
        assert_eq!((o.rr, o.optlen, o.has_copied), (20, 12, false));
        // len < 3 → +1; pointer < 4 → +2; pointer within but no room for an address → +2.
        assert_eq!(rx(&[1, 7, 2, 0]), bad(22));
        assert_eq!(rx(&[7, 4, 3, 0]), bad(22));
        assert_eq!(rx(&[7, 8, 6, 0, 0, 0, 0, 0]), bad(22));
        // pointer == len + 1: full, accepted.
        assert!(rx(&[7, 7, 8, 1, 2, 3, 4, 0]).is_ok());
        // pointer just fits: 4 + 3 == 7.
        assert!(rx(&[7, 7, 4, 0, 0, 0, 0, 0]).is_ok());
        // duplicate → at the second option, checked before its length (len 2 would be +1).
        assert_eq!(rx(&[7, 7, 8, 0, 0, 0, 0, 7, 2, 0, 0, 0]), bad(27));
    }

    #[test]
    fn timestamp() {
        let o = rx(&[68, 8, 5, 0x00, 0, 0, 0, 0]).unwrap();
        assert_eq!(o.ts, 20);
        // len < 4 → +1; pointer < 5 → +2.
        assert_eq!(rx(&[68, 3, 5, 0]), bad(21));
        assert_eq!(rx(&[68, 4, 4, 0]), bad(22));
        // pointer within but no room for a timestamp → +2.
        assert_eq!(rx(&[68, 8, 6, 0, 0, 0, 0, 0]), bad(22));
        // Address + timestamp form needs 8 bytes from the pointer.
        assert_eq!(rx(&[68, 8, 5, 0x01, 0, 0, 0, 0]), bad(22));
        assert_eq!(rx(&[68, 8, 5, 0x03, 0, 0, 0, 0]), bad(22));
        assert!(rx(&[68, 12, 5, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]).is_ok());
        // Full with overflow 15 → +3; PRESPEC is exempt; 14 is fine.
        assert_eq!(rx(&[68, 8, 9, 0xf0, 0, 0, 0, 0]), bad(23));
        assert!(rx(&[68, 8, 9, 0xf3, 0, 0, 0, 0]).is_ok());
        assert!(rx(&[68, 8, 9, 0xe0, 0, 0, 0, 0]).is_ok());
        // Duplicate → at the second option.
        assert_eq!(rx(&[68, 4, 5, 0, 68, 4, 5, 0]), bad(24));
    }

    #[test]
    fn timestamp_unknown_flag() {
        let area = [68, 8, 5, 0x02, 0, 0, 0, 0];
        // Accepted on receive and by a CAP_NET_RAW socket, refused otherwise with +3.
        assert_eq!(rx(&area).unwrap().ts, 20);
        let raw = OptionsOrigin::Socket { cap_net_raw: true };
        assert!(Ipv4Options::parse(&area, raw).is_ok());
        let user = OptionsOrigin::Socket { cap_net_raw: false };
        assert_eq!(Ipv4Options::parse(&area, user), bad(23));
        // A full option is not looked at for the flag.
        assert!(Ipv4Options::parse(&[68, 8, 9, 0x02, 0, 0, 0, 0], user).is_ok());
        assert_eq!(
            items(&area)[0],
            Ok((
                20,
                Ipv4Option::Timestamp {
                    pointer: 5,
                    overflow: 0,
                    flag: TimestampFlag::Unknown(2),
                    data: &[0; 4]
                }
            ))
        );
    }

    #[test]
    fn source_route() {
        #[rustfmt::skip]
        let area = [1, 131, 7, 4, 10, 0, 0, 1, 0, 0, 0, 0];
        let o = rx(&area).unwrap();
        assert_eq!((o.srr, o.is_strictroute, o.has_copied), (21, false, true));
        let o = rx(&[137, 7, 8, 10, 0, 0, 1, 0]).unwrap();
        assert_eq!((o.srr, o.is_strictroute), (20, true));
        // len < 3 → +1; pointer < 4 → +2.
        assert_eq!(rx(&[1, 131, 2, 0]), bad(22));
        assert_eq!(rx(&[131, 4, 3, 0]), bad(22));
        // Second source route → at it (after its own length and pointer checks).
        assert_eq!(rx(&[131, 3, 4, 137, 3, 4, 0, 0]), bad(23));
        assert_eq!(rx(&[131, 3, 4, 137, 3, 3, 0, 0]), bad(25));
        // Receive does not check the route's shape; a socket does (+1).
        let user = OptionsOrigin::Socket { cap_net_raw: true };
        assert!(rx(&[131, 3, 4, 0]).is_ok());
        assert_eq!(Ipv4Options::parse(&[131, 3, 4, 0], user), bad(21));
        assert_eq!(
            Ipv4Options::parse(&[131, 7, 8, 1, 2, 3, 4, 0], user),
            bad(21)
        );
        assert_eq!(
            Ipv4Options::parse(&[131, 9, 4, 1, 2, 3, 4, 5, 6, 0, 0, 0], user),
            bad(21)
        );
        assert_eq!(
            Ipv4Options::parse(&[131, 7, 4, 1, 2, 3, 4, 0], user)
                .unwrap()
                .srr,
            20
        );
    }

    #[test]
    fn router_alert() {
        let o = rx(&[148, 4, 0, 0]).unwrap();
        assert_eq!((o.router_alert, o.has_copied), (20, true));
        // A non-zero value is accepted but is not "router alert".
        assert_eq!(rx(&[148, 4, 0, 1]).unwrap().router_alert, 0);
        // Longer than 4: Linux still reads the first two value bytes.
        assert_eq!(rx(&[1, 148, 6, 0, 0, 9, 9, 0]).unwrap().router_alert, 21);
        assert_eq!(rx(&[1, 148, 3, 0]), bad(22));
        assert_eq!(rx(&[1, 148, 2, 0]), bad(22));
    }

    #[test]
    fn unknown_options() {
        // Security (130) and an unassigned kind: skipped on receive.
        let o = rx(&[130, 4, 1, 2, 25, 2, 0, 0]).unwrap();
        assert!(o.has_unknown && o.has_copied);
        let user = OptionsOrigin::Socket { cap_net_raw: false };
        assert_eq!(Ipv4Options::parse(&[1, 25, 2, 0], user), bad(21));
        let raw = OptionsOrigin::Socket { cap_net_raw: true };
        assert!(Ipv4Options::parse(&[1, 25, 2, 0], raw).unwrap().has_unknown);
        assert_eq!(
            items(&[130, 4, 1, 2]),
            vec![Ok((
                20,
                Ipv4Option::Unknown {
                    kind: 130,
                    data: &[1, 2]
                }
            ))]
        );
        assert_eq!(
            Ipv4Options::parse(&[1; 44], OptionsOrigin::Received),
            Err(Error::BadHeaderLen)
        );
        assert_eq!(items(&[1; 44]), vec![Err(Error::BadHeaderLen)]);
    }

    #[test]
    fn golden_emit() {
        let route = [10, 0, 0, 1, 0, 0, 0, 0];
        let opts = [
            Ipv4Option::Nop,
            Ipv4Option::RecordRoute {
                pointer: 8,
                data: &route,
            },
            Ipv4Option::RouterAlert { value: 0 },
            Ipv4Option::Timestamp {
                pointer: 5,
                overflow: 2,
                flag: TimestampFlag::TsAndAddr,
                data: &[0; 8],
            },
            Ipv4Option::Eol,
        ];
        let mut buf = [0xa5; 32];
        let mut at = 0;
        for o in &opts {
            at += o.emit(&mut buf[at..]).unwrap();
        }
        #[rustfmt::skip]
        let expected = [
            0x01,
            0x07, 0x0b, 0x08, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x94, 0x04, 0x00, 0x00,
            0x44, 0x0c, 0x05, 0x21, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00,
        ];
        assert_eq!(at, expected.len());
        assert_eq!(&buf[..at], &expected);
        assert_eq!(&buf[at..], &[0xa5; 3]);
        let parsed: Vec<_> = items(&buf[..at])
            .into_iter()
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(parsed, opts);
        let o = rx(&buf[..at]).unwrap();
        assert_eq!((o.rr, o.router_alert, o.ts), (21, 32, 36));
    }

    #[test]
    fn emit_errors() {
        let mut small = [0u8; 3];
        let ra = Ipv4Option::RouterAlert { value: 1 };
        assert_eq!(ra.emit(&mut small), Err(Error::Truncated));
        let long = [0u8; 300];
        let rr = Ipv4Option::RecordRoute {
            pointer: 4,
            data: &long,
        };
        assert_eq!(rr.emit(&mut [0u8; 400]), Err(Error::BadLength));
        let ts = Ipv4Option::Timestamp {
            pointer: 5,
            overflow: 16,
            flag: TimestampFlag::TsOnly,
            data: &[],
        };
        assert_eq!(ts.emit(&mut [0u8; 8]), Err(Error::Unsupported));
    }

    #[test]
    fn copied_flags() {
        let route: &[u8] = &[];
        assert!(Ipv4Option::Lsrr { pointer: 4, route }.copied());
        assert!(Ipv4Option::Ssrr { pointer: 4, route }.copied());
        assert!(Ipv4Option::RouterAlert { value: 0 }.copied());
        assert!(
            !Ipv4Option::RecordRoute {
                pointer: 4,
                data: route
            }
            .copied()
        );
        assert!(!Ipv4Option::Eol.copied() && !Ipv4Option::Nop.copied());
        assert!(
            Ipv4Option::Unknown {
                kind: 130,
                data: route
            }
            .copied()
        );
        assert!(
            !Ipv4Option::Unknown {
                kind: 25,
                data: route
            }
            .copied()
        );
    }

    #[test]
    fn fragment_keeps_copied_options() {
        #[rustfmt::skip]
        let mut area = [
            7, 7, 4, 0, 0, 0, 0,        // RR: not copied
            1,                          // NOP
            131, 7, 4, 1, 2, 3, 4,      // LSRR: copied
            68, 8, 5, 0, 0, 0, 0, 0,    // TS: not copied
            148, 4, 0, 0,               // RA: copied
            0, 7, 3,                    // EOL, then bytes left alone
        ];
        ip_options_fragment(&mut area);
        #[rustfmt::skip]
        let expected = [
            1, 1, 1, 1, 1, 1, 1,
            1,
            131, 7, 4, 1, 2, 3, 4,
            1, 1, 1, 1, 1, 1, 1, 1,
            148, 4, 0, 0,
            0, 7, 3,
        ];
        assert_eq!(area, expected);
        // A malformed option stops the walk; what came before is already blanked.
        let mut area = [68, 4, 5, 0, 7, 9, 4, 0];
        ip_options_fragment(&mut area);
        assert_eq!(area, [1, 1, 1, 1, 7, 9, 4, 0]);
    }

    #[test]
    fn display_names() {
        let names: Vec<String> = items(&[7, 3, 4, 1, 148, 4, 0, 0, 68, 4, 5, 0, 148, 4, 0, 2])
            .into_iter()
            .map(|r| r.unwrap().1.to_string())
            .collect();
        assert_eq!(names, ["RR", "NOP", "RA", "timestamp", "RA value 2"]);
    }
}
