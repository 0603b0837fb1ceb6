//! The configuration of `skiff up`: a TOML file and/or command-line flags, validated into
//! plain types for the daemon. Values follow iproute2 (`ip addr`, `ip route`, `ip link`),
//! sysctl and iptables syntax; every error names the key (or flag) and the bad value.

use clap::Args;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use skiff_core::ipv4::mroute::MAXVIFS;
use skiff_core::netfilter::Netfilter;
use skiff_core::route::RouteType;
use skiff_wire::ethernet::EthernetAddress;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use toml::{Spanned, Table, Value};

/// Flags of `skiff up`. Values stay text here; [`Config::from_args`] validates them so that
/// every bad value is reported the same way.
#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// TOML configuration file; flags given too override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TAP device to attach to, created if missing (required without --config).
    #[arg(long, value_name = "NAME")]
    pub tap: Option<String>,
    /// Address of the interface with its prefix length (required without --config).
    #[arg(long, value_name = "A.B.C.D/P")]
    pub addr: Option<String>,
    /// Default gateway: adds (or replaces) the route 0.0.0.0/0 via GW.
    #[arg(long, value_name = "GW")]
    pub gateway: Option<String>,
    /// Interface MTU (68..=65535; default 1500).
    #[arg(long, value_name = "N")]
    pub mtu: Option<String>,
    /// Interface MAC address (default: generated).
    #[arg(long, value_name = "MAC")]
    pub mac: Option<String>,
    /// Do not negotiate checksum and segmentation offloads with the kernel (every
    /// interface).
    #[arg(long)]
    pub no_offload: bool,
    /// Forward between interfaces (sysctl ip_forward=1).
    #[arg(long)]
    pub forward: bool,
    /// Run a UDP echo service on 0.0.0.0:PORT (repeatable).
    #[arg(long = "udp-echo", value_name = "PORT")]
    pub udp_echo: Vec<String>,
    /// Set a sysctl (net.ipv4.* names), after those of the file (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Control socket path (default /run/skiff/<first interface>.sock).
    #[arg(long, value_name = "PATH")]
    pub ctl: Option<PathBuf>,
    /// Write every frame sent or received to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
}

/// A validated `skiff up` configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Sysctls to apply in order (file order, then flags); values as text.
    pub sysctl: Vec<(String, String)>,
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub udp_echo: Vec<SocketAddrV4>,
    /// iptables-like rule lines joined with '\n', in order.
    pub rules: String,
    /// None: the daemon uses /run/skiff/<first interface>.sock.
    pub ctl: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    /// Multicast routing vifs, added with MRT_ADD_VIF in order.
    pub vifs: Vec<Vif>,
    /// Static multicast forwarding entries, added with MRT_ADD_MFC in order.
    pub mroutes: Vec<MRoute>,
    /// IPIP tunnel devices, made after the interfaces and before the routes.
    pub tunnels: Vec<Tunnel>,
}

/// An IPIP tunnel device: `ip tunnel add NAME mode ipip local L remote R [ttl T]
/// [dev LINK] [nopmtudisc]`, up, with its addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunnel {
    pub name: String,
    /// 0.0.0.0 (`local any`): the route's source.
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
    /// 0: inherit the inner packet's (the default).
    pub ttl: u8,
    /// The interface the outer packets leave by (`dev`).
    pub dev: Option<String>,
    pub pmtudisc: bool,
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

/// A multicast routing virtual interface, as `struct vifctl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vif {
    /// `vifc_vifi`, below MAXVIFS.
    pub index: u16,
    pub kind: VifKind,
    /// `vifc_threshold`.
    pub threshold: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VifKind {
    /// A configured interface (VIFF_USE_IFINDEX).
    Interface(String),
    /// A DVMRP IPIP tunnel (VIFF_TUNNEL).
    Tunnel { local: Ipv4Addr, remote: Ipv4Addr },
}

/// A static multicast forwarding cache entry, as `struct mfcctl`: (S,G), or (*,G) with
/// source 0.0.0.0.
#[derive(Debug, Clone, PartialEq)]
pub struct MRoute {
    pub source: Ipv4Addr,
    pub group: Ipv4Addr,
    /// The vif packets must arrive on.
    pub iif: u16,
    /// Output vifs with their TTL thresholds (1..=254).
    pub oifs: Vec<(u16, u8)>,
}

/// The kind of device: Ethernet frames (TAP) or bare IP packets (TUN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfKind {
    #[default]
    Tap,
    Tun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    pub name: String,
    pub kind: IfKind,
    /// Local addresses with prefix lengths; the first is the primary.
    pub addrs: Vec<(Ipv4Addr, u8)>,
    pub mtu: u32,
    /// None: generated by the daemon.
    pub mac: Option<EthernetAddress>,
    pub offload: bool,
    /// Queues (IFF_MULTI_QUEUE when more than one), one worker thread each.
    pub queues: u16,
}

impl Interface {
    fn new(name: String) -> Interface {
        Interface {
            name,
            kind: IfKind::Tap,
            addrs: Vec::new(),
            mtu: DEFAULT_MTU,
            mac: None,
            offload: true,
            queues: 1,
        }
    }
}

/// A route of the main table, as `ip route add`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix_len: u8,
    pub via: Option<Ipv4Addr>,
    pub dev: Option<String>,
    pub metric: u32,
    /// The route's mtu metric.
    pub mtu: Option<u32>,
    pub rtype: RouteType,
}

/// A configuration that does not validate; the message names the key and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

const DEFAULT_MTU: u32 = 1500;
/// Linux `IFNAMSIZ`, the terminating NUL included.
const IFNAMSIZ: usize = 16;
/// `sizeof(struct sockaddr_un.sun_path)`, the terminating NUL included.
const SUN_PATH_MAX: usize = 108;
/// Every [`RouteType`], to accept them by [`RouteType::name`].
const ROUTE_TYPES: [RouteType; 7] = [
    RouteType::Unicast,
    RouteType::Local,
    RouteType::Broadcast,
    RouteType::Multicast,
    RouteType::Blackhole,
    RouteType::Unreachable,
    RouteType::Prohibit,
];

const WANT_CIDR: &str = "want A.B.C.D/P, P <= 32";
const WANT_MTU: &str = "want an integer in 68..=65535";
/// Queues per device: one worker thread each (Linux allows 256 per TUN device).
const MAX_QUEUES: i64 = 64;
const WANT_QUEUES: &str = "want an integer in 1..=64";
const WANT_MAC: &str = "want 6 hex bytes separated by ':', not multicast or zero";
const WANT_PORT: &str = "want an integer in 1..=65535";
const WANT_VIF_INDEX: &str = "want an integer in 0..=31";
const WANT_THRESHOLD: &str = "want an integer in 0..=255";
/// An oif's TTL threshold: 0 and 255 mean "not an output vif" in `mfcc_ttls`.
const WANT_OIF_TTL: &str = "want an integer in 1..=254";
const WANT_VIF_REF: &str = "want a vif index or the interface name of a [[vif]]";

// The file as written: every key optional at this level, values checked by hand so that
// errors name the key. deny_unknown_fields refuses misspelt keys.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    pcap: Option<Value>,
    sysctl: Option<Table>,
    #[serde(default)]
    interface: Vec<Spanned<Value>>,
    #[serde(default)]
    route: Vec<Spanned<Value>>,
    #[serde(default)]
    udp_echo: Vec<Spanned<Value>>,
    #[serde(default)]
    rule: Vec<Spanned<Value>>,
    ctl: Option<Spanned<Value>>,
    #[serde(default)]
    vif: Vec<Spanned<Value>>,
    #[serde(default)]
    mroute: Vec<Spanned<Value>>,
    #[serde(default)]
    tunnel: Vec<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIpTunnel {
    name: Option<Value>,
    mode: Option<Value>,
    local: Option<Value>,
    remote: Option<Value>,
    ttl: Option<Value>,
    dev: Option<Value>,
    pmtudisc: Option<Value>,
    address: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVif {
    index: Option<Value>,
    interface: Option<Value>,
    tunnel: Option<Value>,
    threshold: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    local: Option<Value>,
    remote: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMRoute {
    source: Option<Value>,
    group: Option<Value>,
    iif: Option<Value>,
    oifs: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOif {
    vif: Option<Value>,
    ttl: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    name: Option<Value>,
    kind: Option<Value>,
    address: Option<Value>,
    mtu: Option<Value>,
    mac: Option<Value>,
    offload: Option<Value>,
    queues: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    to: Option<Value>,
    via: Option<Value>,
    dev: Option<Value>,
    metric: Option<Value>,
    mtu: Option<Value>,
    #[serde(rename = "type")]
    rtype: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUdpEcho {
    port: Option<Value>,
    address: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    iptables: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCtl {
    path: Option<Value>,
}

impl Config {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let cfg = parse_toml(text)?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Loads --config if given, then applies the flags on top.
    pub fn from_args(args: &UpArgs) -> Result<Config, ConfigError> {
        let mut cfg = match &args.config {
            Some(path) => load_file(path)?,
            None => {
                let missing: Vec<&str> = [
                    (args.tap.is_none(), "--tap NAME"),
                    (args.addr.is_none(), "--addr A.B.C.D/P"),
                ]
                .into_iter()
                .filter_map(|(m, flag)| m.then_some(flag))
                .collect();
                if !missing.is_empty() {
                    return Err(ConfigError(format!(
                        "{} required without --config",
                        match missing.as_slice() {
                            [one] => format!("{one} is"),
                            _ => format!("{} are", missing.join(" and ")),
                        }
                    )));
                }
                Config::default()
            }
        };
        cfg.apply_flags(args)?;
        cfg.check()?;
        Ok(cfg)
    }

    fn apply_flags(&mut self, args: &UpArgs) -> Result<(), ConfigError> {
        if let Some(name) = &args.tap {
            check_ifname("--tap", name)?;
            match self.interfaces.first_mut() {
                None => self.interfaces.push(Interface::new(name.clone())),
                Some(first) => {
                    let old = std::mem::replace(&mut first.name, name.clone());
                    // Routes and vifs on the renamed interface follow it.
                    for r in &mut self.routes {
                        if r.dev.as_deref() == Some(old.as_str()) {
                            r.dev = Some(name.clone());
                        }
                    }
                    for v in &mut self.vifs {
                        if v.kind == VifKind::Interface(old.clone()) {
                            v.kind = VifKind::Interface(name.clone());
                        }
                    }
                    for t in &mut self.tunnels {
                        if t.dev.as_deref() == Some(old.as_str()) {
                            t.dev = Some(name.clone());
                        }
                    }
                }
            }
        }
        if let Some(addr) = &args.addr {
            let a = parse_ifaddr("--addr", addr)?;
            self.first_interface("--addr")?.addrs = vec![a];
        }
        if let Some(mtu) = &args.mtu {
            let mtu = parse_u32_text(mtu)
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| bad("--mtu", quote(mtu), WANT_MTU))?;
            self.first_interface("--mtu")?.mtu = mtu;
        }
        if let Some(mac) = &args.mac {
            let mac = parse_mac(mac).ok_or_else(|| bad("--mac", quote(mac), WANT_MAC))?;
            self.first_interface("--mac")?.mac = Some(mac);
        }
        if args.no_offload {
            self.first_interface("--no-offload")?;
            for i in &mut self.interfaces {
                i.offload = false;
            }
        }
        if let Some(gw) = &args.gateway {
            let gw = parse_gateway("--gateway", gw)?;
            let route = Route {
                via: Some(gw),
                ..Route::new(Ipv4Addr::UNSPECIFIED, 0)
            };
            // As `ip route replace default via GW`: the default route of metric 0, if any.
            match self
                .routes
                .iter_mut()
                .find(|r| r.prefix_len == 0 && r.metric == 0)
            {
                Some(r) => *r = route,
                None => self.routes.push(route),
            }
        }
        if args.forward {
            self.sysctl.push(("ip_forward".into(), "1".into()));
        }
        for kv in &args.sysctl {
            match kv.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => self
                    .sysctl
                    .push((k.trim().to_string(), v.trim().to_string())),
                _ => return Err(bad("--sysctl", quote(kv), "want KEY=VALUE")),
            }
        }
        for port in &args.udp_echo {
            let p = parse_u32_text(port)
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| bad("--udp-echo", quote(port), WANT_PORT))?;
            self.udp_echo
                .push(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p as u16));
        }
        if let Some(ctl) = &args.ctl {
            check_ctl_path("--ctl", ctl)?;
            self.ctl = Some(ctl.clone());
        }
        if let Some(pcap) = &args.pcap {
            if pcap.as_os_str().is_empty() {
                return Err(bad("--pcap", "\"\"", "want a file name"));
            }
            self.pcap = Some(pcap.clone());
        }
        Ok(())
    }

    fn first_interface(&mut self, flag: &str) -> Result<&mut Interface, ConfigError> {
        self.interfaces.first_mut().ok_or_else(|| {
            ConfigError(format!(
                "{flag}: no interface to apply it to (give --tap NAME too)"
            ))
        })
    }

    /// The checks that span entries; run last, after the flags.
    fn check(&self) -> Result<(), ConfigError> {
        if self.interfaces.is_empty() {
            return Err(ConfigError(
                "no interface configured (want at least one [[interface]], or --tap NAME)".into(),
            ));
        }
        for (i, ifc) in self.interfaces.iter().enumerate() {
            if let Some(j) = self.interfaces[..i].iter().position(|o| o.name == ifc.name) {
                return Err(ConfigError(format!(
                    "interface[{i}].name: bad value {} (already the name of interface[{j}])",
                    quote(&ifc.name)
                )));
            }
        }
        let if_names: Vec<&str> = self.interfaces.iter().map(|i| i.name.as_str()).collect();
        for (i, t) in self.tunnels.iter().enumerate() {
            // Linux register_netdevice(): EEXIST for a taken name.
            if let Some(what) = if_names
                .iter()
                .position(|&n| n == t.name)
                .map(|j| format!("interface[{j}]"))
                .or_else(|| {
                    self.tunnels[..i]
                        .iter()
                        .position(|o| o.name == t.name)
                        .map(|j| format!("tunnel[{j}]"))
                })
            {
                return Err(bad(
                    &format!("tunnel[{i}].name"),
                    quote(&t.name),
                    &format!("already the name of {what}"),
                ));
            }
            if let Some(dev) = &t.dev
                && !if_names.contains(&dev.as_str())
            {
                return Err(bad(
                    &format!("tunnel[{i}].dev"),
                    quote(dev),
                    &format!("want a configured interface: {}", if_names.join(", ")),
                ));
            }
            // Linux ip_tunnel_find(): EEXIST for the same (local, remote, link).
            if let Some(j) = self.tunnels[..i]
                .iter()
                .position(|o| (o.local, o.remote, &o.dev) == (t.local, t.remote, &t.dev))
            {
                return Err(ConfigError(format!(
                    "tunnel[{i}]: tunnel[{j}] has the same local {}, remote {} and dev (EEXIST)",
                    t.local, t.remote
                )));
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            if let Some(dev) = &r.dev
                && !if_names.contains(&dev.as_str())
                && !self.tunnels.iter().any(|t| &t.name == dev)
            {
                let names: Vec<&str> = if_names
                    .iter()
                    .copied()
                    .chain(self.tunnels.iter().map(|t| t.name.as_str()))
                    .collect();
                return Err(bad(
                    &format!("route[{i}].dev"),
                    quote(dev),
                    &format!(
                        "want a configured interface{}: {}",
                        if self.tunnels.is_empty() {
                            ""
                        } else {
                            " or tunnel"
                        },
                        names.join(", ")
                    ),
                ));
            }
            // Linux fib_table_insert(): NLM_F_EXCL refuses the same prefix and priority.
            if let Some(j) = self.routes[..i]
                .iter()
                .position(|o| (o.dst, o.prefix_len, o.metric) == (r.dst, r.prefix_len, r.metric))
            {
                return Err(ConfigError(format!(
                    "route[{i}].to: bad value \"{}/{}\" (route[{j}] has the same destination and metric {})",
                    r.dst, r.prefix_len, r.metric
                )));
            }
        }
        for (i, v) in self.vifs.iter().enumerate() {
            if let VifKind::Interface(dev) = &v.kind
                && !self.interfaces.iter().any(|ifc| &ifc.name == dev)
            {
                let names: Vec<&str> = self.interfaces.iter().map(|i| i.name.as_str()).collect();
                return Err(bad(
                    &format!("vif[{i}].interface"),
                    quote(dev),
                    &format!("want a configured interface: {}", names.join(", ")),
                ));
            }
        }
        // Linux udp_lib_lport_inuse() without SO_REUSEADDR: one port, overlapping addresses.
        for (i, a) in self.udp_echo.iter().enumerate() {
            if let Some(b) = self.udp_echo[..i].iter().find(|b| {
                b.port() == a.port()
                    && (b.ip() == a.ip() || b.ip().is_unspecified() || a.ip().is_unspecified())
            }) {
                return Err(ConfigError(format!(
                    "udp_echo: {a} conflicts with {b} (same port, overlapping address)"
                )));
            }
        }
        Ok(())
    }
}

impl Route {
    fn new(dst: Ipv4Addr, prefix_len: u8) -> Route {
        Route {
            dst,
            prefix_len,
            via: None,
            dev: None,
            metric: 0,
            mtu: None,
            rtype: RouteType::Unicast,
        }
    }
}

fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "--config: cannot read {}: {e}",
            quote(&path.display().to_string())
        ))
    })?;
    parse_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
}

/// Parses and checks each entry of a file; [`Config::check`] does the rest.
fn parse_toml(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim_end();
        match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                ConfigError(format!("TOML: line {line}, column {col}: {msg}"))
            }
            None => ConfigError(format!("TOML: {msg}")),
        }
    })?;
    let mut cfg = Config::default();
    if let Some(table) = &raw.sysctl {
        flatten_sysctl("", table, &mut cfg.sysctl)?;
    }
    for (i, v) in raw.interface.into_iter().enumerate() {
        let what = format!("interface[{i}]");
        let r: RawInterface = entry(&what, text, v)?;
        cfg.interfaces.push(interface(&what, r)?);
    }
    for (i, v) in raw.route.into_iter().enumerate() {
        let what = format!("route[{i}]");
        let r: RawRoute = entry(&what, text, v)?;
        cfg.routes.push(route(&what, r)?);
    }
    for (i, v) in raw.udp_echo.into_iter().enumerate() {
        let what = format!("udp_echo[{i}]");
        let r: RawUdpEcho = entry(&what, text, v)?;
        let key = format!("{what}.port");
        let port = match r.port {
            None => return Err(missing(&key)),
            Some(v) => int(&key, &v, WANT_PORT, 1, 65535)? as u16,
        };
        let addr = match r.address {
            None => Ipv4Addr::UNSPECIFIED,
            Some(v) => {
                let key = format!("{what}.address");
                let s = string(&key, &v, "want A.B.C.D")?;
                s.parse().map_err(|_| bad(&key, show(&v), "want A.B.C.D"))?
            }
        };
        cfg.udp_echo.push(SocketAddrV4::new(addr, port));
    }
    let mut lines = Vec::new();
    for (i, v) in raw.rule.into_iter().enumerate() {
        let what = format!("rule[{i}]");
        let r: RawRule = entry(&what, text, v)?;
        let key = format!("{what}.iptables");
        let want = "want one iptables rule line";
        let Some(v) = r.iptables else {
            return Err(missing(&key));
        };
        let s = string(&key, &v, want)?;
        if s.contains(['\n', '\r']) {
            return Err(bad(&key, show(&v), want));
        }
        lines.push(s.to_string());
    }
    cfg.rules = lines.join("\n");
    // The same parser the daemon loads them with; one rule a line, so line N is rule[N-1].
    if let Err(e) = Netfilter::new().load_rules(&cfg.rules) {
        let i = e.line.saturating_sub(1);
        return Err(ConfigError(format!(
            "rule[{i}].iptables: bad value {} ({})",
            quote(lines.get(i).map_or("", String::as_str)),
            e.what
        )));
    }
    if let Some(v) = raw.ctl {
        let r: RawCtl = entry("ctl", text, v)?;
        let Some(v) = r.path else {
            return Err(missing("ctl.path"));
        };
        let path = PathBuf::from(string("ctl.path", &v, "want a socket path")?);
        check_ctl_path("ctl.path", &path)?;
        cfg.ctl = Some(path);
    }
    for (i, v) in raw.tunnel.into_iter().enumerate() {
        let what = format!("tunnel[{i}]");
        let r: RawIpTunnel = entry(&what, text, v)?;
        cfg.tunnels.push(tunnel(&what, r)?);
    }
    for (i, v) in raw.vif.into_iter().enumerate() {
        let what = format!("vif[{i}]");
        let r: RawVif = entry(&what, text, v)?;
        let vif = vif(&what, r)?;
        for (j, o) in cfg.vifs.iter().enumerate() {
            // Linux vif_add(): EADDRINUSE for a taken index; one vif per interface keeps
            // a name reference unambiguous.
            if o.index == vif.index {
                return Err(bad(
                    &format!("{what}.index"),
                    vif.index,
                    &format!("already the index of vif[{j}]"),
                ));
            }
            if let (VifKind::Interface(a), VifKind::Interface(b)) = (&o.kind, &vif.kind)
                && a == b
            {
                return Err(bad(
                    &format!("{what}.interface"),
                    quote(b),
                    &format!("already the interface of vif[{j}]"),
                ));
            }
        }
        cfg.vifs.push(vif);
    }
    for (i, v) in raw.mroute.into_iter().enumerate() {
        let what = format!("mroute[{i}]");
        let r: RawMRoute = entry(&what, text, v)?;
        let m = mroute(&what, r, &cfg.vifs)?;
        // MRT_ADD_MFC would replace the entry: one per (source, group).
        if let Some(j) = cfg
            .mroutes
            .iter()
            .position(|o| (o.source, o.group) == (m.source, m.group))
        {
            return Err(ConfigError(format!(
                "{what}.group: bad value \"{}\" (mroute[{j}] has the same source and group)",
                m.group
            )));
        }
        cfg.mroutes.push(m);
    }
    if let Some(v) = raw.pcap {
        let s = string("pcap", &v, "want a file name")?;
        if s.is_empty() {
            return Err(bad("pcap", show(&v), "want a file name"));
        }
        cfg.pcap = Some(PathBuf::from(s));
    }
    Ok(cfg)
}

/// `[sysctl]`, dotted keys joined back (`net.ipv4.ip_forward = 1` is one name).
fn flatten_sysctl(
    prefix: &str,
    table: &Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(t) => flatten_sysctl(&name, t, out)?,
            Value::Integer(n) => out.push((name, n.to_string())),
            Value::String(s) => out.push((name, s.clone())),
            other => {
                return Err(bad(
                    &format!("sysctl.{name}"),
                    show(other),
                    "want an integer or a string",
                ));
            }
        }
    }
    Ok(())
}

/// One element of an array of tables, with unknown keys reported by their path.
fn entry<T: DeserializeOwned>(what: &str, text: &str, v: Spanned<Value>) -> Result<T, ConfigError> {
    let span = v.span();
    let v = v.into_inner();
    if !v.is_table() {
        return Err(bad(what, show(&v), "want a table"));
    }
    T::deserialize(v).map_err(|e| {
        let msg = e.message();
        match msg
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((key, tail)) => ConfigError(format!(
                "unknown key {} in {what} (line {}{tail})",
                quote(key),
                key_line(text, span.clone(), key)
            )),
            None => ConfigError(format!(
                "{what} (line {}): {msg}",
                line_col(text, span.start).0
            )),
        }
    })
}

fn interface(what: &str, r: RawInterface) -> Result<Interface, ConfigError> {
    let key = format!("{what}.name");
    let name = match &r.name {
        None => return Err(missing(&key)),
        Some(v) => {
            let s = string(&key, v, "want an interface name")?;
            check_ifname(&key, s)?;
            s.to_string()
        }
    };
    let mut ifc = Interface::new(name);
    if let Some(v) = &r.kind {
        let key = format!("{what}.kind");
        ifc.kind = match string(&key, v, "want \"tap\" or \"tun\"")? {
            "tap" => IfKind::Tap,
            "tun" => IfKind::Tun,
            _ => return Err(bad(&key, show(v), "want \"tap\" or \"tun\"")),
        };
    }
    ifc.addrs = addresses(what, &r.address)?;
    if let Some(v) = &r.mtu {
        ifc.mtu = int(&format!("{what}.mtu"), v, WANT_MTU, 68, 65535)? as u32;
    }
    if let Some(v) = &r.mac {
        let key = format!("{what}.mac");
        if ifc.kind == IfKind::Tun {
            return Err(bad(&key, show(v), "a TUN device has no MAC address"));
        }
        let mac =
            parse_mac(string(&key, v, WANT_MAC)?).ok_or_else(|| bad(&key, show(v), WANT_MAC))?;
        ifc.mac = Some(mac);
    }
    if let Some(v) = &r.offload {
        let key = format!("{what}.offload");
        ifc.offload = v
            .as_bool()
            .ok_or_else(|| bad(&key, show(v), "want true or false"))?;
    }
    if let Some(v) = &r.queues {
        ifc.queues = int(&format!("{what}.queues"), v, WANT_QUEUES, 1, MAX_QUEUES)? as u16;
    }
    Ok(ifc)
}

fn route(what: &str, r: RawRoute) -> Result<Route, ConfigError> {
    let key = format!("{what}.to");
    let want_to = "want A.B.C.D/P with the host bits clear, A.B.C.D or \"default\"";
    let Some(to) = &r.to else {
        return Err(missing(&key));
    };
    let s = string(&key, to, want_to)?;
    let (dst, prefix_len) = if s == "default" {
        (Ipv4Addr::UNSPECIFIED, 0)
    } else if s.contains('/') {
        parse_cidr(s).ok_or_else(|| bad(&key, show(to), want_to))?
    } else {
        (s.parse().map_err(|_| bad(&key, show(to), want_to))?, 32)
    };
    // iproute2 refuses a prefix with host bits set ("Invalid prefix for given prefix length").
    let net = mask(dst, prefix_len);
    if net != dst {
        return Err(bad(
            &key,
            show(to),
            &format!("host bits set; the network is \"{net}/{prefix_len}\""),
        ));
    }
    let mut route = Route::new(dst, prefix_len);
    if let Some(v) = &r.rtype {
        let key = format!("{what}.type");
        let names: Vec<&str> = ROUTE_TYPES.iter().map(|t| t.name()).collect();
        let want = format!("want one of {}", names.join(", "));
        let s = string(&key, v, &want)?;
        route.rtype = ROUTE_TYPES
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| bad(&key, show(v), &want))?;
    }
    if let Some(v) = &r.via {
        let key = format!("{what}.via");
        route.via = Some(parse_gateway(&key, string(&key, v, "want A.B.C.D")?)?);
    }
    if let Some(v) = &r.dev {
        let key = format!("{what}.dev");
        route.dev = Some(string(&key, v, "want an interface name")?.to_string());
    }
    // Linux fib_create_info(): error routes take no gateway and no device.
    if matches!(
        route.rtype,
        RouteType::Blackhole | RouteType::Unreachable | RouteType::Prohibit
    ) && (route.via.is_some() || route.dev.is_some())
    {
        return Err(ConfigError(format!(
            "{what}: a {} route takes no via and no dev",
            route.rtype.name()
        )));
    }
    if let Some(v) = &r.metric {
        route.metric = int(
            &format!("{what}.metric"),
            v,
            "want an integer in 0..=4294967295",
            0,
            u32::MAX.into(),
        )? as u32;
    }
    if let Some(v) = &r.mtu {
        route.mtu = Some(int(&format!("{what}.mtu"), v, WANT_MTU, 68, 65535)? as u32);
    }
    Ok(route)
}

/// `address`: one "A.B.C.D/P" or a list of them.
fn addresses(what: &str, v: &Option<Value>) -> Result<Vec<(Ipv4Addr, u8)>, ConfigError> {
    let mut addrs = Vec::new();
    match v {
        None => {}
        Some(Value::Array(list)) => {
            for (j, v) in list.iter().enumerate() {
                let key = format!("{what}.address[{j}]");
                let a = parse_ifaddr(&key, string(&key, v, WANT_CIDR)?)?;
                // Linux inet_insert_ifa(): the same local address and mask twice is EEXIST.
                if addrs.contains(&a) {
                    return Err(bad(&key, show(v), "want each address once"));
                }
                addrs.push(a);
            }
        }
        Some(v) => {
            let key = format!("{what}.address");
            addrs.push(parse_ifaddr(&key, string(&key, v, WANT_CIDR)?)?);
        }
    }
    Ok(addrs)
}

fn tunnel(what: &str, r: RawIpTunnel) -> Result<Tunnel, ConfigError> {
    let key = format!("{what}.name");
    let name = match &r.name {
        None => return Err(missing(&key)),
        Some(v) => {
            let s = string(&key, v, "want an interface name")?;
            check_ifname(&key, s)?;
            s.to_string()
        }
    };
    let key = format!("{what}.mode");
    let want_mode = "want \"ipip\" (skiff has no gre, sit or vti tunnels)";
    match &r.mode {
        None => return Err(missing(&key)),
        Some(v) if string(&key, v, want_mode)? == "ipip" => {}
        Some(v) => return Err(bad(&key, show(v), want_mode)),
    }
    let key = format!("{what}.remote");
    let remote = match &r.remote {
        None => return Err(missing(&key)),
        Some(v) => parse_gateway(&key, string(&key, v, "want A.B.C.D")?)?,
    };
    let local = match &r.local {
        None => Ipv4Addr::UNSPECIFIED,
        Some(v) => {
            let key = format!("{what}.local");
            let s = string(&key, v, "want A.B.C.D or \"any\"")?;
            if s == "any" {
                Ipv4Addr::UNSPECIFIED
            } else {
                parse_gateway(&key, s)?
            }
        }
    };
    let ttl = match &r.ttl {
        None => 0,
        Some(Value::String(s)) if s == "inherit" => 0,
        Some(v) => int(
            &format!("{what}.ttl"),
            v,
            "want 1..=255, or 0 or \"inherit\" for the inner packet's",
            0,
            255,
        )? as u8,
    };
    let dev = match &r.dev {
        None => None,
        Some(v) => {
            let key = format!("{what}.dev");
            let s = string(&key, v, "want an interface name")?;
            check_ifname(&key, s)?;
            Some(s.to_string())
        }
    };
    let pmtudisc = match &r.pmtudisc {
        None => true,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(&format!("{what}.pmtudisc"), show(v), "want true or false"))?,
    };
    // iproute2: "ttl != 0 and nopmtudisc are incompatible".
    if ttl != 0 && !pmtudisc {
        return Err(ConfigError(format!(
            "{what}: a ttl other than inherit needs pmtudisc = true"
        )));
    }
    Ok(Tunnel {
        name,
        local,
        remote,
        ttl,
        dev,
        pmtudisc,
        addrs: addresses(what, &r.address)?,
    })
}

fn vif(what: &str, r: RawVif) -> Result<Vif, ConfigError> {
    let key = format!("{what}.index");
    let index = match &r.index {
        None => return Err(missing(&key)),
        Some(v) => int(&key, v, WANT_VIF_INDEX, 0, MAXVIFS as i64 - 1)? as u16,
    };
    let kind = match (&r.interface, &r.tunnel) {
        (Some(v), None) => {
            let key = format!("{what}.interface");
            let s = string(&key, v, "want an interface name")?;
            check_ifname(&key, s)?;
            VifKind::Interface(s.to_string())
        }
        (None, Some(v)) => {
            let key = format!("{what}.tunnel");
            let want = "want { local = \"A.B.C.D\", remote = \"A.B.C.D\" }";
            if !v.is_table() {
                return Err(bad(&key, show(v), want));
            }
            let t = RawTunnel::deserialize(v.clone()).map_err(|e| inline_err(&key, &e))?;
            let addr = |name: &str, v: &Option<Value>| {
                let key = format!("{key}.{name}");
                let v = v.as_ref().ok_or_else(|| missing(&key))?;
                parse_gateway(&key, string(&key, v, "want A.B.C.D")?)
            };
            VifKind::Tunnel {
                local: addr("local", &t.local)?,
                remote: addr("remote", &t.remote)?,
            }
        }
        (None, None) => {
            return Err(ConfigError(format!(
                "{what}: want interface = \"NAME\" or tunnel = {{ local = .., remote = .. }}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError(format!(
                "{what}: interface and tunnel exclude each other"
            )));
        }
    };
    let threshold = match &r.threshold {
        None => 1,
        Some(v) => int(&format!("{what}.threshold"), v, WANT_THRESHOLD, 0, 255)? as u8,
    };
    Ok(Vif {
        index,
        kind,
        threshold,
    })
}

/// A vif named by its index or its interface's name.
fn vif_ref(key: &str, v: &Value, vifs: &[Vif]) -> Result<u16, ConfigError> {
    let found = match v {
        Value::Integer(n) => vifs.iter().find(|f| i64::from(f.index) == *n),
        Value::String(s) => vifs
            .iter()
            .find(|f| f.kind == VifKind::Interface(s.clone())),
        _ => return Err(bad(key, show(v), WANT_VIF_REF)),
    };
    found.map(|f| f.index).ok_or_else(|| {
        let known: Vec<String> = vifs
            .iter()
            .map(|f| match &f.kind {
                VifKind::Interface(n) => format!("{} ({n})", f.index),
                VifKind::Tunnel { .. } => format!("{} (tunnel)", f.index),
            })
            .collect();
        let want = if known.is_empty() {
            "no [[vif]] is configured".to_string()
        } else {
            format!("want a configured vif: {}", known.join(", "))
        };
        bad(key, show(v), &want)
    })
}

fn mroute(what: &str, r: RawMRoute, vifs: &[Vif]) -> Result<MRoute, ConfigError> {
    let key = format!("{what}.source");
    let want = "want a unicast A.B.C.D, or \"*\" for any source";
    let source = match &r.source {
        None => return Err(missing(&key)),
        Some(v) => match string(&key, v, want)? {
            "*" => Ipv4Addr::UNSPECIFIED,
            s => parse_gateway(&key, s).map_err(|_| bad(&key, show(v), want))?,
        },
    };
    let key = format!("{what}.group");
    let want = "want a multicast A.B.C.D outside 224.0.0.0/24";
    let group = match &r.group {
        None => return Err(missing(&key)),
        Some(v) => {
            let g: Ipv4Addr = string(&key, v, want)?
                .parse()
                .map_err(|_| bad(&key, show(v), want))?;
            // Linux ipv4_is_local_multicast(): link-local groups are never forwarded.
            if !g.is_multicast() || g.octets()[..3] == [224, 0, 0] {
                return Err(bad(&key, show(v), want));
            }
            g
        }
    };
    let key = format!("{what}.iif");
    let iif = match &r.iif {
        None => return Err(missing(&key)),
        Some(v) => vif_ref(&key, v, vifs)?,
    };
    let key = format!("{what}.oifs");
    let want = "want a list of vifs: an index, an interface name or { vif = .., ttl = N }";
    let list = match &r.oifs {
        None => return Err(missing(&key)),
        Some(Value::Array(list)) => list,
        Some(v) => return Err(bad(&key, show(v), want)),
    };
    let mut oifs: Vec<(u16, u8)> = Vec::new();
    for (j, v) in list.iter().enumerate() {
        let key = format!("{key}[{j}]");
        let (vif, ttl) = match v {
            Value::Table(_) => {
                let o = RawOif::deserialize(v.clone()).map_err(|e| inline_err(&key, &e))?;
                let vkey = format!("{key}.vif");
                let vif = match &o.vif {
                    None => return Err(missing(&vkey)),
                    Some(v) => vif_ref(&vkey, v, vifs)?,
                };
                let ttl = match &o.ttl {
                    None => 1,
                    Some(v) => int(&format!("{key}.ttl"), v, WANT_OIF_TTL, 1, 254)? as u8,
                };
                (vif, ttl)
            }
            _ => (vif_ref(&key, v, vifs)?, 1),
        };
        if oifs.iter().any(|&(o, _)| o == vif) {
            return Err(bad(&key, show(v), "want each vif once"));
        }
        // Linux ip_mr_forward(): an (S,G) entry never sends back out of its iif.
        if vif == iif && !source.is_unspecified() {
            return Err(bad(
                &key,
                show(v),
                "the iif of an (S,G) entry is not an output vif",
            ));
        }
        oifs.push((vif, ttl));
    }
    Ok(MRoute {
        source,
        group,
        iif,
        oifs,
    })
}

/// An unknown key in an inline table, by its path.
fn inline_err(key: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message();
    match msg
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some((k, tail)) => ConfigError(format!(
            "unknown key {} in {key} ({})",
            quote(k),
            tail.trim_start_matches(", ").trim()
        )),
        None => ConfigError(format!("{key}: {msg}")),
    }
}

/// Linux net/core/dev.c dev_valid_name().
fn check_ifname(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name.len() >= IFNAMSIZ
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return Err(bad(
            key,
            quote(name),
            "want 1 to 15 bytes, no '/', ':' or whitespace, not \".\" or \"..\"",
        ));
    }
    Ok(())
}

fn check_ctl_path(key: &str, path: &Path) -> Result<(), ConfigError> {
    let len = path.as_os_str().len();
    if len == 0 || len >= SUN_PATH_MAX {
        return Err(bad(
            key,
            quote(&path.display().to_string()),
            "want a socket path of 1 to 107 bytes",
        ));
    }
    Ok(())
}

/// A local address: `A.B.C.D/P`, neither 0.0.0.0, multicast nor 255.255.255.255.
fn parse_ifaddr(key: &str, s: &str) -> Result<(Ipv4Addr, u8), ConfigError> {
    let (a, p) = parse_cidr(s).ok_or_else(|| bad(key, quote(s), WANT_CIDR))?;
    if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
        return Err(bad(key, quote(s), "want a unicast address"));
    }
    Ok((a, p))
}

/// A next hop: `A.B.C.D`, unicast.
fn parse_gateway(key: &str, s: &str) -> Result<Ipv4Addr, ConfigError> {
    match s.parse::<Ipv4Addr>() {
        Ok(a) if !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()) => Ok(a),
        Ok(_) => Err(bad(key, quote(s), "want a unicast address")),
        Err(_) => Err(bad(key, quote(s), "want A.B.C.D")),
    }
}

/// `A.B.C.D/P` with P <= 32.
fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p = parse_u32_text(p).filter(|&p| p <= 32)?;
    Some((a.parse().ok()?, p as u8))
}

/// Decimal digits only (no sign, no spaces).
fn parse_u32_text(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Six bytes of one or two hex digits separated by ':'; a valid unicast address as Linux
/// is_valid_ether_addr() (not multicast, not zero).
fn parse_mac(s: &str) -> Option<EthernetAddress> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(part, 16).ok()?;
    }
    let mac = EthernetAddress(mac);
    (parts.next().is_none() && mac.is_unicast() && mac.0 != [0; 6]).then_some(mac)
}

fn mask(a: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let m = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & m)
}

fn string<'a>(key: &str, v: &'a Value, want: &str) -> Result<&'a str, ConfigError> {
    v.as_str().ok_or_else(|| bad(key, show(v), want))
}

fn int(key: &str, v: &Value, want: &str, lo: i64, hi: i64) -> Result<i64, ConfigError> {
    v.as_integer()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| bad(key, show(v), want))
}

fn bad(key: &str, value: impl fmt::Display, want: &str) -> ConfigError {
    ConfigError(format!("{key}: bad value {value} ({want})"))
}

fn missing(key: &str) -> ConfigError {
    ConfigError(format!("{key}: missing"))
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// A value as it would be written in the file.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The line of `key` in the table whose header (or inline table) is `span`: the first line
/// after the header that starts with the key, before the next header; else the header's.
fn key_line(text: &str, span: std::ops::Range<usize>, key: &str) -> usize {
    let (header, _) = line_col(text, span.start);
    let quoted = quote(key);
    text.get(span.end..)
        .unwrap_or("")
        .lines()
        .enumerate()
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            let l = l.trim_start();
            [key, quoted.as_str()].iter().any(|k| {
                l.strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with([' ', '\t', '=', '.']))
            })
        })
        .map_or(header, |(n, _)| header + n)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = include_str!("../../../examples/host.toml");
    const ROUTER: &str = include_str!("../../../examples/router.toml");
    const MROUTER: &str = include_str!("../../../examples/mrouter.toml");

    fn err(text: &str) -> String {
        match Config::from_toml(text) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn args_err(args: &UpArgs) -> String {
        match Config::from_args(args) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn iface(extra: &str) -> String {
        format!("[[interface]]\nname = \"tap0\"\naddress = \"10.0.0.2/24\"\n{extra}\n")
    }

    #[test]
    fn host_example() {
        let c = Config::from_toml(HOST).unwrap();
        assert_eq!(c.interfaces.len(), 1);
        let i = &c.interfaces[0];
        assert_eq!(i.name, "tap0");
        assert_eq!(i.kind, IfKind::Tap);
        assert_eq!(i.addrs, vec![(Ipv4Addr::new(10, 0, 0, 2), 24)]);
        assert_eq!(i.mtu, 1500);
        assert!(i.offload);
        assert_eq!(
            c.routes,
            vec![Route {
                via: Some(Ipv4Addr::new(10, 0, 0, 1)),
                ..Route::new(Ipv4Addr::UNSPECIFIED, 0)
            }]
        );
        assert_eq!(c.udp_echo, vec!["0.0.0.0:7".parse().unwrap()]);
        assert_eq!(c.ctl, Some(PathBuf::from("/run/skiff/tap0.sock")));
        assert_eq!(c.rules, "");
    }

    #[test]
    fn router_example() {
        let c = Config::from_toml(ROUTER).unwrap();
        let names: Vec<_> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["tapa", "tapb"]);
        assert_eq!(
            c.interfaces[0].addrs,
            vec![(Ipv4Addr::new(10, 1, 0, 2), 24)]
        );
        assert_eq!(c.interfaces[0].mtu, 1500);
        assert_eq!(
            c.interfaces[1].addrs,
            vec![(Ipv4Addr::new(10, 2, 0, 2), 24)]
        );
        assert_eq!(c.interfaces[1].mtu, 1280);
        assert!(c.sysctl.contains(&("ip_forward".into(), "1".into())));
        assert!(c.rules.contains("-A FORWARD"));
        assert!(Netfilter::new().load_rules(&c.rules).is_ok());
        assert_eq!(c.ctl, None);
    }

    #[test]
    fn mrouter_example() {
        let c = Config::from_toml(MROUTER).unwrap();
        let names: Vec<_> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["tapa", "tapb", "tapc"]);
        let vif = |index, dev: &str| Vif {
            index,
            kind: VifKind::Interface(dev.into()),
            threshold: 1,
        };
        assert_eq!(c.vifs, vec![vif(0, "tapa"), vif(1, "tapb"), vif(2, "tapc")]);
        assert_eq!(
            c.mroutes,
            vec![
                MRoute {
                    source: Ipv4Addr::new(10, 1, 0, 1),
                    group: Ipv4Addr::new(239, 1, 1, 1),
                    iif: 0,
                    oifs: vec![(1, 1), (2, 16)],
                },
                MRoute {
                    source: Ipv4Addr::UNSPECIFIED,
                    group: Ipv4Addr::new(239, 2, 2, 2),
                    iif: 0,
                    oifs: vec![(1, 1), (2, 1)],
                }
            ]
        );
        // The stack takes them through the mroute socket.
        let (s, _, _) = crate::up::build_stack(&c).unwrap();
        assert_eq!(
            s.render_ip_mr_cache(),
            "Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n\
             010101EF 0100010A 0          0        0        0  1:1    2:16 \n\
             020202EF 00000000 0          0        0        0  1:1    2:1  \n"
        );
        assert_eq!(s.render_ip_mr_vif().lines().count(), 4);
        assert_eq!(
            s.sysctl_value("net.ipv4.conf.tapb.mc_forwarding").unwrap(),
            "1"
        );
    }

    #[test]
    fn ipip_tunnels_are_made_addressed_and_routed() {
        let text = format!(
            "{}{}",
            iface(""),
            r#"
[[tunnel]]
name = "tun0"
mode = "ipip"
local = "10.0.0.2"
remote = "10.0.0.9"
ttl = 0
address = "192.168.100.1/30"

[[tunnel]]
name = "tun1"
mode = "ipip"
remote = "10.0.0.10"
ttl = 40
dev = "tap0"

[[route]]
to = "172.16.0.0/16"
dev = "tun0"
"#
        );
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(
            c.tunnels[0],
            Tunnel {
                name: "tun0".into(),
                local: Ipv4Addr::new(10, 0, 0, 2),
                remote: Ipv4Addr::new(10, 0, 0, 9),
                ttl: 0,
                dev: None,
                pmtudisc: true,
                addrs: vec![(Ipv4Addr::new(192, 168, 100, 1), 30)],
            }
        );
        assert_eq!(
            (c.tunnels[1].local, c.tunnels[1].ttl),
            (Ipv4Addr::UNSPECIFIED, 40)
        );
        let (s, _, _) = crate::up::build_stack(&c).unwrap();
        let tun0 = s.dev_by_name("tun0").unwrap();
        assert!(tun0.up);
        assert_eq!(tun0.mtu, 1480);
        let t = s.ip_tunnel(tun0.ifindex).unwrap();
        assert_eq!(
            (t.local, t.remote),
            (c.tunnels[0].local, c.tunnels[0].remote)
        );
        let tap0 = s.dev_by_name("tap0").unwrap().ifindex;
        assert_eq!(s.ip_tunnels().nth(1).unwrap().link, tap0);
        assert!(s.render_link().contains("link/ipip 10.0.0.2 peer 10.0.0.9"));

        let tunnel = |extra: &str| {
            format!(
                "{}[[tunnel]]\nname = \"tun0\"\nremote = \"10.0.0.9\"\n{extra}\n",
                iface("")
            )
        };
        assert_eq!(
            err(&tunnel("mode = \"gre\"")),
            "tunnel[0].mode: bad value \"gre\" (want \"ipip\" (skiff has no gre, sit or vti tunnels))"
        );
        assert_eq!(err(&tunnel("")), "tunnel[0].mode: missing");
        assert!(
            err(&tunnel("mode = \"ipip\"\nttl = 256")).starts_with("tunnel[0].ttl: bad value 256")
        );
        assert_eq!(
            err(&tunnel("mode = \"ipip\"\nttl = 9\npmtudisc = false")),
            "tunnel[0]: a ttl other than inherit needs pmtudisc = true"
        );
        assert!(
            err(&tunnel("mode = \"ipip\"\ndev = \"tap9\""))
                .starts_with("tunnel[0].dev: bad value \"tap9\"")
        );
        let twice = format!(
            "{}[[tunnel]]\nname = \"tun1\"\nmode = \"ipip\"\nremote = \"10.0.0.9\"\n",
            tunnel("mode = \"ipip\"")
        );
        assert!(err(&twice).contains("EEXIST"), "{}", err(&twice));
        let named_tap0 = tunnel("mode = \"ipip\"").replace("name = \"tun0\"", "name = \"tap0\"");
        assert!(err(&named_tap0).contains("already the name of interface[0]"));
    }

    #[test]
    fn vifs_tunnels_and_the_tap_flag() {
        let text = r#"
[[interface]]
name = "tap0"
address = "10.0.0.2/24"

[[interface]]
name = "tap1"
address = "10.5.0.2/24"

[[vif]]
index = 4
interface = "tap0"
threshold = 0

[[vif]]
index = 31
tunnel = { local = "10.5.0.2", remote = "192.0.2.1" }
threshold = 255

[[vif]]
index = 0
interface = "tap1"

[[mroute]]
source = "10.0.0.1"
group = "232.1.2.3"
iif = 4
oifs = [31, { vif = "tap1", ttl = 254 }]

[[mroute]]
source = "*"
group = "239.9.9.9"
iif = "tap0"
oifs = []
"#;
        let c = Config::from_toml(text).unwrap();
        assert_eq!(
            c.vifs[1],
            Vif {
                index: 31,
                kind: VifKind::Tunnel {
                    local: Ipv4Addr::new(10, 5, 0, 2),
                    remote: Ipv4Addr::new(192, 0, 2, 1),
                },
                threshold: 255,
            }
        );
        assert_eq!(c.vifs[0].threshold, 0);
        assert_eq!(c.mroutes[0].oifs, vec![(31, 1), (0, 254)]);
        assert!(c.mroutes[1].oifs.is_empty());
        assert_eq!(c.mroutes[1].iif, 4);
        // --tap renames the first interface; its vif follows.
        let path = temp_file("vif.toml", text);
        let c = Config::from_args(&UpArgs {
            config: Some(path.clone()),
            tap: Some("tapx".into()),
            ..Default::default()
        });
        std::fs::remove_file(&path).unwrap();
        assert_eq!(c.unwrap().vifs[0].kind, VifKind::Interface("tapx".into()));
    }

    #[test]
    fn mroute_errors_name_key_and_value() {
        let vifs = "[[vif]]\nindex = 0\ninterface = \"tap0\"\n[[vif]]\nindex = 1\n\
                    tunnel = { local = \"10.0.0.2\", remote = \"192.0.2.1\" }\n";
        let cases: &[(&str, &str)] = &[
            ("[[vif]]\ninterface = \"tap0\"\n", "vif[0].index: missing"),
            (
                "[[vif]]\nindex = 32\ninterface = \"tap0\"\n",
                "vif[0].index: bad value 32 (want an integer in 0..=31)",
            ),
            (
                "[[vif]]\nindex = -1\ninterface = \"tap0\"\n",
                "vif[0].index: bad value -1 (want",
            ),
            (
                "[[vif]]\nindex = 0\n",
                "vif[0]: want interface = \"NAME\" or tunnel",
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"tap0\"\ntunnel = { local = \"10.0.0.2\", remote = \"10.9.0.1\" }\n",
                "vif[0]: interface and tunnel exclude each other",
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"tap9\"\n",
                r#"vif[0].interface: bad value "tap9" (want a configured interface: tap0)"#,
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"a/b\"\n",
                r#"vif[0].interface: bad value "a/b" (want 1 to 15 bytes"#,
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"tap0\"\n[[vif]]\nindex = 0\ninterface = \"tap0\"\n",
                "vif[1].index: bad value 0 (already the index of vif[0])",
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"tap0\"\n[[vif]]\nindex = 1\ninterface = \"tap0\"\n",
                r#"vif[1].interface: bad value "tap0" (already the interface of vif[0])"#,
            ),
            (
                "[[vif]]\nindex = 0\ninterface = \"tap0\"\nthreshold = 256\n",
                "vif[0].threshold: bad value 256 (want an integer in 0..=255)",
            ),
            (
                "[[vif]]\nindex = 0\ntunnel = \"10.0.0.2\"\n",
                r#"vif[0].tunnel: bad value "10.0.0.2" (want { local"#,
            ),
            (
                "[[vif]]\nindex = 0\ntunnel = { local = \"10.0.0.2\" }\n",
                "vif[0].tunnel.remote: missing",
            ),
            (
                "[[vif]]\nindex = 0\ntunnel = { local = \"10.0.0\", remote = \"192.0.2.1\" }\n",
                r#"vif[0].tunnel.local: bad value "10.0.0" (want A.B.C.D)"#,
            ),
            (
                "[[vif]]\nindex = 0\ntunnel = { local = \"10.0.0.2\", remote = \"224.0.0.1\" }\n",
                r#"vif[0].tunnel.remote: bad value "224.0.0.1" (want a unicast address)"#,
            ),
            (
                "[[vif]]\nindex = 0\ntunnel = { local = \"10.0.0.2\", remote = \"192.0.2.1\", ttl = 1 }\n",
                r#"unknown key "ttl" in vif[0].tunnel (expected"#,
            ),
            (
                "[[mroute]]\ngroup = \"239.1.1.1\"\niif = 0\noifs = []\n",
                "mroute[0].source: missing",
            ),
            (
                "[[mroute]]\nsource = \"239.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = []\n",
                r#"mroute[0].source: bad value "239.0.0.1" (want a unicast A.B.C.D, or "*" for any source)"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\niif = 0\noifs = []\n",
                "mroute[0].group: missing",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"10.1.1.1\"\niif = 0\noifs = []\n",
                r#"mroute[0].group: bad value "10.1.1.1" (want a multicast A.B.C.D outside 224.0.0.0/24)"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"224.0.0.9\"\niif = 0\noifs = []\n",
                r#"mroute[0].group: bad value "224.0.0.9" (want a multicast"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\noifs = []\n",
                "mroute[0].iif: missing",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 7\noifs = []\n",
                "mroute[0].iif: bad value 7 (want a configured vif: 0 (tap0), 1 (tunnel))",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = \"tap9\"\noifs = []\n",
                r#"mroute[0].iif: bad value "tap9" (want a configured vif"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 1.5\noifs = []\n",
                "mroute[0].iif: bad value 1.5 (want a vif index or the interface name",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\n",
                "mroute[0].oifs: missing",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = 1\n",
                "mroute[0].oifs: bad value 1 (want a list of vifs",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [1, 1]\n",
                "mroute[0].oifs[1]: bad value 1 (want each vif once)",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [\"tap0\"]\n",
                r#"mroute[0].oifs[0]: bad value "tap0" (the iif of an (S,G) entry is not an output vif)"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [{ vif = 1, ttl = 255 }]\n",
                "mroute[0].oifs[0].ttl: bad value 255 (want an integer in 1..=254)",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [{ vif = 1, ttl = 0 }]\n",
                "mroute[0].oifs[0].ttl: bad value 0 (want",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [{ ttl = 2 }]\n",
                "mroute[0].oifs[0].vif: missing",
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [{ vif = 1, tll = 2 }]\n",
                r#"unknown key "tll" in mroute[0].oifs[0] (expected"#,
            ),
            (
                "[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = [1]\n\
                 [[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 1\noifs = []\n",
                r#"mroute[1].group: bad value "239.1.1.1" (mroute[0] has the same source and group)"#,
            ),
        ];
        for (text, want) in cases {
            let with_vifs = !text.starts_with("[[vif]]");
            let text = format!("{}{}{text}", iface(""), if with_vifs { vifs } else { "" });
            let e = err(&text);
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
        // Without any [[vif]].
        let e = err(&format!(
            "{}[[mroute]]\nsource = \"10.0.0.1\"\ngroup = \"239.1.1.1\"\niif = 0\noifs = []\n",
            iface("")
        ));
        assert_eq!(e, "mroute[0].iif: bad value 0 (no [[vif]] is configured)");
        let e = err(&format!(
            "{}[[vif]]\nindex = 0\nifname = \"tap0\"\n",
            iface("")
        ));
        assert!(
            e.starts_with("unknown key \"ifname\" in vif[0] (line 7,"),
            "{e}"
        );
        let e = err(&format!("{}[[mroute]]\nsrc = \"10.0.0.1\"\n", iface("")));
        assert!(
            e.starts_with("unknown key \"src\" in mroute[0] (line 6,"),
            "{e}"
        );
    }

    #[test]
    fn flags_only() {
        let c = Config::from_args(&UpArgs {
            tap: Some("tap7".into()),
            addr: Some("192.168.7.2/24".into()),
            gateway: Some("192.168.7.1".into()),
            mtu: Some("9000".into()),
            mac: Some("02:00:00:00:00:07".into()),
            no_offload: true,
            forward: true,
            udp_echo: vec!["7".into(), "9".into()],
            sysctl: vec!["ipfrag_time=5".into(), "net.ipv4.ip_default_ttl=32".into()],
            ctl: Some("/tmp/s.sock".into()),
            pcap: Some("/tmp/x.pcap".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.interfaces,
            vec![Interface {
                name: "tap7".into(),
                kind: IfKind::Tap,
                addrs: vec![(Ipv4Addr::new(192, 168, 7, 2), 24)],
                mtu: 9000,
                mac: Some(EthernetAddress([2, 0, 0, 0, 0, 7])),
                offload: false,
                queues: 1,
            }]
        );
        assert_eq!(
            c.routes,
            vec![Route {
                via: Some(Ipv4Addr::new(192, 168, 7, 1)),
                ..Route::new(Ipv4Addr::UNSPECIFIED, 0)
            }]
        );
        let sysctl: Vec<(&str, &str)> = c
            .sysctl
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sysctl,
            [
                ("ip_forward", "1"),
                ("ipfrag_time", "5"),
                ("net.ipv4.ip_default_ttl", "32")
            ]
        );
        assert_eq!(
            c.udp_echo,
            vec!["0.0.0.0:7".parse().unwrap(), "0.0.0.0:9".parse().unwrap()]
        );
        assert_eq!(c.ctl, Some(PathBuf::from("/tmp/s.sock")));
        assert_eq!(c.pcap, Some(PathBuf::from("/tmp/x.pcap")));
        // The minimum.
        let c = Config::from_args(&UpArgs {
            tap: Some("tap0".into()),
            addr: Some("10.0.0.2/24".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.interfaces, {
            let mut i = Interface::new("tap0".into());
            i.addrs = vec![(Ipv4Addr::new(10, 0, 0, 2), 24)];
            vec![i]
        });
        assert!(c.routes.is_empty() && c.sysctl.is_empty() && c.udp_echo.is_empty());
        assert_eq!((c.ctl, c.pcap), (None, None));
    }

    #[test]
    fn flags_need_tap_and_addr_without_config() {
        let e = args_err(&UpArgs::default());
        assert!(
            e.contains("--tap NAME and --addr A.B.C.D/P are required"),
            "{e}"
        );
        let e = args_err(&UpArgs {
            tap: Some("tap0".into()),
            ..Default::default()
        });
        assert!(
            e.contains("--addr A.B.C.D/P is required without --config"),
            "{e}"
        );
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("skiff-config-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn flags_override_file() {
        let text = r#"
[sysctl]
ipfrag_time = 30

[[interface]]
name = "tap0"
address = ["10.0.0.2/24", "10.0.1.2/24"]
mtu = 1400

[[interface]]
name = "tap1"
address = "10.5.0.2/24"

[[route]]
to = "10.9.0.0/16"
via = "10.0.0.1"
dev = "tap0"

[[route]]
to = "default"
via = "10.0.0.254"
dev = "tap0"

[[udp_echo]]
port = 7
address = "10.0.0.2"

[ctl]
path = "/tmp/file.sock"
"#;
        let path = temp_file("override.toml", text);
        let base = Config::from_args(&UpArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(base, Config::from_toml(text).unwrap());
        let c = Config::from_args(&UpArgs {
            config: Some(path.clone()),
            tap: Some("tapx".into()),
            addr: Some("172.16.0.2/16".into()),
            gateway: Some("172.16.0.1".into()),
            mtu: Some("1280".into()),
            mac: Some("2:0:0:0:0:a".into()),
            no_offload: true,
            forward: true,
            udp_echo: vec!["9".into()],
            sysctl: vec!["ip_default_ttl = 9".into()],
            ctl: Some("/tmp/flag.sock".into()),
            pcap: Some("/tmp/flag.pcap".into()),
        })
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        let i = &c.interfaces[0];
        assert_eq!(i.name, "tapx");
        assert_eq!(i.addrs, vec![(Ipv4Addr::new(172, 16, 0, 2), 16)]);
        assert_eq!(i.mtu, 1280);
        assert_eq!(i.mac, Some(EthernetAddress([2, 0, 0, 0, 0, 0xa])));
        assert!(!i.offload);
        // --no-offload is for every interface; the rest of the second is the file's.
        assert!(!c.interfaces[1].offload);
        assert_eq!(
            c.interfaces[1],
            Interface {
                offload: false,
                ..base.interfaces[1].clone()
            }
        );
        // The renamed interface's routes follow it; the default route is replaced in place.
        assert_eq!(c.routes[0].dev.as_deref(), Some("tapx"));
        assert_eq!(
            c.routes[1],
            Route {
                via: Some(Ipv4Addr::new(172, 16, 0, 1)),
                ..Route::new(Ipv4Addr::UNSPECIFIED, 0)
            }
        );
        assert_eq!(c.routes.len(), 2);
        assert_eq!(
            c.sysctl,
            vec![
                ("ipfrag_time".into(), "30".into()),
                ("ip_forward".into(), "1".into()),
                ("ip_default_ttl".into(), "9".into())
            ]
        );
        assert_eq!(
            c.udp_echo,
            vec!["10.0.0.2:7".parse().unwrap(), "0.0.0.0:9".parse().unwrap()]
        );
        assert_eq!(c.ctl, Some(PathBuf::from("/tmp/flag.sock")));
        assert_eq!(c.pcap, Some(PathBuf::from("/tmp/flag.pcap")));
    }

    #[test]
    fn tap_flag_creates_the_interface() {
        let path = temp_file("noif.toml", "[sysctl]\nip_forward = 1\n");
        let e = args_err(&UpArgs {
            config: Some(path.clone()),
            ..Default::default()
        });
        assert!(e.contains("no interface configured"), "{e}");
        let e = args_err(&UpArgs {
            config: Some(path.clone()),
            addr: Some("10.0.0.2/24".into()),
            ..Default::default()
        });
        assert!(e.contains("--addr: no interface"), "{e}");
        let c = Config::from_args(&UpArgs {
            config: Some(path.clone()),
            tap: Some("tap3".into()),
            addr: Some("10.0.0.2/24".into()),
            ..Default::default()
        })
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(c.interfaces.len(), 1);
        assert_eq!(c.interfaces[0].name, "tap3");
        assert_eq!(c.sysctl, vec![("ip_forward".into(), "1".into())]);
    }

    #[test]
    fn config_file_errors_name_the_file() {
        let e = args_err(&UpArgs {
            config: Some("/nonexistent/skiff.toml".into()),
            ..Default::default()
        });
        assert!(
            e.starts_with("--config: cannot read \"/nonexistent/skiff.toml\""),
            "{e}"
        );
        let path = temp_file("bad.toml", &iface("mtu = 10"));
        let e = args_err(&UpArgs {
            config: Some(path.clone()),
            ..Default::default()
        });
        std::fs::remove_file(&path).unwrap();
        assert!(
            e.ends_with("interface[0].mtu: bad value 10 (want an integer in 68..=65535)"),
            "{e}"
        );
    }

    #[test]
    fn address_list_and_default_route() {
        let c = Config::from_toml(
            r#"
[[interface]]
name = "tun0"
kind = "tun"
address = ["10.0.0.2/24", "192.168.1.1/32"]
offload = false

[[route]]
to = "default"
dev = "tun0"
metric = 100
mtu = 1400

[[route]]
to = "10.8.0.0/16"
type = "blackhole"

[[route]]
to = "10.7.0.1"
type = "unreachable"
"#,
        )
        .unwrap();
        let i = &c.interfaces[0];
        assert_eq!(i.kind, IfKind::Tun);
        assert!(!i.offload);
        assert_eq!(
            i.addrs,
            vec![
                (Ipv4Addr::new(10, 0, 0, 2), 24),
                (Ipv4Addr::new(192, 168, 1, 1), 32)
            ]
        );
        assert_eq!(
            c.routes[0],
            Route {
                dev: Some("tun0".into()),
                metric: 100,
                mtu: Some(1400),
                ..Route::new(Ipv4Addr::UNSPECIFIED, 0)
            }
        );
        assert_eq!(c.routes[1].rtype, RouteType::Blackhole);
        assert_eq!(
            (c.routes[1].dst, c.routes[1].prefix_len),
            (Ipv4Addr::new(10, 8, 0, 0), 16)
        );
        assert_eq!(c.routes[2].rtype, RouteType::Unreachable);
        assert_eq!(c.routes[2].prefix_len, 32);
    }

    #[test]
    fn every_route_type_name() {
        for t in ROUTE_TYPES {
            let text = format!(
                "{}[[route]]\nto = \"10.9.0.0/16\"\ntype = \"{}\"\n",
                iface(""),
                t.name()
            );
            assert_eq!(Config::from_toml(&text).unwrap().routes[0].rtype, t);
        }
    }

    #[test]
    fn sysctl_order_values_and_dotted_names() {
        let c = Config::from_toml(&format!(
            "pcap = \"/tmp/a.pcap\"\n[sysctl]\nipfrag_time = 30\nip_forward = 1\n\
             ip_local_port_range = \"1024 2048\"\nnet.ipv4.ip_default_ttl = 32\n\
             \"net.ipv4.icmp_ratelimit\" = -1\n{}",
            iface("")
        ))
        .unwrap();
        let s: Vec<(&str, &str)> = c
            .sysctl
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                ("ipfrag_time", "30"),
                ("ip_forward", "1"),
                ("ip_local_port_range", "1024 2048"),
                ("net.ipv4.ip_default_ttl", "32"),
                ("net.ipv4.icmp_ratelimit", "-1"),
            ]
        );
        assert_eq!(c.pcap, Some(PathBuf::from("/tmp/a.pcap")));
        let e = err(&format!("[sysctl]\nip_forward = true\n{}", iface("")));
        assert_eq!(
            e,
            "sysctl.ip_forward: bad value true (want an integer or a string)"
        );
    }

    #[test]
    fn rules_join_in_order() {
        let c = Config::from_toml(&format!(
            "{}[[rule]]\niptables = \"-P FORWARD DROP\"\n\
             [[rule]]\niptables = \"-A INPUT -p udp --dport 9 -j DROP\"\n",
            iface("")
        ))
        .unwrap();
        assert_eq!(
            c.rules,
            "-P FORWARD DROP\n-A INPUT -p udp --dport 9 -j DROP"
        );
        let e = err(&format!(
            "{}[[rule]]\niptables = \"-P FORWARD DROP\"\n[[rule]]\niptables = \"-A NOPE -j DROP\"\n",
            iface("")
        ));
        assert!(
            e.starts_with("rule[1].iptables: bad value \"-A NOPE -j DROP\" ("),
            "{e}"
        );
        let e = err(&format!(
            "{}[[rule]]\niptables = \"-P INPUT DROP\\n-P FORWARD DROP\"\n",
            iface("")
        ));
        assert!(e.starts_with("rule[0].iptables: bad value"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = err(&iface("mttu = 1400"));
        assert!(
            e.starts_with("unknown key \"mttu\" in interface[0] (line 4, expected"),
            "{e}"
        );
        let e = err(&format!(
            "{}[[route]]\nto = \"default\"\ngateway = \"10.0.0.1\"\n",
            iface("")
        ));
        assert!(
            e.starts_with("unknown key \"gateway\" in route[0] (line 7,"),
            "{e}"
        );
        let e = err(&format!(
            "route = [{{ to = \"default\", gw = 1 }}]\n{}",
            iface("")
        ));
        assert!(
            e.starts_with("unknown key \"gw\" in route[0] (line 1,"),
            "{e}"
        );
        let e = err(
            "[[interface]]\nname = \"tap0\"\n[[interface]]\n\"name\" = \"tap1\"\n\"x y\" = 1\n",
        );
        assert!(
            e.starts_with("unknown key \"x y\" in interface[1] (line 5,"),
            "{e}"
        );
        let e = err(&format!(
            "{}[ctl]\npath = \"/tmp/s\"\nmode = 1\n",
            iface("")
        ));
        assert!(e.starts_with("unknown key \"mode\" in ctl"), "{e}");
        let e = err(&format!(
            "{}[[udp_echo]]\nport = 7\nproto = \"udp\"\n",
            iface("")
        ));
        assert!(e.starts_with("unknown key \"proto\" in udp_echo[0]"), "{e}");
        let e = err(&format!(
            "{}[[rule]]\nrule = \"-P INPUT DROP\"\n",
            iface("")
        ));
        assert!(e.starts_with("unknown key \"rule\" in rule[0]"), "{e}");
        let e = err(&format!("verbose = true\n{}", iface("")));
        assert!(e.contains("line 1") && e.contains("`verbose`"), "{e}");
        let e = err(&format!("{}[[interfaces]]\nname = \"x\"\n", iface("")));
        assert!(e.contains("line 5") && e.contains("`interfaces`"), "{e}");
    }

    #[test]
    fn toml_syntax_errors_name_the_line() {
        let e = err("[[interface]]\nname = \"tap0\nmtu = 1\n");
        assert!(e.starts_with("TOML: line 2"), "{e}");
        let e = err("[[interface]]\nname = \"tap0\"\nname = \"tap1\"\n");
        assert!(e.starts_with("TOML: line 3"), "{e}");
    }

    #[test]
    fn file_errors_name_key_and_value() {
        let cases: &[(&str, &str)] = &[
            (
                "[[interface]]\nname = \"tap0\"\naddress = \"10.0.0.1/33\"\n",
                r#"interface[0].address: bad value "10.0.0.1/33" (want A.B.C.D/P, P <= 32)"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\naddress = [\"10.0.0.1/24\", \"10.0.0\"]\n",
                r#"interface[0].address[1]: bad value "10.0.0" (want A.B.C.D/P, P <= 32)"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\naddress = [\"10.0.0.1/24\", \"10.0.0.1/24\"]\n",
                r#"interface[0].address[1]: bad value "10.0.0.1/24" (want each address once)"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\naddress = \"224.0.0.1/24\"\n",
                r#"interface[0].address: bad value "224.0.0.1/24" (want a unicast address)"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\naddress = 10\n",
                "interface[0].address: bad value 10 (want A.B.C.D/P, P <= 32)",
            ),
            (
                "[[interface]]\naddress = \"10.0.0.1/24\"\n",
                "interface[0].name: missing",
            ),
            (
                "[[interface]]\nname = \"\"\n",
                r#"interface[0].name: bad value "" (want 1 to 15 bytes"#,
            ),
            (
                "[[interface]]\nname = \"0123456789abcdef\"\n",
                r#"interface[0].name: bad value "0123456789abcdef" (want 1 to 15 bytes"#,
            ),
            (
                "[[interface]]\nname = \"a b\"\n",
                r#"interface[0].name: bad value "a b" (want"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\n[[interface]]\nname = \"tap0\"\n",
                r#"interface[1].name: bad value "tap0" (already the name of interface[0])"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\nkind = \"tan\"\n",
                r#"interface[0].kind: bad value "tan" (want "tap" or "tun")"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmtu = 67\n",
                "interface[0].mtu: bad value 67 (want an integer in 68..=65535)",
            ),
            (
                "[[interface]]\nname = \"tap0\"\nqueues = 0\n",
                "interface[0].queues: bad value 0 (want an integer in 1..=64)",
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmtu = 65536\n",
                "interface[0].mtu: bad value 65536 (want",
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmtu = \"1500\"\n",
                r#"interface[0].mtu: bad value "1500" (want"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmac = \"01:00:5e:00:00:01\"\n",
                r#"interface[0].mac: bad value "01:00:5e:00:00:01" (want 6 hex bytes"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmac = \"02:00:00:00:00\"\n",
                r#"interface[0].mac: bad value "02:00:00:00:00" (want"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\nmac = \"02:00:00:00:00:002\"\n",
                r#"interface[0].mac: bad value "02:00:00:00:00:002" (want"#,
            ),
            (
                "[[interface]]\nname = \"tun0\"\nkind = \"tun\"\nmac = \"02:00:00:00:00:02\"\n",
                r#"interface[0].mac: bad value "02:00:00:00:00:02" (a TUN device has no MAC address)"#,
            ),
            (
                "[[interface]]\nname = \"tap0\"\noffload = \"yes\"\n",
                r#"interface[0].offload: bad value "yes" (want true or false)"#,
            ),
            (
                "interface = [1]\n",
                "interface[0]: bad value 1 (want a table)",
            ),
            ("", "no interface configured"),
        ];
        for (text, want) in cases {
            let e = err(text);
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
    }

    #[test]
    fn route_and_service_errors_name_key_and_value() {
        let cases: &[(&str, &str)] = &[
            (
                "[[route]]\nto = \"default\"\nvia = \"10.0.0.1\"\n[[route]]\nto = \"10.1.0.0/16\"\nvia = \"x\"\n",
                r#"route[1].via: bad value "x" (want A.B.C.D)"#,
            ),
            (
                "[[route]]\nto = \"10.9.0.1/16\"\n",
                r#"route[0].to: bad value "10.9.0.1/16" (host bits set; the network is "10.9.0.0/16")"#,
            ),
            (
                "[[route]]\nto = \"10.9.0.0/40\"\n",
                r#"route[0].to: bad value "10.9.0.0/40" (want"#,
            ),
            ("[[route]]\nvia = \"10.0.0.1\"\n", "route[0].to: missing"),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\ndev = \"tap9\"\n",
                r#"route[0].dev: bad value "tap9" (want a configured interface: tap0)"#,
            ),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\ntype = \"throw\"\n",
                r#"route[0].type: bad value "throw" (want one of unicast, local"#,
            ),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\ntype = \"blackhole\"\nvia = \"10.0.0.1\"\n",
                "route[0]: a blackhole route takes no via and no dev",
            ),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\nmetric = -1\n",
                "route[0].metric: bad value -1 (want",
            ),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\nmtu = 20\n",
                "route[0].mtu: bad value 20 (want",
            ),
            (
                "[[route]]\nto = \"10.9.0.0/16\"\n[[route]]\nto = \"10.9.0.0/16\"\ntype = \"blackhole\"\n",
                r#"route[1].to: bad value "10.9.0.0/16" (route[0] has the same destination and metric 0)"#,
            ),
            (
                "[[udp_echo]]\nport = 0\n",
                "udp_echo[0].port: bad value 0 (want an integer in 1..=65535)",
            ),
            (
                "[[udp_echo]]\nport = 65536\n",
                "udp_echo[0].port: bad value 65536 (want",
            ),
            (
                "[[udp_echo]]\naddress = \"10.0.0.2\"\n",
                "udp_echo[0].port: missing",
            ),
            (
                "[[udp_echo]]\nport = 7\naddress = \"10.0.0\"\n",
                r#"udp_echo[0].address: bad value "10.0.0" (want A.B.C.D)"#,
            ),
            (
                "[[udp_echo]]\nport = 7\n[[udp_echo]]\nport = 7\naddress = \"10.0.0.2\"\n",
                "udp_echo: 10.0.0.2:7 conflicts with 0.0.0.0:7",
            ),
            ("[ctl]\n", "ctl.path: missing"),
            (
                "[ctl]\npath = \"\"\n",
                r#"ctl.path: bad value "" (want a socket path"#,
            ),
            ("[[rule]]\n", "rule[0].iptables: missing"),
        ];
        for (text, want) in cases {
            let text = format!("{}{text}", iface(""));
            let e = err(&text);
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
        let e = err(&format!("pcap = 1\n{}", iface("")));
        assert_eq!(e, "pcap: bad value 1 (want a file name)");
    }

    #[test]
    fn flag_errors_name_flag_and_value() {
        let ok = || UpArgs {
            tap: Some("tap0".into()),
            addr: Some("10.0.0.2/24".into()),
            ..Default::default()
        };
        let cases: Vec<(UpArgs, &str)> = vec![
            (
                UpArgs {
                    mac: Some("zz".into()),
                    ..ok()
                },
                r#"--mac: bad value "zz" (want"#,
            ),
            (
                UpArgs {
                    mac: Some("ff:ff:ff:ff:ff:ff".into()),
                    ..ok()
                },
                r#"--mac: bad value "ff:ff:ff:ff:ff:ff""#,
            ),
            (
                UpArgs {
                    mac: Some("00:00:00:00:00:00".into()),
                    ..ok()
                },
                r#"--mac: bad value "00:00:00:00:00:00""#,
            ),
            (
                UpArgs {
                    sysctl: vec!["ip_forward".into()],
                    ..ok()
                },
                r#"--sysctl: bad value "ip_forward" (want KEY=VALUE)"#,
            ),
            (
                UpArgs {
                    sysctl: vec!["=1".into()],
                    ..ok()
                },
                r#"--sysctl: bad value "=1" (want KEY=VALUE)"#,
            ),
            (
                UpArgs {
                    addr: Some("10.0.0.1/33".into()),
                    ..ok()
                },
                r#"--addr: bad value "10.0.0.1/33" (want A.B.C.D/P, P <= 32)"#,
            ),
            (
                UpArgs {
                    addr: Some("10.0.0.1".into()),
                    ..ok()
                },
                r#"--addr: bad value "10.0.0.1" (want A.B.C.D/P"#,
            ),
            (
                UpArgs {
                    tap: Some("".into()),
                    ..ok()
                },
                r#"--tap: bad value "" (want 1 to 15 bytes"#,
            ),
            (
                UpArgs {
                    tap: Some("a/b".into()),
                    ..ok()
                },
                r#"--tap: bad value "a/b""#,
            ),
            (
                UpArgs {
                    gateway: Some("x".into()),
                    ..ok()
                },
                r#"--gateway: bad value "x" (want A.B.C.D)"#,
            ),
            (
                UpArgs {
                    mtu: Some("+1500".into()),
                    ..ok()
                },
                r#"--mtu: bad value "+1500" (want an integer in 68..=65535)"#,
            ),
            (
                UpArgs {
                    mtu: Some("65536".into()),
                    ..ok()
                },
                r#"--mtu: bad value "65536""#,
            ),
            (
                UpArgs {
                    udp_echo: vec!["0".into()],
                    ..ok()
                },
                r#"--udp-echo: bad value "0" (want an integer in 1..=65535)"#,
            ),
            (
                UpArgs {
                    udp_echo: vec!["7".into(), "7".into()],
                    ..ok()
                },
                "udp_echo: 0.0.0.0:7 conflicts with 0.0.0.0:7",
            ),
            (
                UpArgs {
                    ctl: Some(PathBuf::from("/".repeat(108))),
                    ..ok()
                },
                "--ctl: bad value",
            ),
            (
                UpArgs {
                    pcap: Some(PathBuf::new()),
                    ..ok()
                },
                r#"--pcap: bad value """#,
            ),
        ];
        for (args, want) in &cases {
            let e = args_err(args);
            assert!(e.starts_with(want), "{args:?}\n got: {e}\nwant: {want}");
        }
    }

    #[test]
    fn no_input_panics() {
        for text in [HOST, ROUTER] {
            let bytes = text.as_bytes();
            for cut in 0..bytes.len() {
                if let Ok(s) = std::str::from_utf8(&bytes[..cut]) {
                    let _ = Config::from_toml(s);
                }
                // Break one byte at a time into a few characters that matter to TOML.
                for c in [b'"', b'[', b'\n', b'x'] {
                    let mut b = bytes.to_vec();
                    b[cut] = c;
                    if let Ok(s) = std::str::from_utf8(&b) {
                        let _ = Config::from_toml(s);
                    }
                }
            }
        }
        for s in [
            "",
            ":",
            "::::::",
            "0:0:0:0:0:0:0",
            "ff",
            "1.2.3.4/",
            "/1",
            "1.2.3.4/99999999999",
        ] {
            let _ = parse_mac(s);
            let _ = parse_cidr(s);
            let _ = parse_ifaddr("k", s);
        }
        assert_eq!(mask(Ipv4Addr::new(10, 1, 2, 3), 0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            mask(Ipv4Addr::new(10, 1, 2, 3), 32),
            Ipv4Addr::new(10, 1, 2, 3)
        );
    }
}
