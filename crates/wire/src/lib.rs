//! skiff-wire: views over bytes and typed header representations for every header the
//! Linux IPv4 datapath touches.
//!
//! Conventions, the same for every header:
//! - `Foo<T: AsRef<[u8]>>` is a view over a buffer. `new_unchecked` wraps without looking,
//!   `check_len` proves every fixed field and every length the header claims lies inside the
//!   buffer, and `new_checked` does both. Accessors on a checked view never panic; network
//!   input must only ever be wrapped with `new_checked`.
//! - `FooRepr` is the parsed, validated header: `parse` reads a checked view, `header_len`
//!   (or `buffer_len`) tells how many bytes `emit` writes, and `emit` writes into a buffer,
//!   returning [`Error::Truncated`] when it is too short. Nothing here allocates.
//! - `Display` on a repr prints one tcpdump-like line for traces.
//!
//! ```
//! use skiff_wire::{RxChecksum, ethernet::*, ipv4::*, udp::*};
//! # fn main() -> skiff_wire::Result<()> {
//! # let bytes = hex(concat!("02000000000202000000000108004500001e123440004011",
//! #     "11980a0001020a00020263a50035000a1c936869"));
//! let frame = EthernetFrame::new_checked(&bytes[..])?; // never panics on any input
//! let ip = Ipv4Packet::new_checked(frame.payload())?; // ip_rcv_core()'s checks
//! let ip_repr = Ipv4Repr::parse(&ip, RxChecksum::Verify)?;
//! let udp = UdpPacket::new_checked(ip.payload())?;
//! let udp_repr = UdpRepr::parse(&udp, ip_repr.src, ip_repr.dst, RxChecksum::Verify)?;
//! assert_eq!((udp_repr.dst_port, udp.payload()), (53, &b"hi"[..]));
//! println!("{ip_repr}\n{udp}"); // tcpdump-like one-liners
//! # Ok(()) }
//! # fn hex(s: &str) -> Vec<u8> {
//! #     (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
//! # }
//! ```
#![forbid(unsafe_code)]

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod igmp;
pub mod ip_options;
pub mod ipv4;
pub mod tcp;
pub mod udp;
pub mod virtio;

pub use core::net::Ipv4Addr;

/// Why bytes could not be read as a header (or a header could not be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the header, or before the length a header field claims.
    Truncated,
    /// The IP version field is not 4.
    BadVersion,
    /// A header-length field (IPv4 IHL, TCP data offset) is below the minimum or past the end.
    BadHeaderLen,
    /// The IPv4 total length is below the header length or past the end of the buffer.
    BadTotalLen,
    /// A length field of another header (UDP length, UDP-Lite coverage, ARP address
    /// lengths, IGMPv3 counts) is inconsistent.
    BadLength,
    /// A checksum does not verify.
    BadChecksum,
    /// An IPv4 option is malformed; `pointer` is the byte offset from the start of the IP
    /// header that an ICMP Parameter Problem must carry (Linux `ip_options_compile` pp_ptr).
    BadOption { pointer: u8 },
    /// A field holds a value this header does not define (ARP hardware type, ICMP code
    /// for a message we only parse, virtio gso type, …).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated"),
            Error::BadVersion => f.write_str("bad IP version"),
            Error::BadHeaderLen => f.write_str("bad header length"),
            Error::BadTotalLen => f.write_str("bad total length"),
            Error::BadLength => f.write_str("bad length field"),
            Error::BadChecksum => f.write_str("bad checksum"),
            Error::BadOption { pointer } => write!(f, "bad IP option at offset {pointer}"),
            Error::Unsupported => f.write_str("unsupported value"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// What a parser does with a checksum it meets (Linux: `CHECKSUM_UNNECESSARY` skips it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxChecksum {
    /// Verify and fail with [`Error::BadChecksum`].
    Verify,
    /// Trust it: a device or an earlier stage already validated it.
    Skip,
}

/// How an emitter fills a transport checksum (Linux `ip_summed` on transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxChecksum {
    /// Compute the full checksum over header and payload.
    Full,
    /// `CHECKSUM_PARTIAL`: store the folded pseudo-header sum; the device (or
    /// [`checksum::csum_complete_partial`]) finishes it.
    Partial,
    /// Leave the field zero (UDP `SO_NO_CHECK`).
    None,
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn addr(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Fails with [`Error::Truncated`] unless `buf` holds at least `len` bytes.
#[inline]
pub(crate) fn need(buf: &[u8], len: usize) -> Result<()> {
    if buf.len() < len {
        Err(Error::Truncated)
    } else {
        Ok(())
    }
}
