//! `skiff up`: a stack on TAP devices, as a daemon, until SIGINT or SIGTERM.

use crate::config::{Config, IfKind, Tunnel, UpArgs, VifKind};
use crate::ctl;
use skiff_core::ipv4::ipip::IpTunnelParm;
use skiff_core::ipv4::mroute::{MRT_ADD_MFC, MRT_ADD_VIF, MRT_INIT, MfcCtl, VifCtl};
use skiff_core::route::FibRoute;
use skiff_core::{Stack, StackConfig};
use skiff_io::daemon::{Daemon, UdpEcho};
use skiff_io::pcap::LinkType;
use skiff_io::tap::{Tap, TapOptions};
use skiff_wire::ethernet::EthernetAddress;
use std::io::Write;
use std::path::PathBuf;

/// The stack a configuration describes: sysctls, interfaces (up, addressed), routes and
/// rules, with the ifindex of each interface in order, and its echo services bound.
pub fn build_stack(cfg: &Config) -> Result<(Stack, Vec<u32>, UdpEcho), String> {
    let name = cfg.interfaces.first().map_or("skiff", |i| i.name.as_str());
    let mut stack = Stack::new(StackConfig {
        name: name.to_string(),
        seed: seed(),
        // The internal mroute socket is a raw socket, opened as a routing daemon running
        // as root opens it.
        cap_net_raw: !cfg.vifs.is_empty() || !cfg.mroutes.is_empty(),
        ..StackConfig::default()
    });
    let mut ifindexes = Vec::new();
    for (i, iface) in cfg.interfaces.iter().enumerate() {
        let ifindex = match iface.kind {
            IfKind::Tap => {
                let mac = iface.mac.unwrap_or_else(|| random_mac(i));
                stack.add_device(&iface.name, mac, iface.mtu)
            }
            IfKind::Tun => stack.add_tun_device(&iface.name, iface.mtu),
        }
        .map_err(|e| format!("interface {}: {e}", iface.name))?;
        stack
            .set_up(ifindex, true)
            .map_err(|e| format!("interface {}: {e}", iface.name))?;
        for &(addr, plen) in &iface.addrs {
            stack
                .add_addr(ifindex, addr, plen)
                .map_err(|e| format!("interface {}: address {addr}/{plen}: {e}", iface.name))?;
        }
        ifindexes.push(ifindex);
    }
    // After the interfaces, so that `conf.DEV.forwarding` finds its device.
    for (k, v) in &cfg.sysctl {
        stack
            .set_sysctl(k, v)
            .map_err(|e| format!("sysctl {k}={v}: {e}"))?;
    }
    for t in &cfg.tunnels {
        add_tunnel(&mut stack, t)?;
    }
    for r in &cfg.routes {
        let mut route = FibRoute::new(r.dst, r.prefix_len, r.rtype);
        if let Some(gw) = r.via {
            route = route.via(gw);
        }
        if let Some(dev) = &r.dev {
            let ifindex = stack
                .dev_by_name(dev)
                .map(|d| d.ifindex)
                .ok_or_else(|| format!("route {}/{}: no device {dev}", r.dst, r.prefix_len))?;
            route = route.dev(ifindex);
        }
        route = route.metric(r.metric);
        route.mtu = r.mtu.unwrap_or(0);
        stack
            .add_route(route)
            .map_err(|e| format!("route {}/{}: {e}", r.dst, r.prefix_len))?;
    }
    stack
        .nf
        .load_rules(&cfg.rules)
        .map_err(|e| format!("rule {e}"))?;
    add_mroutes(&mut stack, cfg)?;
    let mut echo = UdpEcho::default();
    for &addr in &cfg.udp_echo {
        echo.add(&mut stack, addr)
            .map_err(|e| format!("udp_echo {addr}: {e}"))?;
    }
    Ok((stack, ifindexes, echo))
}

/// `[[tunnel]]`: `ip tunnel add`, `ip link set up`, `ip addr add`.
fn add_tunnel(stack: &mut Stack, t: &Tunnel) -> Result<(), String> {
    let link = match &t.dev {
        None => None,
        Some(dev) => Some(
            stack
                .dev_by_name(dev)
                .map(|d| d.ifindex)
                .ok_or_else(|| format!("tunnel {}: no device {dev}", t.name))?,
        ),
    };
    let mut p = IpTunnelParm::new(&t.name, t.local, t.remote);
    (p.ttl, p.link, p.pmtudisc) = (t.ttl, link, t.pmtudisc);
    let ifindex = stack
        .ip_tunnel_add(&p)
        .map_err(|e| format!("tunnel {}: {e}", t.name))?;
    stack
        .set_up(ifindex, true)
        .map_err(|e| format!("tunnel {}: {e}", t.name))?;
    for &(addr, plen) in &t.addrs {
        stack
            .add_addr(ifindex, addr, plen)
            .map_err(|e| format!("tunnel {}: address {addr}/{plen}: {e}", t.name))?;
    }
    Ok(())
}

/// `[[vif]]` and `[[mroute]]` through the API a routing daemon uses: a raw IGMP socket
/// made the mroute socket (MRT_INIT), MRT_ADD_VIF, MRT_ADD_MFC. The socket stays open for
/// the stack's life (closing it would tear the table down, Linux mrtsock_destruct()); no
/// one reads it, so upcalls and IGMP queue there up to its receive buffer and the rest
/// is dropped and counted.
fn add_mroutes(stack: &mut Stack, cfg: &Config) -> Result<(), String> {
    if cfg.vifs.is_empty() && cfg.mroutes.is_empty() {
        return Ok(());
    }
    let fd = stack
        .raw_socket(skiff_wire::ipv4::IPPROTO_IGMP)
        .map_err(|e| format!("mroute socket: {e}"))?;
    stack
        .ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
        .map_err(|e| format!("mroute socket: MRT_INIT: {e}"))?;
    for (i, v) in cfg.vifs.iter().enumerate() {
        let ctl = match &v.kind {
            VifKind::Interface(dev) => {
                let ifindex = stack
                    .dev_by_name(dev)
                    .map(|d| d.ifindex)
                    .ok_or_else(|| format!("vif[{i}]: no device {dev}"))?;
                VifCtl::by_ifindex(v.index, ifindex, v.threshold)
            }
            VifKind::Tunnel { local, remote } => {
                VifCtl::tunnel(v.index, *local, *remote, v.threshold)
            }
        };
        stack
            .ip_mroute_setsockopt(fd, MRT_ADD_VIF, &ctl.to_bytes())
            .map_err(|e| format!("vif[{i}]: MRT_ADD_VIF: {e}"))?;
    }
    for (i, m) in cfg.mroutes.iter().enumerate() {
        let oifs: Vec<(usize, u8)> = m.oifs.iter().map(|&(v, t)| (usize::from(v), t)).collect();
        let ctl = MfcCtl::new(m.source, m.group, m.iif, &oifs);
        stack
            .ip_mroute_setsockopt(fd, MRT_ADD_MFC, &ctl.to_bytes())
            .map_err(|e| format!("mroute[{i}]: MRT_ADD_MFC: {e}"))?;
    }
    Ok(())
}

/// The pcap link type of the configuration's interfaces, which must be of one kind.
pub fn link_type(cfg: &Config) -> Result<LinkType, String> {
    let tun = |i: &crate::config::Interface| i.kind == IfKind::Tun;
    if cfg.interfaces.iter().all(tun) {
        Ok(LinkType::Raw)
    } else if cfg.interfaces.iter().any(tun) {
        Err("pcap: a capture needs interfaces of one kind (all tap or all tun)".to_string())
    } else {
        Ok(LinkType::Ethernet)
    }
}

/// The control socket's path: the configured one, else `/run/skiff/<first interface>.sock`.
pub fn ctl_path(cfg: &Config) -> PathBuf {
    cfg.ctl.clone().unwrap_or_else(|| {
        let first = cfg.interfaces.first().map_or("skiff", |i| i.name.as_str());
        PathBuf::from(format!("{}/{first}.sock", ctl::CTL_DIR))
    })
}

pub fn run(args: &UpArgs) -> Result<(), String> {
    let cfg = Config::from_args(args).map_err(|e| e.to_string())?;
    let (stack, ifindexes, echo) = build_stack(&cfg)?;
    let mut daemon = Daemon::new(stack, echo).map_err(|e| format!("event loop: {e}"))?;
    for (iface, &ifindex) in cfg.interfaces.iter().zip(&ifindexes) {
        // Without offloads, plain frames: the kernel segments and checksums before handing
        // them over, and skiff does the same for what it sends.
        let opts = TapOptions {
            name: iface.name.clone(),
            tun: iface.kind == IfKind::Tun,
            vnet_hdr: iface.offload,
            multi_queue: iface.queues > 1,
            offload: iface.offload,
        };
        let queues = (0..iface.queues)
            .map(|_| Tap::open(&opts))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| format!("{}: {e}", iface.name))?;
        daemon
            .add_port(ifindex, queues)
            .map_err(|e| format!("{}: {e}", iface.name))?;
    }
    let ctl_path = ctl_path(&cfg);
    daemon
        .listen_ctl(&ctl_path)
        .map_err(|e| format!("ctl socket {}: {e}", ctl_path.display()))?;
    if let Some(p) = &cfg.pcap {
        daemon
            .capture(p, link_type(&cfg)?)
            .map_err(|e| format!("pcap {}: {e}", p.display()))?;
    }
    let mut ready = String::from("ready");
    for (iface, &ifindex) in cfg.interfaces.iter().zip(&ifindexes) {
        ready.push(' ');
        ready.push_str(&iface.name);
        match iface.kind {
            IfKind::Tap => {
                let mac = daemon.with_stack(|s| s.dev(ifindex).map(|d| d.mac).unwrap_or_default());
                ready.push_str(&format!(" mac {mac}"));
            }
            IfKind::Tun => ready.push_str(" tun"),
        }
        for (a, p) in &iface.addrs {
            ready.push_str(&format!(" {a}/{p}"));
        }
        if !iface.offload {
            ready.push_str(" no-offload");
        }
        if iface.queues > 1 {
            ready.push_str(&format!(" queues {}", iface.queues));
        }
        ready.push(';');
    }
    ready.push_str(&format!(" ctl {}", ctl_path.display()));
    let announce = || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{ready}");
        let _ = out.flush();
    };
    let sig = daemon
        .run(announce, &mut ctl::handle)
        .map_err(|e| format!("event loop: {e}"))?;
    println!("skiff: {sig}: shutting down; final counters:");
    print!(
        "{}",
        daemon.with_stack(|s| s.render_snmp() + &s.render_netstat())
    );
    Ok(())
}

/// A seed for the stack's hash keys and IP IDs: per run, as the kernel's are per boot.
fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32)
}

/// A locally administered unicast MAC, different per run and per interface (Linux
/// eth_hw_addr_random()).
fn random_mac(i: usize) -> EthernetAddress {
    let s = seed().wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
    EthernetAddress([0x02, s[0], s[1], s[2], s[3], s[4].wrapping_add(i as u8)])
}
