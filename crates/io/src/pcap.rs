//! pcap capture files: a writer for nanosecond captures that Wireshark, tshark and
//! tcpdump open as they are, and a small reader for replaying captures (either byte
//! order, microsecond or nanosecond timestamps). Format: the libpcap file format,
//! draft-ietf-opsawg-pcap.

use std::io::{self, Read, Write};

/// Magic number of a capture with nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Magic number of a capture with microsecond timestamps (classic pcap).
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// The snapshot length this writer declares, and the longest record the reader accepts:
/// libpcap's MAXIMUM_SNAPLEN, the largest packet tcpdump captures.
pub const SNAPLEN: u32 = 262_144;
/// Bytes in the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Bytes in each record header.
pub const RECORD_HEADER_LEN: usize = 16;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The link-layer header type of every record (`LINKTYPE_*` in the tcpdump.org registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1): frames start with an Ethernet II header.
    Ethernet,
    /// `LINKTYPE_IPV4` (228): records are bare IPv4 packets.
    Ipv4,
    /// `LINKTYPE_RAW` (101): records are bare IPv4 or IPv6 packets, told apart by their
    /// version (what a TUN device carries).
    Raw,
    /// Any other type, as read from a file.
    Other(u32),
}

impl From<LinkType> for u32 {
    fn from(t: LinkType) -> u32 {
        match t {
            LinkType::Ethernet => 1,
            LinkType::Ipv4 => 228,
            LinkType::Raw => 101,
            LinkType::Other(v) => v,
        }
    }
}

impl From<u32> for LinkType {
    fn from(v: u32) -> LinkType {
        match v {
            1 => LinkType::Ethernet,
            228 => LinkType::Ipv4,
            101 => LinkType::Raw,
            other => LinkType::Other(other),
        }
    }
}

fn invalid_input(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes a little-endian pcap file with nanosecond timestamps, version 2.4,
/// snapshot length [`SNAPLEN`]. Give it a buffered writer; it writes each record with
/// two `write_all` calls and never flushes on its own.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for `link_type` records.
    pub fn new(mut w: W, link_type: LinkType) -> io::Result<Self> {
        let mut h = [0u8; FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // 8..16: thiszone and sigfigs, always 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&u32::from(link_type).to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// Appends one record: `frame` captured at `ts_nanos` nanoseconds since the Unix
    /// epoch. A frame longer than [`SNAPLEN`] is cut there, its original length kept.
    /// Fails with `InvalidInput`, writing nothing, for a time after 2106 (seconds must fit
    /// 32 bits) or a frame of 4 GiB or more.
    pub fn write_packet(&mut self, ts_nanos: u64, frame: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_nanos / NANOS_PER_SEC)
            .map_err(|_| invalid_input("pcap timestamp past 2106"))?;
        // Below 1e9, so it fits.
        let frac = (ts_nanos % NANOS_PER_SEC) as u32;
        let orig_len =
            u32::try_from(frame.len()).map_err(|_| invalid_input("frame of 4 GiB or more"))?;
        let incl_len = orig_len.min(SNAPLEN);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&incl_len.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&h)?;
        // incl_len <= frame.len().
        self.w.write_all(&frame[..incl_len as usize])
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The underlying writer (flush it if it buffers).
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// What a pcap file header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapHeader {
    pub version_major: u16,
    pub version_minor: u16,
    pub snaplen: u32,
    pub link_type: LinkType,
    /// Timestamps in nanoseconds (magic 0xa1b23c4d) rather than microseconds.
    pub nanos: bool,
    /// The file was written big-endian.
    pub big_endian: bool,
}

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapRecord {
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    /// Length on the wire; `data` is shorter when the capture cut the packet.
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// Reads a pcap file record by record. A record longer than [`SNAPLEN`] is refused
/// (`InvalidData`) before anything is allocated for it. After the first error or the end
/// of the file, iteration stops.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    r: R,
    header: PcapHeader,
    done: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header: a pcap magic in either byte order, version 2.x.
    pub fn new(mut r: R) -> io::Result<Self> {
        let mut h = [0u8; FILE_HEADER_LEN];
        r.read_exact(&mut h)?;
        let magic_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (nanos, big_endian) = match magic_le {
            MAGIC_NANOS => (true, false),
            MAGIC_MICROS => (false, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            m if m.swap_bytes() == MAGIC_MICROS => (false, true),
            m => return Err(invalid_data(format!("not a pcap file (magic {m:#010x})"))),
        };
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| read_u32(&h[i..i + 4], big_endian);
        let header = PcapHeader {
            version_major: u16_at(4),
            version_minor: u16_at(6),
            snaplen: u32_at(16),
            link_type: LinkType::from(u32_at(20)),
            nanos,
            big_endian,
        };
        if header.version_major != 2 {
            return Err(invalid_data(format!(
                "unsupported pcap version {}.{}",
                header.version_major, header.version_minor
            )));
        }
        Ok(PcapReader {
            r,
            header,
            done: false,
        })
    }

    pub fn header(&self) -> &PcapHeader {
        &self.header
    }

    /// The next record, or `None` at a clean end of file. A file that ends inside a
    /// record is an `UnexpectedEof` error.
    pub fn next_record(&mut self) -> io::Result<Option<PcapRecord>> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_record();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_record(&mut self) -> io::Result<Option<PcapRecord>> {
        let mut h = [0u8; RECORD_HEADER_LEN];
        if !read_all_or_nothing(&mut self.r, &mut h)? {
            return Ok(None);
        }
        let be = self.header.big_endian;
        let secs = u64::from(read_u32(&h[0..4], be));
        let frac = u64::from(read_u32(&h[4..8], be));
        let incl_len = read_u32(&h[8..12], be);
        let orig_len = read_u32(&h[12..16], be);
        if incl_len > SNAPLEN {
            return Err(invalid_data(format!(
                "pcap record of {incl_len} bytes, over the {SNAPLEN} limit"
            )));
        }
        let frac_nanos = if self.header.nanos { frac } else { frac * 1000 };
        // secs < 2^32 and frac_nanos < 2^42: the sum stays far below 2^64.
        let ts_nanos = secs * NANOS_PER_SEC + frac_nanos;
        let mut data = vec![0u8; incl_len as usize];
        self.r.read_exact(&mut data)?;
        Ok(Some(PcapRecord {
            ts_nanos,
            orig_len,
            data,
        }))
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = io::Result<PcapRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Fills `buf`, returning false if the reader was already at its end, and
/// `UnexpectedEof` if it ended partway.
fn read_all_or_nothing(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "pcap file ends inside a record header",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_file_header() {
        let w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
        assert_eq!(
            w.into_inner(),
            [
                0x4d, 0x3c, 0xb2, 0xa1, // magic, nanoseconds, little-endian
                0x02, 0x00, 0x04, 0x00, // version 2.4
                0, 0, 0, 0, // thiszone
                0, 0, 0, 0, // sigfigs
                0x00, 0x00, 0x04, 0x00, // snaplen 262144
                0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
            ]
        );
        let w = PcapWriter::new(Vec::new(), LinkType::Ipv4).unwrap();
        assert_eq!(w.into_inner()[20..], [228, 0, 0, 0]);
    }

    #[test]
    fn golden_record() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ipv4).unwrap();
        w.write_packet(1_700_000_000_123_456_789, &[0x45, 0xaa, 0xbb])
            .unwrap();
        let bytes = w.into_inner();
        assert_eq!(
            bytes[FILE_HEADER_LEN..],
            [
                0x00, 0xf1, 0x53, 0x65, // 1700000000 s
                0x15, 0xcd, 0x5b, 0x07, // 123456789 ns
                3, 0, 0, 0, // incl_len
                3, 0, 0, 0, // orig_len
                0x45, 0xaa, 0xbb,
            ]
        );
    }

    #[test]
    fn round_trip() {
        let frames: Vec<(u64, Vec<u8>)> = vec![
            (0, vec![]),
            (999_999_999, vec![1]),
            (1_000_000_000, vec![2; 60]),
            (
                u64::from(u32::MAX) * NANOS_PER_SEC + 999_999_999,
                vec![3; 1514],
            ),
        ];
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
        for (ts, f) in &frames {
            w.write_packet(*ts, f).unwrap();
        }
        let bytes = w.into_inner();
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(
            *r.header(),
            PcapHeader {
                version_major: 2,
                version_minor: 4,
                snaplen: SNAPLEN,
                link_type: LinkType::Ethernet,
                nanos: true,
                big_endian: false,
            }
        );
        let back: Vec<(u64, Vec<u8>)> = r
            .by_ref()
            .map(|rec| {
                let rec = rec.unwrap();
                assert_eq!(rec.orig_len as usize, rec.data.len());
                (rec.ts_nanos, rec.data)
            })
            .collect();
        assert_eq!(back, frames);
        assert!(r.next().is_none());
    }

    #[test]
    fn long_frames_are_cut_at_snaplen() {
        let big = vec![7u8; SNAPLEN as usize + 100];
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ipv4).unwrap();
        w.write_packet(5, &big).unwrap();
        let bytes = w.into_inner();
        assert_eq!(
            bytes.len(),
            FILE_HEADER_LEN + RECORD_HEADER_LEN + SNAPLEN as usize
        );
        let rec = PcapReader::new(&bytes[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(rec.orig_len, SNAPLEN + 100);
        assert_eq!(rec.data.len(), SNAPLEN as usize);
    }

    #[test]
    fn unrepresentable_packets_are_refused_unwritten() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ipv4).unwrap();
        let err = w
            .write_packet((u64::from(u32::MAX) + 1) * NANOS_PER_SEC, &[1])
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.into_inner().len(), FILE_HEADER_LEN);
    }

    /// A big-endian microsecond file, as an old SPARC tcpdump wrote it.
    fn big_endian_micros(records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(MAGIC_MICROS.to_be_bytes());
        f.extend(2u16.to_be_bytes());
        f.extend(4u16.to_be_bytes());
        f.extend([0; 8]);
        f.extend(65535u32.to_be_bytes());
        f.extend(101u32.to_be_bytes());
        for &(s, us, d) in records {
            f.extend(s.to_be_bytes());
            f.extend(us.to_be_bytes());
            f.extend((d.len() as u32).to_be_bytes());
            f.extend((d.len() as u32 + 4).to_be_bytes());
            f.extend(d);
        }
        f
    }

    #[test]
    fn reads_big_endian_microseconds() {
        let f = big_endian_micros(&[(10, 250_000, b"abc"), (11, 999_999, b"")]);
        let mut r = PcapReader::new(&f[..]).unwrap();
        let h = *r.header();
        assert!(h.big_endian && !h.nanos);
        assert_eq!((h.snaplen, h.link_type), (65535, LinkType::Raw));
        assert_eq!(LinkType::from(147), LinkType::Other(147));
        assert_eq!(u32::from(LinkType::Other(147)), 147);
        let a = r.next().unwrap().unwrap();
        assert_eq!(
            (a.ts_nanos, a.orig_len, &a.data[..]),
            (10_250_000_000, 7, &b"abc"[..])
        );
        let b = r.next().unwrap().unwrap();
        assert_eq!(b.ts_nanos, 11_999_999_000);
        assert!(r.next().is_none());
    }

    #[test]
    fn reads_swapped_nanoseconds() {
        let mut f = Vec::new();
        f.extend(MAGIC_NANOS.to_be_bytes());
        f.extend([0, 2, 0, 4]);
        f.extend([0; 8]);
        f.extend(SNAPLEN.to_be_bytes());
        f.extend(1u32.to_be_bytes());
        f.extend(3u32.to_be_bytes());
        f.extend(7u32.to_be_bytes());
        f.extend(1u32.to_be_bytes());
        f.extend(1u32.to_be_bytes());
        f.push(9);
        let mut r = PcapReader::new(&f[..]).unwrap();
        assert!(r.header().nanos && r.header().big_endian);
        assert_eq!(r.header().link_type, LinkType::Ethernet);
        let rec = r.next().unwrap().unwrap();
        assert_eq!((rec.ts_nanos, rec.data), (3_000_000_007, vec![9]));
    }

    #[test]
    fn hostile_files_are_errors_not_panics() {
        // Not pcap.
        let e = PcapReader::new(&[0u8; 24][..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Short header.
        let e = PcapReader::new(&MAGIC_NANOS.to_le_bytes()[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        // Version 1.0.
        let mut v1 = PcapWriter::new(Vec::new(), LinkType::Ethernet)
            .unwrap()
            .into_inner();
        v1[4] = 1;
        let e = PcapReader::new(&v1[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);

        let good = {
            let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
            w.write_packet(1, &[1, 2, 3, 4]).unwrap();
            w.into_inner()
        };
        // A record length of 4 GiB - 1 is refused before allocating.
        let mut huge = good.clone();
        huge[FILE_HEADER_LEN + 8..FILE_HEADER_LEN + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(&huge[..]).unwrap();
        assert_eq!(
            r.next().unwrap().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert!(r.next().is_none(), "iteration stops after an error");
        // SNAPLEN + 1 is refused too; SNAPLEN itself is the largest accepted.
        let mut over = good.clone();
        over[FILE_HEADER_LEN + 8..FILE_HEADER_LEN + 12]
            .copy_from_slice(&(SNAPLEN + 1).to_le_bytes());
        let mut r = PcapReader::new(&over[..]).unwrap();
        assert_eq!(
            r.next().unwrap().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // Cut inside the record header, then inside the data.
        for cut in [FILE_HEADER_LEN + 5, good.len() - 1] {
            let mut r = PcapReader::new(&good[..cut]).unwrap();
            assert_eq!(
                r.next().unwrap().unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof
            );
            assert!(r.next().is_none());
        }
        // Every prefix and every single-byte corruption: no panic.
        for cut in 0..good.len() {
            if let Ok(r) = PcapReader::new(&good[..cut]) {
                r.for_each(drop);
            }
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            if let Ok(r) = PcapReader::new(&bad[..]) {
                r.for_each(drop);
            }
        }
    }
}
