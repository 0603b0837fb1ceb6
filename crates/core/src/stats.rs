//! The SNMP MIB counters, named and ordered as Linux 6.x prints them in `/proc/net/snmp`
//! and `/proc/net/netstat`, so `nstat` and `netstat -s` habits carry over.
//!
//! Counters are plain `u64` fields the datapath bumps (`mib.ip.in_receives += 1`). Each
//! field is the kernel column name in snake_case. Linux include/uapi/linux/snmp.h,
//! net/ipv4/proc.c.

use skiff_wire::icmpv4::Icmpv4Message as M;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Declares a MIB struct whose fields and kernel column names come from one list, so the
/// rendered order can never drift from the struct.
macro_rules! mib {
    ($(#[$meta:meta])* $name:ident { $($field:ident => $col:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $(#[doc = concat!("`", $col, "`")] pub $field: u64,)*
        }

        impl $name {
            /// (kernel column name, value) in the kernel's print order.
            fn columns(&self) -> Vec<Column> {
                vec![$((Cow::Borrowed($col), self.$field),)*]
            }
        }
    };
}

mib! {
    /// The `Ip:` counters (RFC 1213 ipGroup, plus `OutTransmits` since Linux 6.3).
    /// Linux net/ipv4/proc.c snmp4_ipstats_list.
    IpMib {
        in_receives => "InReceives",
        in_hdr_errors => "InHdrErrors",
        in_addr_errors => "InAddrErrors",
        forw_datagrams => "ForwDatagrams",
        in_unknown_protos => "InUnknownProtos",
        in_discards => "InDiscards",
        in_delivers => "InDelivers",
        out_requests => "OutRequests",
        out_discards => "OutDiscards",
        out_no_routes => "OutNoRoutes",
        reasm_timeout => "ReasmTimeout",
        reasm_reqds => "ReasmReqds",
        reasm_oks => "ReasmOKs",
        reasm_fails => "ReasmFails",
        frag_oks => "FragOKs",
        frag_fails => "FragFails",
        frag_creates => "FragCreates",
        out_transmits => "OutTransmits",
    }
}

mib! {
    /// The `Udp:` and `UdpLite:` counters. Linux net/ipv4/proc.c snmp4_udp_list.
    UdpMib {
        in_datagrams => "InDatagrams",
        no_ports => "NoPorts",
        in_errors => "InErrors",
        out_datagrams => "OutDatagrams",
        rcvbuf_errors => "RcvbufErrors",
        sndbuf_errors => "SndbufErrors",
        in_csum_errors => "InCsumErrors",
        ignored_multi => "IgnoredMulti",
        mem_errors => "MemErrors",
    }
}

mib! {
    /// The `IpExt:` counters of `/proc/net/netstat` (RFC 4293 extras, checksum, ECN and
    /// overlap counters). Linux net/ipv4/proc.c snmp4_ipextstats_list.
    IpExtMib {
        in_no_routes => "InNoRoutes",
        in_truncated_pkts => "InTruncatedPkts",
        in_mcast_pkts => "InMcastPkts",
        out_mcast_pkts => "OutMcastPkts",
        in_bcast_pkts => "InBcastPkts",
        out_bcast_pkts => "OutBcastPkts",
        in_octets => "InOctets",
        out_octets => "OutOctets",
        in_mcast_octets => "InMcastOctets",
        out_mcast_octets => "OutMcastOctets",
        in_bcast_octets => "InBcastOctets",
        out_bcast_octets => "OutBcastOctets",
        in_csum_errors => "InCsumErrors",
        in_no_ect_pkts => "InNoECTPkts",
        in_ect1_pkts => "InECT1Pkts",
        in_ect0_pkts => "InECT0Pkts",
        in_ce_pkts => "InCEPkts",
        reasm_overlaps => "ReasmOverlaps",
    }
}

/// The `Icmp:` counters that are not per type. The per-type columns (`InDestUnreachs`,
/// `OutEchoReps`, …) are not stored here: like Linux, they are read from [`IcmpMsgMib`].
/// Linux include/uapi/linux/snmp.h ICMP_MIB_*.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IcmpMib {
    /// `InMsgs`
    pub in_msgs: u64,
    /// `InErrors`
    pub in_errors: u64,
    /// `InCsumErrors`
    pub in_csum_errors: u64,
    /// `OutMsgs`
    pub out_msgs: u64,
    /// `OutErrors`
    pub out_errors: u64,
    /// `OutRateLimitGlobal`: errors suppressed by the host-wide token bucket.
    pub out_rate_limit_global: u64,
    /// `OutRateLimitHost`: errors suppressed by the per-destination bucket.
    pub out_rate_limit_host: u64,
}

/// Per ICMP type counts, `InType<N>` and `OutType<N>`. Linux icmpmsg_statistics
/// (ICMPMSG_MIB_MAX = 512: the 256 input types, then the 256 output types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpMsgMib {
    pub in_type: [u64; 256],
    pub out_type: [u64; 256],
}

impl Default for IcmpMsgMib {
    fn default() -> Self {
        IcmpMsgMib {
            in_type: [0; 256],
            out_type: [0; 256],
        }
    }
}

/// The per-type columns of the `Icmp:` line, in the kernel's order, and their ICMP types.
/// Linux net/ipv4/proc.c icmpmibmap.
const ICMP_MIB_MAP: [(&str, u8); 11] = [
    ("DestUnreachs", M::DstUnreachable.raw()),
    ("TimeExcds", M::TimeExceeded.raw()),
    ("ParmProbs", M::ParamProblem.raw()),
    ("SrcQuenchs", M::SourceQuench.raw()),
    ("Redirects", M::Redirect.raw()),
    ("Echos", M::EchoRequest.raw()),
    ("EchoReps", M::EchoReply.raw()),
    ("Timestamps", M::Timestamp.raw()),
    ("TimestampReps", M::TimestampReply.raw()),
    ("AddrMasks", M::AddressMaskRequest.raw()),
    ("AddrMaskReps", M::AddressMaskReply.raw()),
];

/// IcmpMsg columns per pair of lines. Linux net/ipv4/proc.c icmpmsg_put() PERLINE.
const ICMPMSG_PER_LINE: usize = 16;

/// All IPv4 MIBs of one stack (one Linux network namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mib {
    pub ip: IpMib,
    pub icmp: IcmpMib,
    pub icmp_msg: IcmpMsgMib,
    pub udp: UdpMib,
    pub udp_lite: UdpMib,
    pub ip_ext: IpExtMib,
}

type Column = (Cow<'static, str>, u64);

/// One `Name: cols` / `Name: values` pair of lines.
struct Group {
    name: &'static str,
    columns: Vec<Column>,
}

impl Mib {
    /// Counts one received ICMP message whose checksum was good: `InMsgs` and `InType<t>`
    /// (which is also the `Icmp:` per-type column, e.g. `InEchos` for type 8). The caller
    /// adds `in_errors` for the messages icmp_rcv() then rejects (unknown type > 18, a
    /// broadcast echo ignored, a failed handler). Linux net/ipv4/icmp.c icmp_rcv().
    pub fn icmp_in(&mut self, icmp_type: u8) {
        self.icmp.in_msgs = self.icmp.in_msgs.wrapping_add(1);
        let slot = &mut self.icmp_msg.in_type[usize::from(icmp_type)];
        *slot = slot.wrapping_add(1);
    }

    /// Counts one received ICMP message with a bad checksum: `InMsgs`, `InCsumErrors` and
    /// `InErrors`, and no `InType` (the kernel never reads its type). Linux icmp_rcv()
    /// csum_error path.
    pub fn icmp_in_csum_error(&mut self) {
        self.icmp.in_msgs = self.icmp.in_msgs.wrapping_add(1);
        self.icmp.in_csum_errors = self.icmp.in_csum_errors.wrapping_add(1);
        self.icmp.in_errors = self.icmp.in_errors.wrapping_add(1);
    }

    /// Counts one transmitted ICMP message: `OutType<t>` (also the `Icmp:` per-type
    /// column, e.g. `OutEchoReps` for type 0) and `OutMsgs`. Linux net/ipv4/icmp.c
    /// icmp_out_count().
    pub fn icmp_out(&mut self, icmp_type: u8) {
        let slot = &mut self.icmp_msg.out_type[usize::from(icmp_type)];
        *slot = slot.wrapping_add(1);
        self.icmp.out_msgs = self.icmp.out_msgs.wrapping_add(1);
    }

    /// The `/proc/net/snmp` text: the `Ip`, `Icmp`, `IcmpMsg`, `Udp` and `UdpLite` pairs of
    /// lines, byte for byte as Linux 6.x prints them. `Ip: Forwarding` is 1 when
    /// forwarding is on and 2 when off; `DefaultTTL` is the `ip_default_ttl` sysctl.
    /// The `Tcp` pair is left out: skiff has no TCP yet.
    /// Linux net/ipv4/proc.c snmp_seq_show().
    pub fn render_snmp(&self, forwarding: bool, default_ttl: u8) -> String {
        render(&self.snmp_groups(Some((forwarding, default_ttl))))
    }

    /// The `/proc/net/netstat` text: the `IpExt` pair of lines as Linux 6.x prints it.
    /// `TcpExt` and `MPTcpExt` are left out: skiff has no TCP or MPTCP yet.
    /// Linux net/ipv4/proc.c netstat_seq_show().
    pub fn render_netstat(&self) -> String {
        render(&self.netstat_groups())
    }

    /// A counter by its nstat name, group then column: `"IpInHdrErrors"`,
    /// `"IcmpOutRateLimitHost"`, `"IcmpInEchos"`, `"IcmpMsgOutType0"`, `"UdpLiteNoPorts"`,
    /// `"IpExtInNoRoutes"`. Every `IcmpMsg{In,Out}Type<0..=255>` name is known, zero or not.
    /// `IpForwarding` and `IpDefaultTTL` are settings, not counters: `None`.
    pub fn get(&self, name: &str) -> Option<u64> {
        if let Some(rest) = name.strip_prefix("IcmpMsg") {
            let (types, num) = if let Some(n) = rest.strip_prefix("InType") {
                (&self.icmp_msg.in_type, n)
            } else {
                (&self.icmp_msg.out_type, rest.strip_prefix("OutType")?)
            };
            // Canonical decimal only, as the kernel prints it: "Type3", not "Type03".
            let t: u8 = num.parse().ok()?;
            return (t.to_string() == num).then(|| types[usize::from(t)]);
        }
        self.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every counter the two files show, as (nstat name, value), in file order:
    /// `/proc/net/snmp` groups then `/proc/net/netstat`. As in the files, only the nonzero
    /// `IcmpMsg` types appear.
    pub fn iter(&self) -> impl Iterator<Item = (String, u64)> {
        let mut groups = self.snmp_groups(None);
        groups.extend(self.netstat_groups());
        groups.into_iter().flat_map(|g| {
            g.columns
                .into_iter()
                .map(move |(col, v)| (format!("{}{col}", g.name), v))
        })
    }

    /// The `/proc/net/snmp` groups; `ip_head` adds the `Forwarding`/`DefaultTTL` columns.
    fn snmp_groups(&self, ip_head: Option<(bool, u8)>) -> Vec<Group> {
        let mut ip = Vec::new();
        if let Some((forwarding, ttl)) = ip_head {
            ip.push((Cow::Borrowed("Forwarding"), if forwarding { 1 } else { 2 }));
            ip.push((Cow::Borrowed("DefaultTTL"), u64::from(ttl)));
        }
        ip.extend(self.ip.columns());
        let mut groups = vec![
            Group {
                name: "Ip",
                columns: ip,
            },
            Group {
                name: "Icmp",
                columns: self.icmp_columns(),
            },
        ];
        groups.extend(self.icmp_msg_groups());
        groups.push(Group {
            name: "Udp",
            columns: self.udp.columns(),
        });
        groups.push(Group {
            name: "UdpLite",
            columns: self.udp_lite.columns(),
        });
        groups
    }

    fn netstat_groups(&self) -> Vec<Group> {
        vec![Group {
            name: "IpExt",
            columns: self.ip_ext.columns(),
        }]
    }

    /// Linux net/ipv4/proc.c icmp_put().
    fn icmp_columns(&self) -> Vec<Column> {
        fn per_type<'a>(dir: &'a str, types: &'a [u64; 256]) -> impl Iterator<Item = Column> + 'a {
            ICMP_MIB_MAP
                .iter()
                .map(move |&(name, t)| (Cow::Owned(format!("{dir}{name}")), types[usize::from(t)]))
        }
        let c = &self.icmp;
        let mut cols: Vec<Column> = vec![
            (Cow::Borrowed("InMsgs"), c.in_msgs),
            (Cow::Borrowed("InErrors"), c.in_errors),
            (Cow::Borrowed("InCsumErrors"), c.in_csum_errors),
        ];
        cols.extend(per_type("In", &self.icmp_msg.in_type));
        cols.extend([
            (Cow::Borrowed("OutMsgs"), c.out_msgs),
            (Cow::Borrowed("OutErrors"), c.out_errors),
            (Cow::Borrowed("OutRateLimitGlobal"), c.out_rate_limit_global),
            (Cow::Borrowed("OutRateLimitHost"), c.out_rate_limit_host),
        ]);
        cols.extend(per_type("Out", &self.icmp_msg.out_type));
        cols
    }

    /// The nonzero types, all input types then all output types, sixteen to a pair of
    /// lines; no lines at all when every count is zero. Linux icmpmsg_put().
    fn icmp_msg_groups(&self) -> Vec<Group> {
        let nonzero: Vec<Column> = [
            ("In", &self.icmp_msg.in_type),
            ("Out", &self.icmp_msg.out_type),
        ]
        .into_iter()
        .flat_map(|(dir, types)| {
            types
                .iter()
                .enumerate()
                .filter(|&(_, &v)| v != 0)
                .map(move |(t, &v)| (Cow::Owned(format!("{dir}Type{t}")), v))
        })
        .collect();
        nonzero
            .chunks(ICMPMSG_PER_LINE)
            .map(|chunk| Group {
                name: "IcmpMsg",
                columns: chunk.to_vec(),
            })
            .collect()
    }
}

/// `Name: a b c\nName: 1 2 3\n` for each group.
fn render(groups: &[Group]) -> String {
    let mut out = String::new();
    for g in groups {
        out.push_str(g.name);
        out.push(':');
        for (col, _) in &g.columns {
            out.push(' ');
            out.push_str(col);
        }
        out.push('\n');
        out.push_str(g.name);
        out.push(':');
        for (_, v) in &g.columns {
            // Writing to a String cannot fail.
            let _ = write!(out, " {v}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Reads a `/proc/net/snmp`-style text the way iproute2 nstat and net-tools
    /// `netstat -s` do: pairs of lines, a header of names and a line of integers, with the
    /// same `Group:` prefix and the same number of fields. Returns nstat names
    /// (group + column) with their values, refusing a malformed pair or a duplicate name.
    fn parse_pairs(text: &str) -> Result<Vec<(String, i64)>, String> {
        assert!(text.ends_with('\n'), "missing final newline");
        let lines: Vec<&str> = text.lines().collect();
        if !lines.len().is_multiple_of(2) {
            return Err(format!("odd number of lines: {}", lines.len()));
        }
        let mut out = Vec::new();
        let mut seen = HashMap::new();
        for pair in lines.chunks(2) {
            let (head, vals) = (pair[0], pair[1]);
            let (hp, hrest) = head.split_once(": ").ok_or(format!("no prefix: {head}"))?;
            let (vp, vrest) = vals.split_once(": ").ok_or(format!("no prefix: {vals}"))?;
            if hp != vp {
                return Err(format!("prefix mismatch: {hp} vs {vp}"));
            }
            let names: Vec<&str> = hrest.split(' ').collect();
            let values: Vec<&str> = vrest.split(' ').collect();
            if names.len() != values.len() {
                return Err(format!(
                    "{hp}: {} names, {} values",
                    names.len(),
                    values.len()
                ));
            }
            for (n, v) in names.iter().zip(&values) {
                if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("bad name {n:?}"));
                }
                let v: i64 = v.parse().map_err(|_| format!("bad value {v:?}"))?;
                let key = format!("{hp}{n}");
                if seen.insert(key.clone(), v).is_some() {
                    return Err(format!("duplicate {key}"));
                }
                out.push((key, v));
            }
        }
        Ok(out)
    }

    // The header lines of a Linux 6.18 /proc/net/snmp and /proc/net/netstat, in order
    // (net/ipv4/proc.c lists; checked against a running 6.18 kernel).
    const IP_HEAD: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors \
        ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards \
        OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails \
        FragCreates OutTransmits";
    const ICMP_HEAD: &str = "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds \
        InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps \
        InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal \
        OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs \
        OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks \
        OutAddrMaskReps";
    const UDP_COLS: &str = "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors \
        SndbufErrors InCsumErrors IgnoredMulti MemErrors";
    const IPEXT_HEAD: &str = "IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts \
        InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets \
        InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts \
        InCEPkts ReasmOverlaps";

    fn zeros(n: usize) -> String {
        vec!["0"; n].join(" ")
    }

    #[test]
    fn zero_mib_golden_snmp() {
        let expected = format!(
            "{IP_HEAD}\nIp: 2 64 {}\n{ICMP_HEAD}\nIcmp: {}\nUdp: {UDP_COLS}\nUdp: {}\n\
             UdpLite: {UDP_COLS}\nUdpLite: {}\n",
            zeros(18),
            zeros(29),
            zeros(9),
            zeros(9)
        );
        assert_eq!(Mib::default().render_snmp(false, 64), expected);
    }

    #[test]
    fn zero_mib_golden_netstat() {
        let expected = format!("{IPEXT_HEAD}\nIpExt: {}\n", zeros(18));
        assert_eq!(Mib::default().render_netstat(), expected);
    }

    #[test]
    fn forwarding_and_ttl_columns() {
        let text = Mib::default().render_snmp(true, 255);
        assert!(text.lines().nth(1).unwrap().starts_with("Ip: 1 255 0 "));
    }

    #[test]
    fn every_group_parses_and_bumps_show_under_kernel_names() {
        let mut mib = Mib::default();
        mib.ip.in_hdr_errors = 3;
        mib.ip.out_transmits = 7;
        mib.icmp.out_rate_limit_host = 4;
        mib.udp.no_ports = 5;
        mib.udp_lite.mem_errors = 6;
        mib.ip_ext.in_no_routes = 8;
        mib.ip_ext.reasm_overlaps = 9;
        mib.icmp_in(8);
        mib.icmp_in(8);
        mib.icmp_out(0);
        mib.icmp_in_csum_error();

        let snmp = parse_pairs(&mib.render_snmp(false, 64)).unwrap();
        let netstat = parse_pairs(&mib.render_netstat()).unwrap();
        let all: HashMap<String, i64> = snmp.iter().chain(&netstat).cloned().collect();
        for (name, v) in [
            ("IpForwarding", 2),
            ("IpDefaultTTL", 64),
            ("IpInHdrErrors", 3),
            ("IpOutTransmits", 7),
            ("IcmpInMsgs", 3),
            ("IcmpInErrors", 1),
            ("IcmpInCsumErrors", 1),
            ("IcmpInEchos", 2),
            ("IcmpOutMsgs", 1),
            ("IcmpOutEchoReps", 1),
            ("IcmpOutRateLimitHost", 4),
            ("IcmpMsgInType8", 2),
            ("IcmpMsgOutType0", 1),
            ("UdpNoPorts", 5),
            ("UdpLiteMemErrors", 6),
            ("IpExtInNoRoutes", 8),
            ("IpExtReasmOverlaps", 9),
        ] {
            assert_eq!(all.get(name), Some(&v), "{name}");
        }
        // The groups a parser sees, in order (one IcmpMsg pair here).
        let text = mib.render_snmp(false, 64);
        let groups: Vec<&str> = text
            .lines()
            .step_by(2)
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(groups, ["Ip", "Icmp", "IcmpMsg", "Udp", "UdpLite"]);

        // get() and iter() agree with what a parser reads, counter for counter.
        let iterated: Vec<(String, u64)> = mib.iter().collect();
        let parsed: Vec<(String, u64)> = snmp
            .iter()
            .chain(&netstat)
            .filter(|(n, _)| n != "IpForwarding" && n != "IpDefaultTTL")
            .map(|(n, v)| (n.clone(), u64::try_from(*v).unwrap()))
            .collect();
        assert_eq!(iterated, parsed);
        for (name, v) in &iterated {
            assert_eq!(mib.get(name), Some(*v), "{name}");
        }
        assert_eq!(mib.get("IpExtInNoRoutes"), Some(8));
        assert_eq!(mib.get("IpInHdrErrors"), Some(3));
        assert_eq!(mib.get("IcmpMsgInType3"), Some(0));
        assert_eq!(mib.get("IcmpMsgOutType255"), Some(0));
        assert_eq!(mib.get("IcmpMsgOutType256"), None);
        assert_eq!(mib.get("IcmpMsgInType08"), None);
        assert_eq!(mib.get("IcmpMsgInType"), None);
        assert_eq!(mib.get("IpForwarding"), None);
        assert_eq!(mib.get("TcpInSegs"), None);
        assert_eq!(mib.get("InHdrErrors"), None);
    }

    #[test]
    fn icmp_msg_lines_like_the_kernel() {
        let mut mib = Mib::default();
        mib.icmp_in(3);
        mib.icmp_in(3);
        mib.icmp_in(200);
        mib.icmp_out(3);
        let text = mib.render_snmp(false, 64);
        assert!(
            text.contains("\nIcmpMsg: InType3 InType200 OutType3\nIcmpMsg: 2 1 1\nUdp: "),
            "{text}"
        );
        // Per-type Icmp columns come from the same counts.
        assert_eq!(mib.get("IcmpInDestUnreachs"), Some(2));
        assert_eq!(mib.get("IcmpOutDestUnreachs"), Some(1));
    }

    #[test]
    fn icmp_msg_splits_sixteen_per_pair() {
        let mut mib = Mib::default();
        for t in 0..20u8 {
            mib.icmp_in(t);
        }
        for t in 250..=255u8 {
            mib.icmp_out(t);
        }
        let text = mib.render_snmp(false, 64);
        let msg_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("IcmpMsg:")).collect();
        assert_eq!(msg_lines.len(), 4);
        let first: Vec<&str> = msg_lines[0].split(' ').skip(1).collect();
        let expected: Vec<String> = (0..16).map(|t| format!("InType{t}")).collect();
        assert_eq!(first, expected);
        assert_eq!(
            msg_lines[2],
            "IcmpMsg: InType16 InType17 InType18 InType19 OutType250 OutType251 \
             OutType252 OutType253 OutType254 OutType255"
        );
        assert_eq!(msg_lines[3], format!("IcmpMsg: {}", ["1"; 10].join(" ")));
        let parsed = parse_pairs(&text).unwrap();
        assert_eq!(
            parsed
                .iter()
                .filter(|(n, _)| n.starts_with("IcmpMsg"))
                .count(),
            26
        );
    }

    #[test]
    fn counters_print_full_u64() {
        let mut mib = Mib::default();
        mib.ip_ext.in_octets = u64::MAX;
        mib.icmp_msg.out_type[0] = u64::MAX;
        mib.icmp_out(0); // wraps like an SNMP Counter64, no panic
        assert_eq!(mib.icmp_msg.out_type[0], 0);
        assert!(
            mib.render_netstat()
                .contains(&format!("IpExt: 0 0 0 0 0 0 {} ", u64::MAX))
        );
    }

    #[test]
    fn parser_rejects_malformed_pairs() {
        assert!(parse_pairs("Ip: A B\nIp: 1\n").is_err());
        assert!(parse_pairs("Ip: A\nUdp: 1\n").is_err());
        assert!(parse_pairs("Ip: A\nIp: x\n").is_err());
        assert!(parse_pairs("Ip: A\n").is_err());
        assert!(parse_pairs("Ip: A A\nIp: 1 2\n").is_err());
        assert!(parse_pairs("Ip: A\nIp: 1\n").is_ok());
    }
}
