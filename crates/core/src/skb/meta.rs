//! Packet metadata that needs no buffer: checksum and GSO state, packet type, the IPv4
//! control block, errors and size limits. Linux include/linux/skbuff.h (`ip_summed`,
//! `skb_shinfo(skb)->gso_*`, `pkt_type`) and include/net/ip.h (`IPCB`).

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};
use skiff_wire::Ipv4Addr;
use skiff_wire::ip_options::Ipv4Options;

/// The largest buffer an `SkBuff` may own: a 64 KiB GSO packet linearised with room to spare,
/// and small enough that a hostile length can never ask for an absurd allocation.
pub const SKB_MAX_ALLOC: usize = 1 << 20;

/// Why an `SkBuff` operation was refused. Nothing is changed when an error is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkbError {
    /// `push` wants more bytes than the headroom holds. Linux skb_under_panic(); a caller
    /// that sized its headroom wrongly, so ENOMEM-like for a socket.
    NoHeadroom { need: usize, have: usize },
    /// `put` or `reserve` wants more bytes than the tailroom holds. Linux skb_over_panic();
    /// ENOMEM-like for a socket.
    NoTailroom { need: usize, have: usize },
    /// `pull`, or a header offset, reaches past the linear data. Linux pskb_may_pull()
    /// failing: on receive the packet is malformed and dropped; EINVAL-like from a socket.
    TooShort { need: usize, have: usize },
    /// `reserve` on a buffer that already holds data (Linux only reserves on a fresh skb);
    /// EINVAL-like.
    NotEmpty,
    /// A size or offset beyond what an `SkBuff` can hold: a buffer over [`SKB_MAX_ALLOC`], or a
    /// header offset past `u16::MAX` (Linux keeps header offsets in 16 bits too).
    /// EMSGSIZE-like for a socket.
    TooLarge { need: usize, max: usize },
}

impl fmt::Display for SkbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkbError::NoHeadroom { need, have } => {
                write!(f, "no headroom: need {need} bytes, have {have}")
            }
            SkbError::NoTailroom { need, have } => {
                write!(f, "no tailroom: need {need} bytes, have {have}")
            }
            SkbError::TooShort { need, have } => {
                write!(f, "packet too short: need {need} bytes, have {have}")
            }
            SkbError::NotEmpty => f.write_str("buffer is not empty"),
            SkbError::TooLarge { need, max } => write!(f, "too large: {need} bytes, max {max}"),
        }
    }
}

impl std::error::Error for SkbError {}

pub(super) type Result<T> = core::result::Result<T, SkbError>;

/// Checksum state of a packet. Linux `skb->ip_summed` with `csum`/`csum_start`/`csum_offset`;
/// maps onto the virtio-net header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumState {
    /// `CHECKSUM_NONE`: nothing is known; software must verify (receive) or has filled the
    /// checksum (transmit).
    #[default]
    None,
    /// `CHECKSUM_UNNECESSARY`: the device verified it (virtio `DATA_VALID`).
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: the partial sum (`skiff_wire::checksum` semantics) of the
    /// packet from `data` onwards, as a device computed it.
    Complete(u32),
    /// `CHECKSUM_PARTIAL`: the checksum field at `csum_start + csum_offset` holds the
    /// pseudo-header sum and the device sums from `csum_start` (head-relative, like Linux)
    /// onwards (virtio `NEEDS_CSUM`).
    Partial { csum_start: u16, csum_offset: u16 },
}

/// A set of flag bits with Linux's names. Unknown bits are kept, as in a raw kernel field.
macro_rules! flags {
    ($(#[$meta:meta])* $name:ident: $ty:ty { $($(#[$fmeta:meta])* $flag:ident = $bit:expr;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($ty);

        impl $name {
            $($(#[$fmeta])* pub const $flag: Self = Self(1 << $bit);)*
            const NAMES: &[(&str, Self)] = &[$((stringify!($flag), Self::$flag)),*];

            pub const fn empty() -> Self {
                Self(0)
            }
            pub const fn bits(self) -> $ty {
                self.0
            }
            pub const fn from_bits_retain(bits: $ty) -> Self {
                Self(bits)
            }
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// All bits of `other` are set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// Any bit of `other` is set.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            pub fn insert(&mut self, other: Self) {
                self.0 |= other.0;
            }
            pub fn remove(&mut self, other: Self) {
                self.0 &= !other.0;
            }
        }

        impl BitOr for $name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
        }

        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, other: Self) {
                self.0 |= other.0;
            }
        }

        impl BitAnd for $name {
            type Output = Self;
            fn bitand(self, other: Self) -> Self {
                Self(self.0 & other.0)
            }
        }

        impl fmt::Debug for $name {
            /// `TCPV4 | DODGY`, unknown bits in hex, `(empty)` for none.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut rest = self.0;
                let mut sep = "";
                for (name, flag) in Self::NAMES {
                    if self.contains(*flag) {
                        write!(f, "{sep}{name}")?;
                        rest &= !flag.0;
                        sep = " | ";
                    }
                }
                if rest != 0 {
                    write!(f, "{sep}{rest:#x}")?;
                } else if sep.is_empty() {
                    f.write_str("(empty)")?;
                }
                Ok(())
            }
        }
    };
}

flags! {
    /// GSO type bits with Linux's `SKB_GSO_*` names and values (include/linux/skbuff.h).
    GsoType: u32 {
        TCPV4 = 0;
        /// The header came from an untrusted source and must be re-verified.
        DODGY = 1;
        TCP_ECN = 2;
        TCP_FIXEDID = 3;
        TCPV6 = 4;
        /// UDP fragmentation offload (UFO): one datagram cut into IP fragments.
        UDP = 16;
        /// UDP segmentation (`UDP_SEGMENT`): one datagram per segment.
        UDP_L4 = 17;
        FRAGLIST = 18;
    }
}

flags! {
    /// `IPCB(skb)->flags`: Linux `IPSKB_*` (include/net/ip.h).
    IpSkbFlags: u16 {
        FORWARDED = 0;
        XFRM_TUNNEL_SIZE = 1;
        XFRM_TRANSFORMED = 2;
        FRAG_COMPLETE = 3;
        REROUTED = 4;
        DOREDIRECT = 5;
        FRAG_PMTU = 6;
        L3SLAVE = 7;
        NOPOLICY = 8;
        MULTIPATH = 9;
    }
}

/// Segmentation offload state. Linux `skb_shinfo(skb)->gso_size/gso_type/gso_segs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsoInfo {
    /// Payload bytes per segment (MSS).
    pub size: u16,
    pub gso_type: GsoType,
    /// Number of segments, 0 if not yet computed.
    pub segs: u16,
}

/// Who the packet is for. Linux `skb->pkt_type`, `PACKET_*` (include/uapi/linux/if_packet.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PacketType {
    #[default]
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
    Outgoing = 4,
    Loopback = 5,
}

/// IPv4 options of a packet. Linux `struct ip_options` (include/net/inet_sock.h): where each
/// option sits (`layout`, from the wire parser) plus the routing state later stages keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpOptions {
    /// Offsets of RR, TS, source route and router alert, and the options length.
    pub layout: Ipv4Options,
    /// First hop of a source route (the real destination while routing).
    pub faddr: Ipv4Addr,
    pub nexthop: Ipv4Addr,
    pub srr_is_hit: bool,
    pub is_changed: bool,
    pub rr_needaddr: bool,
    pub ts_needtime: bool,
    pub ts_needaddr: bool,
    /// Offset of a CIPSO option, 0 when absent.
    pub cipso: u8,
}

impl Default for IpOptions {
    fn default() -> Self {
        IpOptions {
            layout: Ipv4Options::default(),
            faddr: Ipv4Addr::UNSPECIFIED,
            nexthop: Ipv4Addr::UNSPECIFIED,
            srr_is_hit: false,
            is_changed: false,
            rr_needaddr: false,
            ts_needtime: false,
            ts_needaddr: false,
            cipso: 0,
        }
    }
}

/// The IPv4 control block. Linux `struct inet_skb_parm`, `IPCB(skb)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpCb {
    pub flags: IpSkbFlags,
    /// Largest fragment seen when this packet was reassembled (0 if it was not).
    pub frag_max_size: u16,
    pub opt: IpOptions,
}

/// A socket a packet belongs to: its slot and the generation that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SkOwner {
    pub slot: u32,
    pub generation: u32,
}

/// `base + n` checked against [`SKB_MAX_ALLOC`].
pub(super) fn alloc_size(base: usize, n: usize) -> Result<usize> {
    match base.checked_add(n) {
        Some(size) if size <= SKB_MAX_ALLOC => Ok(size),
        _ => Err(SkbError::TooLarge {
            need: base.saturating_add(n),
            max: SKB_MAX_ALLOC,
        }),
    }
}
