//! What `/proc` and iproute2 show of a stack: `/proc/net/snmp`, `/proc/net/netstat`,
//! `ip neigh`, `ip -s link`, and the drop counts by reason.

use super::Stack;
use crate::drop::DropReason;
use crate::netdev::DevKind;
use crate::stats::Mib;

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

    /// `ip -s link`: each device's state and counters.
    pub fn render_link(&self) -> String {
        let mut out = String::new();
        for d in &self.devs {
            let st = &d.stats;
            out.push_str(&format!(
                "{}: {}: <{}> mtu {} state {}\n    link/{} {}\n    RX:  bytes packets dropped nohandler otherhost\n    {:>10} {:>7} {:>7} {:>9} {:>9}\n    TX:  bytes packets dropped\n    {:>10} {:>7} {:>7}\n",
                d.ifindex,
                d.name,
                if d.up { "UP,LOWER_UP" } else { "DOWN" },
                d.mtu,
                if d.up { "UP" } else { "DOWN" },
                match d.kind {
                    DevKind::Loopback => "loopback",
                    DevKind::Ethernet => "ether",
                    DevKind::RawIp => "none",
                },
                d.mac,
                st.rx_bytes,
                st.rx_packets,
                st.rx_dropped,
                st.rx_nohandler,
                st.rx_otherhost_dropped,
                st.tx_bytes,
                st.tx_packets,
                st.tx_dropped,
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
}
