//! What `/proc` and iproute2 show of a stack: `/proc/net/snmp`, `/proc/net/netstat`,
//! `/proc/net/igmp` and `mcfilter`, `ip neigh`, `ip -s link`, and the drop counts by
//! reason.

use super::Stack;
use crate::drop::DropReason;
use crate::ipv4::mc_list::McDev;
use crate::netdev::DevKind;
use crate::stats::Mib;
use core::fmt::Write;

impl Stack {
    /// The MIB counters.
    pub fn stats(&self) -> &Mib {
        &self.mib
    }

    /// How many packets were dropped for `reason`.
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// `/proc/net/snmp`.
    pub fn render_snmp(&self) -> String {
        self.mib
            .render_snmp(self.sysctl.ip_forward == 1, self.sysctl.ip_default_ttl)
    }

    /// `/proc/net/netstat`.
    pub fn render_netstat(&self) -> String {
        self.mib.render_netstat()
    }

    /// `ip neigh show`: one line per entry, by device then address.
    pub fn render_neigh(&self) -> String {
        let mut entries: Vec<_> = self.neigh.entries().collect();
        entries.sort_by_key(|e| (e.ifindex, u32::from(e.addr)));
        let mut out = String::new();
        for e in entries {
            let dev = self.dev(e.ifindex).map_or("?", |d| d.name.as_str());
            out.push_str(&format!("{} dev {dev} ", e.addr));
            if let Some(mac) = e.mac {
                out.push_str(&format!("lladdr {mac} "));
            }
            out.push_str(&format!("{}\n", e.state));
        }
        out
    }

    /// `ip -s link`: each device's state and counters (`length`, `frame`, `carrier` and
    /// `collsns` as `ip -s -s link` shows them).
    pub fn render_link(&self) -> String {
        let mut out = String::new();
        for d in &self.devs {
            let st = &d.stats;
            out.push_str(&format!(
                "{}: {}: <{}> mtu {} state {}\n    link/{} {}\n    RX:  bytes packets  errors dropped nohandler otherhost  length   frame\n    {:>10} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7} {:>7}\n    TX:  bytes packets  errors dropped carrier collsns\n    {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
                d.ifindex,
                d.name,
                match (d.up, d.kind) {
                    (false, _) => "DOWN",
                    (true, DevKind::Ipip) => "POINTOPOINT,NOARP,UP,LOWER_UP",
                    (true, _) => "UP,LOWER_UP",
                },
                d.mtu,
                if d.up { "UP" } else { "DOWN" },
                match d.kind {
                    DevKind::Loopback => "loopback",
                    DevKind::Ethernet => "ether",
                    DevKind::RawIp => "none",
                    DevKind::Ipip => "ipip",
                },
                match d.kind {
                    DevKind::Ipip => self.ipip_link_addrs(d.ifindex),
                    _ => d.mac.to_string(),
                },
                st.rx_bytes,
                st.rx_packets,
                st.rx_errors,
                st.rx_dropped,
                st.rx_nohandler,
                st.rx_otherhost_dropped,
                st.rx_length_errors,
                st.rx_frame_errors,
                st.tx_bytes,
                st.tx_packets,
                st.tx_errors,
                st.tx_dropped,
                st.tx_carrier_errors,
                st.collisions,
            ));
        }
        out
    }

    /// Packets dropped so far, by reason (those with any), as dropwatch would count them.
    pub fn render_drops(&self) -> String {
        DropReason::ALL
            .iter()
            .filter(|&&r| self.drop_count(r) > 0)
            .map(|&r| format!("{} {}\n", r.name(), self.drop_count(r)))
            .collect()
    }

    /// Devices in ifindex order with their multicast state: an up device without any
    /// state yet has 224.0.0.1 only (ip_mc_up()).
    fn mc_render_devs(&self) -> Vec<(u32, String, Option<&McDev>)> {
        self.devs
            .iter()
            .filter_map(|d| {
                let st = self.mc.devs.get(&d.ifindex);
                (d.up || st.is_some()).then(|| (d.ifindex, d.name.clone(), st))
            })
            .collect()
    }

    /// `/proc/net/igmp`, byte for byte. Linux igmp_mc_seq_show(); timers in USER_HZ
    /// (1/100 s) ticks.
    pub fn render_igmp(&self) -> String {
        let mut out =
            String::from("Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n");
        let default = McDev::new(self.sysctl.igmp_qrv as u8);
        for (ifindex, name, st) in self.mc_render_devs() {
            let d = st.unwrap_or(&default);
            if d.list.is_empty() {
                continue;
            }
            let querier = if self.igmp_v1_seen(ifindex) {
                "V1"
            } else if self.igmp_v2_seen(ifindex) {
                "V2"
            } else {
                "V3"
            };
            let _ = writeln!(
                out,
                "{ifindex}\t{name:<10}: {:5} {querier:>7}",
                d.list.len()
            );
            for im in &d.list {
                let (running, ticks) = match im.timer.and_then(|id| self.mc.timers.deadline(id)) {
                    Some(at) => (1, at.saturating_duration_since(self.now).as_millis() / 10),
                    None => (0, 0),
                };
                // The address is printed as the host-order word of its network bytes
                // (%08X of a __be32 on a little-endian machine).
                let word = u32::from_le_bytes(im.multiaddr.octets());
                let _ = writeln!(
                    out,
                    "\t\t\t\t{word:08X} {:5} {running}:{ticks:08X}\t\t{}",
                    im.users,
                    u8::from(im.reporter)
                );
            }
        }
        out
    }

    /// `/proc/net/mcfilter`, byte for byte. Linux igmp_mcf_seq_show().
    pub fn render_mcfilter(&self) -> String {
        let mut out = String::from("Idx Device        MCA        SRC    INC    EXC\n");
        for (ifindex, name, st) in self.mc_render_devs() {
            let Some(d) = st else { continue };
            let short: String = name.chars().take(6).collect();
            for im in &d.list {
                for p in &im.sources {
                    let _ = writeln!(
                        out,
                        "{ifindex:3} {short:>6} 0x{:08x} 0x{:08x} {:6} {:6}",
                        u32::from(im.multiaddr),
                        u32::from(p.inaddr),
                        p.sf_count[0],
                        p.sf_count[1]
                    );
                }
            }
        }
        out
    }
}
