//! The one reader of IPv4 headers in the core: the fields later stages need, read once
//! (Linux ip_hdr(skb)). The header length of any IPv4 header (ip_hdrlen()) and the field
//! and flag constants come from skiff-wire.

use crate::skb::SkBuff;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4::{HEADER_LEN, IP_DF, IP_MF, IP_OFFSET, ip_hdrlen};

/// The IPv4 header fields later stages need, read once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpHdr {
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
    pub tos: u8,
    pub ttl: u8,
    pub protocol: u8,
    pub ihl: usize,
    /// Flags and fragment offset (host order, as `frag_off`).
    pub frag_off: u16,
}

impl IpHdr {
    /// Reads the header at the network header of `skb`, which ip_rcv_core() (or the
    /// output path that built it) checked; only its 20 fixed bytes are read again.
    #[inline]
    pub(crate) fn of(skb: &SkBuff) -> Option<IpHdr> {
        Self::read(skb.network_header_bytes()?.first_chunk::<20>()?)
    }

    /// The fields of the fixed header `b`; `None` when its header length is below 20.
    #[inline]
    pub(crate) fn read(b: &[u8; 20]) -> Option<IpHdr> {
        let ihl = ip_hdrlen(b);
        if ihl < HEADER_LEN {
            return None;
        }
        Some(IpHdr {
            saddr: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            daddr: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
            tos: b[1],
            ttl: b[8],
            protocol: b[9],
            ihl,
            frag_off: u16::from_be_bytes([b[6], b[7]]),
        })
    }

    /// Only the destination, for the neighbour lookup (Linux ip_hdr(skb)->daddr).
    #[inline]
    pub(crate) fn daddr_of(skb: &SkBuff) -> Option<Ipv4Addr> {
        let b: [u8; 4] = skb.network_header_bytes()?.get(16..20)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    }

    /// Linux ip_is_fragment().
    pub(crate) fn is_fragment(&self) -> bool {
        self.frag_off & (IP_MF | IP_OFFSET) != 0
    }

    pub(crate) fn dont_frag(&self) -> bool {
        self.frag_off & IP_DF != 0
    }

    pub(crate) fn more_frags(&self) -> bool {
        self.frag_off & IP_MF != 0
    }

    /// The fragment offset in bytes.
    pub(crate) fn frag_offset(&self) -> u32 {
        u32::from(self.frag_off & IP_OFFSET) << 3
    }
}
