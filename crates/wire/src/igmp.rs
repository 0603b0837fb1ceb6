//! IGMP versions 1, 2 and 3. RFC 1112 App. I, RFC 2236 §2, RFC 3376 §4;
//! Linux net/ipv4/igmp.c igmp_rcv(), igmp_heard_query().
//!
//! A view or repr here always spans the whole IGMP message, i.e. the IP payload trimmed to
//! the IP total length: a query's version is decided by that length.

use crate::checksum::{csum_fold, csum_partial};
use crate::icmpv4::code_enum;
use crate::{Error, Ipv4Addr, Result, RxChecksum, addr, be16, need, put16};
use core::fmt;

code_enum! {
    /// The IGMP type field. Linux include/uapi/linux/igmp.h.
    pub enum IgmpMessage {
        /// `IGMP_HOST_MEMBERSHIP_QUERY` (all versions).
        MembershipQuery = 0x11,
        /// `IGMP_HOST_MEMBERSHIP_REPORT` (v1).
        MembershipReportV1 = 0x12,
        /// `IGMP_DVMRP`.
        Dvmrp = 0x13,
        /// `IGMP_PIM` (PIMv1).
        Pim = 0x14,
        /// `IGMP_TRACE`.
        Trace = 0x15,
        /// `IGMPV2_HOST_MEMBERSHIP_REPORT`.
        MembershipReportV2 = 0x16,
        /// `IGMP_HOST_LEAVE_MESSAGE` (v2).
        LeaveGroup = 0x17,
        /// `IGMP_MTRACE_RESP`.
        MtraceResp = 0x1e,
        /// `IGMP_MTRACE`.
        Mtrace = 0x1f,
        /// `IGMPV3_HOST_MEMBERSHIP_REPORT`.
        MembershipReportV3 = 0x22,
    }
}

code_enum! {
    /// IGMPv3 group record types. RFC 3376 §4.2.12; Linux `IGMPV3_*`.
    pub enum RecordType {
        /// `IGMPV3_MODE_IS_INCLUDE`.
        ModeIsInclude = 1,
        /// `IGMPV3_MODE_IS_EXCLUDE`.
        ModeIsExclude = 2,
        /// `IGMPV3_CHANGE_TO_INCLUDE`.
        ChangeToInclude = 3,
        /// `IGMPV3_CHANGE_TO_EXCLUDE`.
        ChangeToExclude = 4,
        /// `IGMPV3_ALLOW_NEW_SOURCES`.
        AllowNewSources = 5,
        /// `IGMPV3_BLOCK_OLD_SOURCES`.
        BlockOldSources = 6,
    }
}

/// The version of a Membership Query, told by its length and code. RFC 3376 §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgmpVersion {
    V1,
    V2,
    V3,
}

/// Value of an IGMPv3 Max Resp Code or QQIC: below 128 as is, else a float with a 3-bit
/// exponent and 4-bit mantissa, `(mant | 0x10) << (exp + 3)`. RFC 3376 §4.1.1, §4.1.7;
/// Linux IGMPV3_MRC() / IGMPV3_QQIC().
pub const fn decode_code(code: u8) -> u32 {
    if code < 0x80 {
        code as u32
    } else {
        let exp = (code >> 4) & 0x07;
        let mant = code & 0x0f;
        ((mant as u32) | 0x10) << (exp + 3)
    }
}

/// The code whose value is the largest not above `value` (31744 and beyond saturate to
/// 0xff): the inverse of [`decode_code`], rounding down. RFC 3376 §4.1.1, §4.1.7.
pub const fn encode_code(value: u32) -> u8 {
    if value < 0x80 {
        return value as u8;
    }
    let mut exp = 0;
    while exp < 8 {
        let mant = value >> (exp + 3);
        if mant < 0x20 {
            return 0x80 | (exp << 4) as u8 | (mant as u8 & 0x0f);
        }
        exp += 1;
    }
    0xff
}

mod field {
    pub const TYPE: usize = 0;
    pub const MAX_RESP_CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const GROUP: usize = 4;
    /// v3 query: Resv(4) S(1) QRV(3).
    pub const FLAGS: usize = 8;
    pub const QQIC: usize = 9;
    pub const NUM_SOURCES: usize = 10;
    pub const SOURCES: usize = 12;
    /// v3 report: reserved 4..6, then the record count.
    pub const NUM_RECORDS: usize = 6;
    pub const RECORDS: usize = 8;

    pub mod record {
        pub const TYPE: usize = 0;
        pub const AUX_LEN: usize = 1;
        pub const NUM_SOURCES: usize = 2;
        pub const GROUP: usize = 4;
        pub const SOURCES: usize = 8;
    }
}

/// Length of a v1/v2 message and of the v3 report header (`struct igmphdr`).
pub const HEADER_LEN: usize = 8;
/// Length of a v3 query without sources (`struct igmpv3_query`).
pub const V3_QUERY_LEN: usize = 12;
/// Length of a group record without sources or auxiliary data (`struct igmpv3_grec`).
pub const RECORD_HEADER_LEN: usize = 8;

const S_FLAG: u8 = 0x08;
const QRV_MASK: u8 = 0x07;

/// A list of IPv4 source addresses as they lie on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceList<'a>(&'a [u8]);

impl<'a> SourceList<'a> {
    /// Wraps `bytes`: a whole number of addresses, at most 65535 of them.
    pub fn new(bytes: &'a [u8]) -> Result<SourceList<'a>> {
        if !bytes.len().is_multiple_of(4) || bytes.len() / 4 > usize::from(u16::MAX) {
            return Err(Error::BadLength);
        }
        Ok(SourceList(bytes))
    }

    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn iter(&self) -> SourceIter<'a> {
        SourceIter(self.0.chunks_exact(4))
    }
}

impl<'a> IntoIterator for SourceList<'a> {
    type Item = Ipv4Addr;
    type IntoIter = SourceIter<'a>;

    fn into_iter(self) -> SourceIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`SourceList`].
#[derive(Debug, Clone)]
pub struct SourceIter<'a>(core::slice::ChunksExact<'a, u8>);

impl Iterator for SourceIter<'_> {
    type Item = Ipv4Addr;

    fn next(&mut self) -> Option<Ipv4Addr> {
        self.0.next().map(|a| addr(a, 0))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for SourceIter<'_> {}

/// The IGMPv3 part of a query. RFC 3376 §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgmpV3Query<'a> {
    /// S flag: suppress router-side processing.
    pub s_flag: bool,
    /// Querier's Robustness Variable, 0..=7 (0: use the default).
    pub qrv: u8,
    /// Querier's Query Interval Code; [`IgmpV3Query::qqi`] decodes it.
    pub qqic: u8,
    pub sources: SourceList<'a>,
}

impl IgmpV3Query<'_> {
    /// Querier's Query Interval in seconds. RFC 3376 §4.1.7.
    pub const fn qqi(&self) -> u32 {
        decode_code(self.qqic)
    }
}

/// One group record of a v3 report, validated by [`GroupRecords`]. RFC 3376 §4.2.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRecord<'a> {
    bytes: &'a [u8],
}

impl<'a> GroupRecord<'a> {
    /// Splits the first record off `b`; the counts must fit in `b`.
    fn split(b: &'a [u8]) -> Result<(GroupRecord<'a>, &'a [u8])> {
        if b.len() < RECORD_HEADER_LEN {
            return Err(Error::BadLength);
        }
        let sources = usize::from(be16(b, field::record::NUM_SOURCES)) * 4;
        let aux = usize::from(b[field::record::AUX_LEN]) * 4;
        let (bytes, rest) = b
            .split_at_checked(RECORD_HEADER_LEN + sources + aux)
            .ok_or(Error::BadLength)?;
        Ok((GroupRecord { bytes }, rest))
    }

    pub fn record_type(&self) -> RecordType {
        self.bytes[field::record::TYPE].into()
    }

    /// Auxiliary data length, in 32-bit words.
    pub fn aux_data_len(&self) -> u8 {
        self.bytes[field::record::AUX_LEN]
    }

    pub fn num_sources(&self) -> u16 {
        be16(self.bytes, field::record::NUM_SOURCES)
    }

    pub fn group(&self) -> Ipv4Addr {
        addr(self.bytes, field::record::GROUP)
    }

    fn sources_end(&self) -> usize {
        field::record::SOURCES + usize::from(self.num_sources()) * 4
    }

    pub fn sources(&self) -> SourceList<'a> {
        SourceList(&self.bytes[field::record::SOURCES..self.sources_end()])
    }

    /// Auxiliary data (RFC 3376 §4.2.10: receivers ignore it).
    pub fn aux_data(&self) -> &'a [u8] {
        &self.bytes[self.sources_end()..]
    }

    /// The whole record.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The group records of a v3 report: a count and the bytes the records span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupRecords<'a> {
    count: u16,
    bytes: &'a [u8],
}

impl<'a> GroupRecords<'a> {
    /// Walks `count` records from the start of `bytes` and keeps exactly the bytes they
    /// span; [`Error::BadLength`] when a count (records, sources, aux words) overruns.
    pub fn new(count: u16, bytes: &'a [u8]) -> Result<GroupRecords<'a>> {
        let mut rest = bytes;
        for _ in 0..count {
            rest = GroupRecord::split(rest)?.1;
        }
        let used = bytes.len() - rest.len();
        Ok(GroupRecords {
            count,
            bytes: &bytes[..used],
        })
    }

    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn iter(&self) -> GroupRecordIter<'a> {
        GroupRecordIter {
            rest: self.bytes,
            left: self.count,
        }
    }
}

impl<'a> IntoIterator for GroupRecords<'a> {
    type Item = GroupRecord<'a>;
    type IntoIter = GroupRecordIter<'a>;

    fn into_iter(self) -> GroupRecordIter<'a> {
        self.iter()
    }
}

/// Iterator over [`GroupRecords`].
#[derive(Debug, Clone)]
pub struct GroupRecordIter<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for GroupRecordIter<'a> {
    type Item = GroupRecord<'a>;

    fn next(&mut self) -> Option<GroupRecord<'a>> {
        self.left = self.left.checked_sub(1)?;
        // The bytes were walked by GroupRecords::new; a failure cannot happen, and ends.
        let (record, rest) = GroupRecord::split(self.rest).ok()?;
        self.rest = rest;
        Some(record)
    }
}

/// A group record to send (no auxiliary data, as RFC 3376 §4.2.6 has hosts do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRecordRepr<'s> {
    pub record_type: RecordType,
    pub group: Ipv4Addr,
    pub sources: &'s [Ipv4Addr],
}

impl GroupRecordRepr<'_> {
    pub fn buffer_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.sources.len().saturating_mul(4))
    }

    /// Writes the record at the start of `buf`. Linux add_grhead() / add_grec().
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let count = u16::try_from(self.sources.len()).map_err(|_| Error::BadLength)?;
        need(buf, self.buffer_len())?;
        buf[field::record::TYPE] = self.record_type.into();
        buf[field::record::AUX_LEN] = 0;
        put16(buf, field::record::NUM_SOURCES, count);
        buf[field::record::GROUP..][..4].copy_from_slice(&self.group.octets());
        let sources = buf[field::record::SOURCES..].chunks_exact_mut(4);
        for (slot, source) in sources.zip(self.sources) {
            slot.copy_from_slice(&source.octets());
        }
        Ok(())
    }
}

/// The version of a query of `len` bytes whose Max Resp Code is `code`.
/// Linux igmp_heard_query(): 8 bytes is v1 (code 0) or v2, 9..=11 is ignored, 12+ is v3.
fn query_version(len: usize, code: u8) -> Result<IgmpVersion> {
    match len {
        0..HEADER_LEN => Err(Error::Truncated),
        HEADER_LEN if code == 0 => Ok(IgmpVersion::V1),
        HEADER_LEN => Ok(IgmpVersion::V2),
        9..V3_QUERY_LEN => Err(Error::BadLength),
        _ => Ok(IgmpVersion::V3),
    }
}

/// The v3 fields of a query of at least 12 bytes; the sources must fit.
fn v3_query(b: &[u8]) -> Result<IgmpV3Query<'_>> {
    need(b, V3_QUERY_LEN)?;
    let n = usize::from(be16(b, field::NUM_SOURCES));
    let sources = b
        .get(field::SOURCES..field::SOURCES + n * 4)
        .ok_or(Error::BadLength)?;
    Ok(IgmpV3Query {
        s_flag: b[field::FLAGS] & S_FLAG != 0,
        qrv: b[field::FLAGS] & QRV_MASK,
        qqic: b[field::QQIC],
        sources: SourceList(sources),
    })
}

fn group_records(b: &[u8]) -> Result<GroupRecords<'_>> {
    need(b, HEADER_LEN)?;
    GroupRecords::new(be16(b, field::NUM_RECORDS), &b[field::RECORDS..])
}

/// A view over an IGMP message.
#[derive(Debug, Clone)]
pub struct IgmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IgmpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        IgmpPacket { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The 8-byte header; for a query, a length that names a version and, for a v3 query,
    /// its sources; for a v3 report, every record with its sources and auxiliary data.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        match self.msg_type() {
            IgmpMessage::MembershipQuery if self.query_version()? == IgmpVersion::V3 => {
                v3_query(b)?;
            }
            IgmpMessage::MembershipReportV3 => {
                group_records(b)?;
            }
            _ => {}
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> IgmpMessage {
        self.buffer.as_ref()[field::TYPE].into()
    }

    /// Max Resp Code (v2: tenths of a second; v3: see [`decode_code`]; v1: unused, 0).
    pub fn max_resp_code(&self) -> u8 {
        self.buffer.as_ref()[field::MAX_RESP_CODE]
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Group address (bytes 4..8) of a query, v1/v2 report or leave.
    pub fn group(&self) -> Ipv4Addr {
        addr(self.buffer.as_ref(), field::GROUP)
    }

    /// The version of a query, by length. [`Error::BadLength`] for 9..=11 bytes.
    pub fn query_version(&self) -> Result<IgmpVersion> {
        query_version(self.buffer.as_ref().len(), self.max_resp_code())
    }

    /// The v3 fields, when this is a well-formed v3 query.
    pub fn v3_query(&self) -> Option<IgmpV3Query<'_>> {
        let is_v3 = self.msg_type() == IgmpMessage::MembershipQuery
            && self.query_version() == Ok(IgmpVersion::V3);
        is_v3.then(|| v3_query(self.buffer.as_ref()).ok()).flatten()
    }

    /// The group records, when this is a well-formed v3 report.
    pub fn group_records(&self) -> Option<GroupRecords<'_>> {
        (self.msg_type() == IgmpMessage::MembershipReportV3)
            .then(|| group_records(self.buffer.as_ref()).ok())
            .flatten()
    }

    /// True when the checksum over the whole message verifies. RFC 2236 §2.3.
    pub fn verify_checksum(&self) -> bool {
        csum_fold(csum_partial(self.buffer.as_ref(), 0)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IgmpPacket<T> {
    pub fn set_msg_type(&mut self, v: IgmpMessage) {
        self.buffer.as_mut()[field::TYPE] = v.into();
    }

    pub fn set_max_resp_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::MAX_RESP_CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_group(&mut self, v: Ipv4Addr) {
        self.buffer.as_mut()[field::GROUP..][..4].copy_from_slice(&v.octets());
    }

    /// Computes the checksum over the whole message and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let check = csum_fold(csum_partial(self.buffer.as_ref(), 0));
        self.set_checksum(check);
    }
}

/// A parsed IGMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgmpRepr<'a> {
    /// A query. `max_resp_code` is 0 for v1, tenths of a second for v2, and the RFC 3376
    /// float for v3 ([`IgmpRepr::max_resp_time`] decodes all three). `group` is as on the
    /// wire (Linux treats a v1 query as general whatever it holds). `v3` is present exactly
    /// when `version` is [`IgmpVersion::V3`].
    MembershipQuery {
        max_resp_code: u8,
        group: Ipv4Addr,
        version: IgmpVersion,
        v3: Option<IgmpV3Query<'a>>,
    },
    MembershipReportV1 {
        group: Ipv4Addr,
    },
    MembershipReportV2 {
        group: Ipv4Addr,
    },
    LeaveGroup {
        group: Ipv4Addr,
    },
    MembershipReportV3 {
        records: GroupRecords<'a>,
    },
}

impl<'a> IgmpRepr<'a> {
    /// Reads a checked view. DVMRP, PIMv1, traceroute and unknown types, which Linux
    /// igmp_rcv() accepts and ignores, are [`Error::Unsupported`]. Bytes past a v3 query's
    /// sources or a v3 report's records are ignored (RFC 3376 §4.1.10, §4.2.14).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &IgmpPacket<&'a T>,
        checksum: RxChecksum,
    ) -> Result<IgmpRepr<'a>> {
        packet.check_len()?;
        if checksum == RxChecksum::Verify && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let b = T::as_ref(packet.buffer);
        let group = packet.group();
        Ok(match packet.msg_type() {
            IgmpMessage::MembershipQuery => {
                let version = packet.query_version()?;
                let v3 = match version {
                    IgmpVersion::V3 => Some(v3_query(b)?),
                    _ => None,
                };
                IgmpRepr::MembershipQuery {
                    max_resp_code: packet.max_resp_code(),
                    group,
                    version,
                    v3,
                }
            }
            IgmpMessage::MembershipReportV1 => IgmpRepr::MembershipReportV1 { group },
            IgmpMessage::MembershipReportV2 => IgmpRepr::MembershipReportV2 { group },
            IgmpMessage::LeaveGroup => IgmpRepr::LeaveGroup { group },
            IgmpMessage::MembershipReportV3 => IgmpRepr::MembershipReportV3 {
                records: group_records(b)?,
            },
            _ => return Err(Error::Unsupported),
        })
    }

    /// The bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            IgmpRepr::MembershipQuery { v3: Some(q), .. } => {
                V3_QUERY_LEN + q.sources.as_bytes().len()
            }
            IgmpRepr::MembershipReportV3 { records } => HEADER_LEN + records.as_bytes().len(),
            _ => HEADER_LEN,
        }
    }

    /// Maximum response time in tenths of a second; a v1 query means 10 s (RFC 2236 §4,
    /// Linux IGMP_QUERY_RESPONSE_INTERVAL). `None` for a non-query.
    pub fn max_resp_time(&self) -> Option<u32> {
        match *self {
            IgmpRepr::MembershipQuery {
                max_resp_code,
                version,
                ..
            } => Some(match version {
                IgmpVersion::V1 => 100,
                IgmpVersion::V2 => u32::from(max_resp_code),
                IgmpVersion::V3 => decode_code(max_resp_code),
            }),
            _ => None,
        }
    }

    /// Writes the message and its checksum into `buf[..buffer_len()]`. A query whose
    /// version, code and `v3` disagree (it would parse back as another version), or whose
    /// QRV exceeds 7, is [`Error::Unsupported`]. Linux igmp_send_report().
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let len = self.buffer_len();
        let (msg_type, code, word) = match *self {
            IgmpRepr::MembershipQuery {
                max_resp_code,
                group,
                version,
                v3,
            } => {
                match (version, v3) {
                    (IgmpVersion::V1, None) if max_resp_code == 0 => {}
                    (IgmpVersion::V2, None) if max_resp_code != 0 => {}
                    (IgmpVersion::V3, Some(q)) if q.qrv <= QRV_MASK => {}
                    _ => return Err(Error::Unsupported),
                }
                (IgmpMessage::MembershipQuery, max_resp_code, group.octets())
            }
            IgmpRepr::MembershipReportV1 { group } => {
                (IgmpMessage::MembershipReportV1, 0, group.octets())
            }
            IgmpRepr::MembershipReportV2 { group } => {
                (IgmpMessage::MembershipReportV2, 0, group.octets())
            }
            IgmpRepr::LeaveGroup { group } => (IgmpMessage::LeaveGroup, 0, group.octets()),
            IgmpRepr::MembershipReportV3 { records } => {
                let [hi, lo] = records.count.to_be_bytes();
                (IgmpMessage::MembershipReportV3, 0, [0, 0, hi, lo])
            }
        };
        need(buf, len)?;
        let buf = &mut buf[..len];
        emit_header(buf, msg_type, code, word);
        match *self {
            IgmpRepr::MembershipQuery { v3: Some(q), .. } => {
                buf[field::FLAGS] = if q.s_flag { S_FLAG } else { 0 } | q.qrv;
                buf[field::QQIC] = q.qqic;
                put16(buf, field::NUM_SOURCES, q.sources.len() as u16);
                buf[field::SOURCES..].copy_from_slice(q.sources.as_bytes());
            }
            IgmpRepr::MembershipReportV3 { records } => {
                buf[field::RECORDS..].copy_from_slice(records.as_bytes());
            }
            _ => {}
        }
        IgmpPacket::new_unchecked(buf).fill_checksum();
        Ok(())
    }
}

/// Writes type, code and bytes 4..8 of the 8-byte header (the checksum is filled last).
fn emit_header(buf: &mut [u8], msg_type: IgmpMessage, code: u8, word: [u8; 4]) {
    buf[field::TYPE] = msg_type.into();
    buf[field::MAX_RESP_CODE] = code;
    buf[field::GROUP..][..4].copy_from_slice(&word);
}

/// A v3 report to send, built from [`GroupRecordRepr`]s (a received one parses as
/// [`IgmpRepr::MembershipReportV3`]). RFC 3376 §4.2; Linux igmpv3_newpack() / add_grec().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgmpV3ReportRepr<'r, 's> {
    pub records: &'r [GroupRecordRepr<'s>],
}

impl IgmpV3ReportRepr<'_, '_> {
    pub fn buffer_len(&self) -> usize {
        self.records
            .iter()
            .fold(HEADER_LEN, |len, r| len.saturating_add(r.buffer_len()))
    }

    /// Writes the report and its checksum into `buf[..buffer_len()]`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let count = u16::try_from(self.records.len()).map_err(|_| Error::BadLength)?;
        let len = self.buffer_len();
        need(buf, len)?;
        let buf = &mut buf[..len];
        let [hi, lo] = count.to_be_bytes();
        emit_header(buf, IgmpMessage::MembershipReportV3, 0, [0, 0, hi, lo]);
        let mut at = HEADER_LEN;
        for record in self.records {
            record.emit(&mut buf[at..])?;
            at += record.buffer_len();
        }
        IgmpPacket::new_unchecked(buf).fill_checksum();
        Ok(())
    }
}

/// Tenths of a second printed as seconds.
struct Tenths(u32);

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 10 {
            0 => write!(f, "{}", self.0 / 10),
            frac => write!(f, "{}.{frac}", self.0 / 10),
        }
    }
}

impl fmt::Display for IgmpRepr<'_> {
    /// One tcpdump-style line (tcpdump print-igmp.c wording; times in seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IgmpRepr::MembershipQuery {
                group, version, v3, ..
            } => {
                let time = Tenths(self.max_resp_time().unwrap_or_default());
                match version {
                    IgmpVersion::V1 => write!(f, "igmp query v1 [gaddr {group}]"),
                    IgmpVersion::V2 => {
                        write!(f, "igmp query v2 [max resp time {time}] [gaddr {group}]")
                    }
                    IgmpVersion::V3 => {
                        write!(f, "igmp query v3 [max resp time {time}] [gaddr {group}]")?;
                        if let Some(q) = v3 {
                            if q.s_flag {
                                f.write_str(" [S]")?;
                            }
                            write!(
                                f,
                                " [qrv {}] [qqi {}], {} source(s)",
                                q.qrv,
                                q.qqi(),
                                q.sources.len()
                            )?;
                        }
                        Ok(())
                    }
                }
            }
            IgmpRepr::MembershipReportV1 { group } => write!(f, "igmp v1 report {group}"),
            IgmpRepr::MembershipReportV2 { group } => write!(f, "igmp v2 report {group}"),
            IgmpRepr::LeaveGroup { group } => write!(f, "igmp leave {group}"),
            IgmpRepr::MembershipReportV3 { records } => {
                write!(f, "igmp v3 report, {} group record(s)", records.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const G1: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
    const G2: Ipv4Addr = Ipv4Addr::new(239, 2, 2, 2);
    const S1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const S2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// Emits into a 0xa5-filled buffer, checks the bytes and the untouched tail, and parses
    /// the expected bytes back to `repr`.
    fn golden(repr: &IgmpRepr<'_>, expected: &[u8]) {
        assert_eq!(repr.buffer_len(), expected.len());
        let mut buf = vec![0xa5; expected.len() + 3];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..expected.len()], expected);
        assert_eq!(
            &buf[expected.len()..],
            &[0xa5; 3],
            "emit wrote past the message"
        );
        let packet = IgmpPacket::new_checked(expected).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(&IgmpRepr::parse(&packet, RxChecksum::Verify).unwrap(), repr);
    }

    fn checked(b: &[u8]) -> Result<IgmpRepr<'_>> {
        IgmpRepr::parse(&IgmpPacket::new_checked(b)?, RxChecksum::Verify)
    }

    fn with_checksum(mut b: Vec<u8>) -> Vec<u8> {
        IgmpPacket::new_unchecked(&mut b[..]).fill_checksum();
        b
    }

    #[test]
    fn golden_v1_query() {
        // RFC 1112 App. I: version 1, type 1 -> 0x11; checksum !0x1100.
        let repr = IgmpRepr::MembershipQuery {
            max_resp_code: 0,
            group: Ipv4Addr::UNSPECIFIED,
            version: IgmpVersion::V1,
            v3: None,
        };
        golden(&repr, &[0x11, 0x00, 0xee, 0xff, 0, 0, 0, 0]);
        assert_eq!(repr.max_resp_time(), Some(100));
        assert_eq!(repr.to_string(), "igmp query v1 [gaddr 0.0.0.0]");
    }

    #[test]
    fn golden_v2_query() {
        // RFC 2236 §2: max resp time 100 (10 s); checksum !0x1164.
        let repr = IgmpRepr::MembershipQuery {
            max_resp_code: 100,
            group: Ipv4Addr::UNSPECIFIED,
            version: IgmpVersion::V2,
            v3: None,
        };
        golden(&repr, &[0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0]);
        assert_eq!(
            repr.to_string(),
            "igmp query v2 [max resp time 10] [gaddr 0.0.0.0]"
        );
    }

    #[test]
    fn golden_reports_and_leave() {
        let v1 = IgmpRepr::MembershipReportV1 {
            group: Ipv4Addr::new(224, 1, 2, 3),
        };
        golden(&v1, &[0x12, 0, 0x0b, 0xfb, 224, 1, 2, 3]);
        assert_eq!(v1.to_string(), "igmp v1 report 224.1.2.3");
        let v2 = IgmpRepr::MembershipReportV2 { group: G1 };
        golden(&v2, &[0x16, 0, 0xf9, 0xfc, 239, 1, 1, 1]);
        assert_eq!(v2.to_string(), "igmp v2 report 239.1.1.1");
        assert_eq!(v2.max_resp_time(), None);
        let leave = IgmpRepr::LeaveGroup { group: G1 };
        golden(&leave, &[0x17, 0, 0xf8, 0xfc, 239, 1, 1, 1]);
        assert_eq!(leave.to_string(), "igmp leave 239.1.1.1");
    }

    #[rustfmt::skip]
    const V3_QUERY: [u8; 20] = [
        0x11, 0x64, 0xe0, 0x16, 239, 1, 1, 1,
        0x0a, 0x7d, 0x00, 0x02, // S, QRV 2; QQIC 125; 2 sources
        10, 0, 0, 1, 10, 0, 0, 2,
    ];

    #[test]
    fn golden_v3_query() {
        let repr = IgmpRepr::MembershipQuery {
            max_resp_code: 100,
            group: G1,
            version: IgmpVersion::V3,
            v3: Some(IgmpV3Query {
                s_flag: true,
                qrv: 2,
                qqic: 125,
                sources: SourceList::new(&V3_QUERY[12..]).unwrap(),
            }),
        };
        golden(&repr, &V3_QUERY);
        let packet = IgmpPacket::new_checked(&V3_QUERY[..]).unwrap();
        let q = packet.v3_query().unwrap();
        assert_eq!(q.sources.iter().collect::<Vec<_>>(), [S1, S2]);
        assert_eq!(q.sources.len(), 2);
        assert_eq!(q.qqi(), 125);
        assert_eq!(packet.query_version(), Ok(IgmpVersion::V3));
        assert!(packet.group_records().is_none());
        assert_eq!(
            repr.to_string(),
            "igmp query v3 [max resp time 10] [gaddr 239.1.1.1] [S] [qrv 2] [qqi 125], 2 source(s)"
        );
    }

    #[rustfmt::skip]
    const V3_REPORT: [u8; 28] = [
        0x22, 0, 0xe9, 0xf3, 0, 0, 0, 2,
        4, 0, 0, 0, 239, 1, 1, 1,
        5, 0, 0, 1, 239, 2, 2, 2, 10, 0, 0, 1,
    ];

    #[test]
    fn golden_v3_report() {
        let records = [
            GroupRecordRepr {
                record_type: RecordType::ChangeToExclude,
                group: G1,
                sources: &[],
            },
            GroupRecordRepr {
                record_type: RecordType::AllowNewSources,
                group: G2,
                sources: &[S1],
            },
        ];
        let report = IgmpV3ReportRepr { records: &records };
        assert_eq!(report.buffer_len(), V3_REPORT.len());
        let mut buf = [0xa5; 31];
        report.emit(&mut buf).unwrap();
        assert_eq!(&buf[..28], &V3_REPORT);
        assert_eq!(&buf[28..], &[0xa5; 3]);
        assert_eq!(report.emit(&mut buf[..27]), Err(Error::Truncated));

        let repr = checked(&V3_REPORT).unwrap();
        golden(&repr, &V3_REPORT);
        assert_eq!(repr.to_string(), "igmp v3 report, 2 group record(s)");
        let IgmpRepr::MembershipReportV3 { records: parsed } = repr else {
            panic!("{repr:?}")
        };
        let walked: Vec<_> = parsed.iter().collect();
        assert_eq!(walked.len(), 2);
        for (rec, want) in walked.iter().zip(&records) {
            assert_eq!(rec.record_type(), want.record_type);
            assert_eq!(rec.group(), want.group);
            assert_eq!(rec.aux_data_len(), 0);
            assert_eq!(rec.num_sources() as usize, want.sources.len());
            assert!(rec.sources().iter().eq(want.sources.iter().copied()));
            assert!(rec.aux_data().is_empty());
        }
    }

    #[test]
    fn record_with_aux_data_and_trailing_bytes() {
        // One MODE_IS_EXCLUDE record with 1 source and 2 aux words, then 3 stray bytes.
        let msg = with_checksum(vec![
            0x22, 0, 0, 0, 0, 0, 0, 1, //
            2, 2, 0, 1, 239, 1, 1, 1, 10, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, //
            9, 9, 9,
        ]);
        let repr = checked(&msg).unwrap();
        let IgmpRepr::MembershipReportV3 { records } = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(records.as_bytes(), &msg[8..28]);
        let rec = records.iter().next().unwrap();
        assert_eq!(rec.record_type(), RecordType::ModeIsExclude);
        assert_eq!(rec.aux_data(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(rec.sources().iter().collect::<Vec<_>>(), [S1]);
        // Re-emitting keeps the aux data and drops the stray bytes.
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(&mut out).unwrap();
        assert_eq!(&out[4..], &msg[4..28]);
        assert_eq!(checked(&out).unwrap(), repr);
    }

    #[test]
    fn version_by_length() {
        // Linux igmp_heard_query(): 8 bytes is v1/v2, 9..=11 ignored, 12+ v3.
        let mut q = vec![0x11, 10, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            checked(&with_checksum(q.clone())),
            Ok(IgmpRepr::MembershipQuery {
                version: IgmpVersion::V2,
                ..
            })
        ));
        for extra in 1..4 {
            q.push(0);
            assert_eq!(
                checked(&with_checksum(q.clone())),
                Err(Error::BadLength),
                "{extra}"
            );
        }
        q.push(0);
        let v3 = with_checksum(q.clone());
        let repr = checked(&v3).unwrap();
        assert!(matches!(
            repr,
            IgmpRepr::MembershipQuery { version: IgmpVersion::V3, v3: Some(q), .. } if q.sources.is_empty()
        ));
        assert_eq!(repr.max_resp_time(), Some(10));
        // v3 with trailing bytes beyond the sources: accepted.
        q.extend_from_slice(&[1, 2, 3]);
        assert!(checked(&with_checksum(q)).is_ok());
        // A v3-length query with code 0 is still v3.
        let zero = with_checksum(vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            checked(&zero),
            Ok(IgmpRepr::MembershipQuery {
                version: IgmpVersion::V3,
                max_resp_code: 0,
                ..
            })
        ));
    }

    #[test]
    fn hostile_counts() {
        // Query claiming 3 sources with room for 2.
        let mut q = V3_QUERY;
        q[11] = 3;
        assert_eq!(
            IgmpPacket::new_checked(&q[..]).unwrap_err(),
            Error::BadLength
        );
        assert!(IgmpPacket::new_unchecked(&q[..]).v3_query().is_none());
        q[10..12].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(
            IgmpPacket::new_checked(&q[..]).unwrap_err(),
            Error::BadLength
        );
        // Report claiming 65535 records, or 3 with room for 2.
        let mut r = V3_REPORT;
        r[6..8].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(
            IgmpPacket::new_checked(&r[..]).unwrap_err(),
            Error::BadLength
        );
        r[6..8].copy_from_slice(&[0, 3]);
        assert_eq!(
            IgmpPacket::new_checked(&r[..]).unwrap_err(),
            Error::BadLength
        );
        assert!(IgmpPacket::new_unchecked(&r[..]).group_records().is_none());
        // A record whose source count, or aux length, runs past the end.
        let mut r = V3_REPORT;
        r[18..20].copy_from_slice(&[0, 2]);
        assert_eq!(
            IgmpPacket::new_checked(&r[..]).unwrap_err(),
            Error::BadLength
        );
        let mut r = V3_REPORT;
        r[17] = 1;
        assert_eq!(
            IgmpPacket::new_checked(&r[..]).unwrap_err(),
            Error::BadLength
        );
        // A record header cut short.
        assert_eq!(
            GroupRecords::new(2, &V3_REPORT[8..20]).unwrap_err(),
            Error::BadLength
        );
        assert_eq!(GroupRecords::new(0, &[1, 2, 3]).unwrap().as_bytes(), &[]);
    }

    #[test]
    fn errors() {
        for len in 0..8 {
            assert_eq!(
                IgmpPacket::new_checked(&V3_REPORT[..len]).unwrap_err(),
                Error::Truncated
            );
        }
        let mut bad = V3_QUERY;
        bad[3] ^= 1;
        assert_eq!(checked(&bad), Err(Error::BadChecksum));
        let p = IgmpPacket::new_checked(&bad[..]).unwrap();
        assert!(IgmpRepr::parse(&p, RxChecksum::Skip).is_ok());
        // DVMRP, PIMv1, mtrace and unknown types are valid IGMP that we do not represent.
        for t in [0x13u8, 0x14, 0x15, 0x1e, 0x1f, 0x42] {
            let msg = with_checksum(vec![t, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(checked(&msg), Err(Error::Unsupported));
        }
        assert_eq!(SourceList::new(&[0; 5]).unwrap_err(), Error::BadLength);
        assert_eq!(
            SourceList::new(&vec![0; 4 * 65536]).unwrap_err(),
            Error::BadLength
        );
    }

    #[test]
    fn emit_refuses_inconsistent_queries() {
        let mut buf = [0u8; 64];
        let q = |max_resp_code, version, v3| IgmpRepr::MembershipQuery {
            max_resp_code,
            group: G1,
            version,
            v3,
        };
        let v3 = IgmpV3Query {
            s_flag: false,
            qrv: 2,
            qqic: 125,
            sources: SourceList::default(),
        };
        assert_eq!(
            q(5, IgmpVersion::V1, None).emit(&mut buf),
            Err(Error::Unsupported)
        );
        assert_eq!(
            q(0, IgmpVersion::V2, None).emit(&mut buf),
            Err(Error::Unsupported)
        );
        assert_eq!(
            q(5, IgmpVersion::V3, None).emit(&mut buf),
            Err(Error::Unsupported)
        );
        assert_eq!(
            q(5, IgmpVersion::V2, Some(v3)).emit(&mut buf),
            Err(Error::Unsupported)
        );
        let bad_qrv = IgmpV3Query { qrv: 8, ..v3 };
        assert_eq!(
            q(5, IgmpVersion::V3, Some(bad_qrv)).emit(&mut buf),
            Err(Error::Unsupported)
        );
        assert_eq!(
            q(5, IgmpVersion::V3, Some(v3)).emit(&mut buf[..11]),
            Err(Error::Truncated)
        );
        assert_eq!(
            IgmpRepr::LeaveGroup { group: G1 }.emit(&mut buf[..7]),
            Err(Error::Truncated)
        );
        let rec = GroupRecordRepr {
            record_type: RecordType::ModeIsInclude,
            group: G1,
            sources: &[S1, S2],
        };
        assert_eq!(rec.emit(&mut buf[..15]), Err(Error::Truncated));
    }

    #[test]
    fn code_float() {
        // RFC 3376 §4.1.1: below 128 literal; 0x80 = 16 << 3; 0xff = 31 << 10.
        assert_eq!(decode_code(0x7f), 127);
        assert_eq!(decode_code(0x80), 128);
        assert_eq!(decode_code(0x8f), 31 << 3);
        assert_eq!(decode_code(0x90), 16 << 4);
        assert_eq!(decode_code(0xff), 31744);
        for code in 0..=255u8 {
            assert_eq!(encode_code(decode_code(code)), code, "{code:#x}");
        }
        assert_eq!(encode_code(u32::MAX), 0xff);
        assert_eq!(encode_code(31745), 0xff);
        // Between two codes, round down.
        assert_eq!(encode_code(129), 0x80);
        assert_eq!(encode_code(135), 0x80);
        assert_eq!(encode_code(136), 0x81);
    }

    proptest! {
        #[test]
        fn encode_rounds_down(v in 0u32..40_000) {
            let code = encode_code(v);
            prop_assert!(decode_code(code) <= v);
            if code < 0xff {
                prop_assert!(decode_code(code + 1) > v);
            }
        }

        #[test]
        fn query_round_trip(
            code in any::<u8>(),
            group in any::<u32>(),
            version in 0u8..3,
            flags in any::<(bool, u8, u8)>(),
            sources in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let sources = &sources[..sources.len() / 4 * 4];
            let (s_flag, qrv, qqic) = flags;
            let (version, max_resp_code, v3) = match version {
                0 => (IgmpVersion::V1, 0, None),
                1 => (IgmpVersion::V2, code.max(1), None),
                _ => (IgmpVersion::V3, code, Some(IgmpV3Query {
                    s_flag, qrv: qrv & 7, qqic, sources: SourceList::new(sources).unwrap(),
                })),
            };
            let repr = IgmpRepr::MembershipQuery { max_resp_code, group: group.into(), version, v3 };
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut buf).unwrap();
            prop_assert_eq!(checked(&buf).unwrap(), repr);
        }

        #[test]
        fn v3_report_round_trip(
            recs in proptest::collection::vec(
                (any::<u8>(), any::<u32>(), proptest::collection::vec(any::<u32>(), 0..5)),
                0..6,
            ),
        ) {
            let sources: Vec<Vec<Ipv4Addr>> =
                recs.iter().map(|r| r.2.iter().map(|&a| a.into()).collect()).collect();
            let reprs: Vec<GroupRecordRepr> = recs
                .iter()
                .zip(&sources)
                .map(|(r, s)| GroupRecordRepr {
                    record_type: r.0.into(),
                    group: r.1.into(),
                    sources: s,
                })
                .collect();
            let report = IgmpV3ReportRepr { records: &reprs };
            let mut buf = vec![0u8; report.buffer_len()];
            report.emit(&mut buf).unwrap();
            let repr = checked(&buf).unwrap();
            let IgmpRepr::MembershipReportV3 { records } = repr else {
                panic!("{repr:?}")
            };
            prop_assert_eq!(records.len(), reprs.len());
            for (rec, want) in records.iter().zip(&reprs) {
                prop_assert_eq!(rec.record_type(), want.record_type);
                prop_assert_eq!(rec.group(), want.group);
                prop_assert!(rec.sources().iter().eq(want.sources.iter().copied()));
            }
            let mut again = vec![0u8; repr.buffer_len()];
            repr.emit(&mut again).unwrap();
            prop_assert_eq!(again, buf);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = IgmpPacket::new_checked(&bytes[..])
                && let Ok(repr) = IgmpRepr::parse(&p, RxChecksum::Skip)
            {
                let _ = repr.to_string();
                prop_assert!(repr.buffer_len() <= bytes.len());
            }
        }
    }
}
