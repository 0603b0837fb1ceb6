//! `ip route show` and `ip route show cache` text. iproute2 ip/iproute.c print_route().

use super::*;
use crate::time::Instant;

impl Fib {
    /// The table as `ip route show table main|local` prints it.
    pub fn render(&self, table: FibTableId) -> String {
        let mut routes: Vec<&FibRoute> = self.routes().filter(|r| r.table == table).collect();
        routes.sort_by_key(|r| (r.dst, std::cmp::Reverse(r.prefix_len)));
        let mut out = String::new();
        for r in routes {
            out.push_str(&self.render_route(r));
            out.push('\n');
        }
        out
    }

    /// One line of iproute2 print_route().
    fn render_route(&self, r: &FibRoute) -> String {
        let mut s = String::new();
        if r.rtype != RouteType::Unicast {
            s.push_str(r.rtype.name());
            s.push(' ');
        }
        match r.prefix_len {
            0 => s.push_str("default"),
            32 => s.push_str(&r.dst.to_string()),
            n => s.push_str(&format!("{}/{}", r.dst, n)),
        }
        if let Some(gw) = r.gateway {
            s.push_str(&format!(" via {gw}"));
        }
        if r.oif != 0 {
            match self.device(r.oif) {
                Some(d) => s.push_str(&format!(" dev {}", d.name)),
                None => s.push_str(&format!(" dev if{}", r.oif)),
            }
        }
        if r.protocol != RouteProtocol::Boot {
            s.push_str(&format!(" proto {}", r.protocol.name()));
        }
        if r.scope != RouteScope::UNIVERSE {
            s.push_str(&format!(" scope {}", r.scope.name()));
        }
        if let Some(src) = r.prefsrc {
            s.push_str(&format!(" src {src}"));
        }
        if r.metric != 0 {
            s.push_str(&format!(" metric {}", r.metric));
        }
        if r.onlink {
            s.push_str(" onlink");
        }
        if r.mtu != 0 {
            s.push_str(&format!(" mtu {}", r.mtu));
        }
        s
    }

    /// `ip route show cache`: one entry per learned path MTU.
    pub fn render_cache(&self, now: Instant) -> String {
        let mut out = String::new();
        for e in self.fnhe.iter() {
            let dev = self.device(e.dev).map_or("?", |d| d.name.as_str());
            out.push_str(&e.daddr.to_string());
            if let Some(gw) = e.gateway {
                out.push_str(&format!(" via {gw}"));
            }
            let secs = e.expires.saturating_duration_since(now).as_secs();
            let lock = if e.locked { "lock " } else { "" };
            out.push_str(&format!(
                " dev {dev} \n    cache expires {secs}sec mtu {lock}{} \n",
                e.pmtu
            ));
        }
        out
    }
}
