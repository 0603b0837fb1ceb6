//! The LOG target's line format. Linux net/netfilter/nf_log_syslog.c nf_log_ip_packet(),
//! dump_ipv4_packet(), with the iptables LOG defaults (no TCP sequence, TCP options, IP
//! options or UID flags). Lines keep the kernel's trailing space; the syslog level prefix
//! (`KERN_SOH`) is not part of them.

use super::hook::NfHookState;
use super::pkt::{header, skb_copy_bits};
use crate::skb::SkBuff;
use core::fmt::Write;
use skiff_wire::icmpv4::{DstUnreachable, Icmpv4Message};
use skiff_wire::ipv4::ip_hdrlen;
use skiff_wire::ipv4::{
    IP_CE, IP_DF, IP_MF, IP_OFFSET, IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_TCP,
    IPPROTO_UDP, IPPROTO_UDPLITE,
};
use std::collections::VecDeque;

/// LOG lines kept until drained.
pub const LOG_RING_SIZE: usize = 1024;

/// A bounded ring of LOG lines; the oldest line is overwritten and counted in `lost`.
#[derive(Default)]
pub(super) struct LogRing {
    lines: VecDeque<String>,
    pub lost: u64,
}

impl LogRing {
    pub fn push(&mut self, line: String) {
        if self.lines.len() >= LOG_RING_SIZE {
            self.lines.pop_front();
            self.lost = self.lost.wrapping_add(1);
        }
        self.lines.push_back(line);
    }

    pub fn drain(&mut self) -> impl Iterator<Item = String> + '_ {
        self.lines.drain(..)
    }
}

/// One LOG line for `skb` (data at the IPv4 header). Linux nf_log_ip_packet():
/// `PREFIXIN=.. OUT=.. [MAC=..] SRC=.. DST=.. LEN=.. TOS=.. PREC=.. TTL=.. ID=.. [flags] PROTO=..`.
pub(super) fn nf_log_ip_packet(prefix: &str, state: &NfHookState, skb: &SkBuff) -> String {
    let mut m = String::with_capacity(256);
    let dev = |d: Option<super::hook::NfDev>| d.map(|d| d.name);
    let _ = write!(
        m,
        "{prefix}IN={} OUT={} ",
        dev(state.in_dev).as_ref().map_or("", |n| n.as_str()),
        dev(state.out_dev).as_ref().map_or("", |n| n.as_str())
    );
    if state.in_dev.is_some() {
        dump_mac_header(&mut m, skb);
    }
    dump_ipv4_packet(&mut m, skb, 0);
    m
}

/// `MAC=` and the link-layer header bytes, when there is one. Linux dump_mac_header().
fn dump_mac_header(m: &mut String, skb: &SkBuff) {
    m.push_str("MAC=");
    if let (Some(mac), Some(nh)) = (skb.mac_header(), skb.network_header())
        && let Some(bytes) = skb.mac_header_bytes()
    {
        let len = usize::from(nh.saturating_sub(mac)).min(bytes.len());
        for (i, b) in bytes[..len].iter().enumerate() {
            let _ = write!(m, "{}{b:02x}", if i == 0 { "" } else { ":" });
        }
    }
    m.push(' ');
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Linux dump_ipv4_packet(); `iphoff > 0` is the header quoted in an ICMP error (one level).
fn dump_ipv4_packet(m: &mut String, skb: &SkBuff, iphoff: usize) {
    let mut ih = [0u8; 20];
    if !skb_copy_bits(skb, iphoff, &mut ih) {
        m.push_str("TRUNCATED");
        return;
    }
    let tot_len = match be16(&ih, 2) {
        // A GSO packet over 64 KiB carries 0 (Linux iph_totlen()).
        0 if iphoff == 0 => skb.len(),
        n => usize::from(n),
    };
    let frag_off = be16(&ih, 6);
    let _ = write!(
        m,
        "SRC={} DST={} LEN={tot_len} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
        std::net::Ipv4Addr::new(ih[12], ih[13], ih[14], ih[15]),
        std::net::Ipv4Addr::new(ih[16], ih[17], ih[18], ih[19]),
        ih[1] & 0x1e,
        ih[1] & 0xe0,
        ih[8],
        be16(&ih, 4)
    );
    for (bit, name) in [(IP_CE, "CE "), (IP_DF, "DF "), (IP_MF, "MF ")] {
        if frag_off & bit != 0 {
            m.push_str(name);
        }
    }
    let fragoff = frag_off & IP_OFFSET;
    if fragoff != 0 {
        let _ = write!(m, "FRAG:{fragoff} ");
    }
    let thoff = iphoff + ip_hdrlen(&ih);
    let rest = skb.len().saturating_sub(thoff);
    let incomplete = |m: &mut String| {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
    };
    match ih[9] {
        IPPROTO_TCP => {
            m.push_str("PROTO=TCP ");
            if fragoff != 0 {
                // nothing more in a non-first fragment
            } else if let Some(th) = header::<20>(skb, thoff) {
                let _ = write!(
                    m,
                    "SPT={} DPT={} WINDOW={} RES=0x{:02x} ",
                    be16(&th, 0),
                    be16(&th, 2),
                    be16(&th, 14),
                    (th[12] & 0x0e) << 2
                );
                let flags = u16::from(th[12] & 1) << 8 | u16::from(th[13]);
                for (bit, name) in [
                    (0x100, "AE "),
                    (0x80, "CWR "),
                    (0x40, "ECE "),
                    (0x20, "URG "),
                    (0x10, "ACK "),
                    (0x08, "PSH "),
                    (0x04, "RST "),
                    (0x02, "SYN "),
                    (0x01, "FIN "),
                ] {
                    if flags & bit != 0 {
                        m.push_str(name);
                    }
                }
                let _ = write!(m, "URGP={} ", be16(&th, 18));
            } else {
                incomplete(m);
                return;
            }
        }
        proto @ (IPPROTO_UDP | IPPROTO_UDPLITE) => {
            m.push_str(if proto == IPPROTO_UDP {
                "PROTO=UDP "
            } else {
                "PROTO=UDPLITE "
            });
            if fragoff == 0 {
                let Some(uh) = header::<8>(skb, thoff) else {
                    incomplete(m);
                    return;
                };
                let _ = write!(
                    m,
                    "SPT={} DPT={} LEN={} ",
                    be16(&uh, 0),
                    be16(&uh, 2),
                    be16(&uh, 4)
                );
            }
        }
        IPPROTO_ICMP => {
            m.push_str("PROTO=ICMP ");
            if fragoff == 0 {
                dump_icmp(m, skb, iphoff, thoff, rest);
            }
        }
        IPPROTO_AH => {
            // Linux prints nothing at all for a non-first AH fragment.
            if fragoff == 0 {
                m.push_str("PROTO=AH ");
                match header::<12>(skb, thoff) {
                    Some(ah) => {
                        let _ = write!(
                            m,
                            "SPI=0x{:x} ",
                            u32::from_be_bytes([ah[4], ah[5], ah[6], ah[7]])
                        );
                    }
                    None => incomplete(m),
                }
            }
        }
        IPPROTO_ESP => {
            m.push_str("PROTO=ESP ");
            if fragoff == 0 {
                match header::<8>(skb, thoff) {
                    Some(eh) => {
                        let _ = write!(
                            m,
                            "SPI=0x{:x} ",
                            u32::from_be_bytes([eh[0], eh[1], eh[2], eh[3]])
                        );
                    }
                    None => incomplete(m),
                }
            }
        }
        proto => {
            let _ = write!(m, "PROTO={proto} ");
        }
    }
    if iphoff == 0 && skb.mark != 0 {
        let _ = write!(m, "MARK=0x{:x} ", skb.mark);
    }
}

/// The ICMP part of dump_ipv4_packet(): type, code, and per type the echo id/sequence, the
/// parameter pointer, the gateway, the quoted header (once) and the MTU.
fn dump_icmp(m: &mut String, skb: &SkBuff, iphoff: usize, thoff: usize, rest: usize) {
    use Icmpv4Message as T;
    let Some(ich) = header::<8>(skb, thoff) else {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
        return;
    };
    let (ty, code) = (ich[0], ich[1]);
    let _ = write!(m, "TYPE={ty} CODE={code} ");
    let msg = T::from(ty);
    // Linux required_len[]: the bytes each known type needs before its fields are printed.
    let required = match msg {
        T::EchoReply | T::EchoRequest => 4,
        T::DstUnreachable | T::SourceQuench | T::Redirect | T::TimeExceeded | T::ParamProblem => {
            8 + 20
        }
        T::Timestamp | T::TimestampReply => 20,
        T::AddressMaskRequest | T::AddressMaskReply => 12,
        _ => 0,
    };
    if rest < required {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
        return;
    }
    match msg {
        T::EchoReply | T::EchoRequest => {
            let _ = write!(m, "ID={} SEQ={} ", be16(&ich, 4), be16(&ich, 6));
        }
        T::ParamProblem => {
            let _ = write!(m, "PARAMETER={} ", ich[4]);
        }
        T::DstUnreachable | T::SourceQuench | T::Redirect | T::TimeExceeded => {
            if msg == T::Redirect {
                let _ = write!(
                    m,
                    "GATEWAY={} ",
                    std::net::Ipv4Addr::new(ich[4], ich[5], ich[6], ich[7])
                );
            }
            if iphoff == 0 {
                m.push('[');
                dump_ipv4_packet(m, skb, thoff + 8);
                m.push_str("] ");
            }
            if msg == T::DstUnreachable
                && DstUnreachable::from(code) == DstUnreachable::FragRequired
            {
                let _ = write!(m, "MTU={} ", be16(&ich, 6));
            }
        }
        _ => {}
    }
}
