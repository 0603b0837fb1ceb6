//! `skiff demo`: host A — router R — host B (and hosts C and D on R's third link) in process,
//! with ARP, forwarding, ICMP errors, netfilter, UDP, multicast routing and timestamps,
//! narrated, then every host's MIB tables.

use skiff_core::ipv4::output::PmtuDisc;
use skiff_core::ipv4::raw::RawDatagram;
use skiff_core::route::{FibRoute, RouteType};
use skiff_core::sim::{HostId, LinkId, Sim};
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SendCmsg, SendMsg, SockFd as RawHandle, SockOpt};
use skiff_core::sysctl::Sysctl;
use skiff_core::{Stack, StackConfig};
use skiff_io::pcap::{LinkType, PcapWriter};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::time::Duration;

mod mc;

pub struct DemoOptions {
    pub trace: bool,
    pub pcap_dir: Option<PathBuf>,
}

const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const R_LAN1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R_LAN2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const R_LAN3: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 1);
const C_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 2);
const UNROUTED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);
const PING_ID: u16 = 0x5a5a;
/// lan2's MTU: the smallest every IPv4 host must accept (RFC 791).
const LAN2_MTU: u32 = 576;
/// The Frag/Reasm counters the summary shows.
const FRAG_COUNTERS: [&str; 7] = [
    "IpFragOKs",
    "IpFragFails",
    "IpFragCreates",
    "IpReasmReqds",
    "IpReasmOKs",
    "IpReasmFails",
    "IpReasmTimeout",
];

struct Demo {
    sim: Sim,
    a: HostId,
    r: HostId,
    b: HostId,
    c: HostId,
    /// R's devices on lan1, lan2, lan3.
    r_devs: [u32; 3],
    links: Vec<LinkId>,
    ping: RawHandle,
    seq: u16,
    trace: bool,
}

fn mac(last: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0x5f, 0x00, 0x00, 0x00, last])
}

fn default_via(gateway: Ipv4Addr) -> FibRoute {
    FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast).via(gateway)
}

fn stack(name: &str, trace: bool, seed: u64) -> Stack {
    Stack::new(StackConfig {
        cap_net_raw: true,
        name: name.to_string(),
        seed,
        sysctl: Sysctl::default(),
        trace,
    })
}

impl Demo {
    fn build(opts: &DemoOptions) -> Result<Demo, Box<dyn std::error::Error>> {
        let mut sim = Sim::new(7);
        let a = sim.add_stack(stack("A", opts.trace, 1));
        let r = sim.add_stack(stack("R", opts.trace, 2));
        let b = sim.add_stack(stack("B", opts.trace, 3));
        let c = sim.add_stack(stack("C", opts.trace, 4));
        let lan1 = sim.add_link("lan1", 1500);
        let lan2 = sim.add_link("lan2", LAN2_MTU);
        let lan3 = sim.add_link("lan3", 1500);
        if opts.pcap_dir.is_some() {
            sim.capture(lan1);
            sim.capture(lan2);
            sim.capture(lan3);
        }
        let a0 = sim.attach(a, "eth0", mac(0xa0), lan1)?;
        let r0 = sim.attach(r, "eth0", mac(0x10), lan1)?;
        let r1 = sim.attach(r, "eth1", mac(0x11), lan2)?;
        let b0 = sim.attach(b, "eth0", mac(0xb0), lan2)?;
        let r2 = sim.attach(r, "eth2", mac(0x12), lan3)?;
        let c0 = sim.attach(c, "eth0", mac(0xc0), lan3)?;
        sim.stack(a).add_addr(a0, A_ADDR, 24)?;
        sim.stack(a).add_route(default_via(R_LAN1))?;
        sim.stack(r).add_addr(r0, R_LAN1, 24)?;
        sim.stack(r).add_addr(r1, R_LAN2, 24)?;
        sim.stack(r).set_sysctl("ip_forward", "1")?;
        sim.stack(b).add_addr(b0, B_ADDR, 24)?;
        sim.stack(b).add_route(default_via(R_LAN2))?;
        sim.stack(r).add_addr(r2, R_LAN3, 24)?;
        sim.stack(c).add_addr(c0, C_ADDR, 24)?;
        sim.stack(c).add_route(default_via(R_LAN3))?;
        let ping = sim.stack(a).raw_socket(1)?;
        // The gratuitous ARPs of the address configuration.
        sim.run();
        let mut demo = Demo {
            sim,
            a,
            r,
            b,
            c,
            r_devs: [r0, r1, r2],
            links: vec![lan1, lan2, lan3],
            ping,
            seq: 0,
            trace: opts.trace,
        };
        demo.flush_trace();
        Ok(demo)
    }

    /// Sends one echo request from A with `ttl` and returns what A's socket got back.
    fn ping(
        &mut self,
        to: Ipv4Addr,
        ttl: Option<u8>,
    ) -> Result<Vec<RawDatagram>, Box<dyn std::error::Error>> {
        self.ping_sized(to, ttl, 56)
    }

    /// `ping -s size`.
    fn ping_sized(
        &mut self,
        to: Ipv4Addr,
        ttl: Option<u8>,
        size: usize,
    ) -> Result<Vec<RawDatagram>, Box<dyn std::error::Error>> {
        self.seq += 1;
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let repr = Icmpv4Repr::EchoRequest {
            ident: PING_ID,
            seq_no: self.seq,
            data: &payload,
        };
        let mut msg = vec![0; repr.buffer_len()];
        repr.emit(&mut msg)?;
        let now = self.sim.now;
        let a = self.sim.stack(self.a);
        a.setsockopt(self.ping, SockOpt::Ttl(ttl.map_or(-1, i32::from)))?;
        a.raw_sendto(now, self.ping, to, &msg)?;
        self.sim.run();
        // Long enough for ARP to resolve (its retransmits are 1 s apart).
        self.sim.advance(Duration::from_secs(3));
        self.flush_trace();
        let mut got = Vec::new();
        while let Ok(d) = self.sim.stack(self.a).raw_recv(self.ping) {
            got.push(d);
        }
        Ok(got)
    }

    /// FragCreates and ReasmOKs/Reqds of every host.
    fn frag_counters(&self) -> Vec<[u64; 3]> {
        [self.a, self.r, self.b]
            .map(|h| {
                let st = self.sim.stack_ref(h).stats();
                ["IpFragCreates", "IpReasmReqds", "IpReasmOKs"].map(|c| st.get(c).unwrap_or(0))
            })
            .to_vec()
    }

    /// What each host fragmented and reassembled since `before`.
    fn print_frag_delta(&self, before: &[[u64; 3]]) {
        let now = self.frag_counters();
        for (i, name) in ["A", "R", "B"].iter().enumerate() {
            let [c, q, ok] = [0, 1, 2].map(|k| now[i][k] - before[i][k]);
            let mut did = Vec::new();
            if c > 0 {
                did.push(format!("created {c} fragments"));
            }
            if q > 0 {
                let s = if ok == 1 { "" } else { "s" };
                did.push(format!("reassembled {q} fragments into {ok} datagram{s}"));
            }
            if !did.is_empty() {
                println!("  {name}: {}", did.join("; "));
            }
        }
    }

    fn flush_trace(&mut self) {
        if !self.trace {
            return;
        }
        for h in [self.a, self.r, self.b, self.c] {
            for line in self.sim.stack(h).drain_trace() {
                println!("    {line}");
            }
        }
    }
}

/// One line per received ICMP message, ping style.
fn describe(d: &RawDatagram) -> String {
    let ihl = usize::from(d.packet.first().map_or(5, |b| b & 0x0f)) * 4;
    let Some(icmp) = d.packet.get(ihl..) else {
        return format!("From {}: (truncated)", d.src);
    };
    let Ok(p) = Icmpv4Packet::new_checked(icmp) else {
        return format!("From {}: (truncated ICMP)", d.src);
    };
    match (u8::from(p.msg_type()), p.code()) {
        (0, _) => format!(
            "{} bytes from {}: icmp_seq={} ttl={}",
            icmp.len(),
            d.src,
            p.echo_seq_no(),
            d.ttl
        ),
        (3, 0) => format!("From {} Destination Net Unreachable", d.src),
        (3, 1) => format!("From {} Destination Host Unreachable", d.src),
        (3, 4) => format!(
            "From {} Frag needed and DF set (mtu = {})",
            d.src,
            p.next_hop_mtu()
        ),
        (3, code) => format!("From {} Destination Unreachable, code {code}", d.src),
        (11, 0) => format!("From {} Time to live exceeded", d.src),
        (t, c) => format!("From {} ICMP type {t} code {c}", d.src),
    }
}

fn show(replies: &[RawDatagram]) {
    if replies.is_empty() {
        println!("  (no answer)");
    }
    for d in replies {
        println!("  {}", describe(d));
    }
}

pub fn run(opts: DemoOptions) -> Result<(), Box<dyn std::error::Error>> {
    let mut demo = Demo::build(&opts)?;
    println!(
        "skiff demo: host A (10.0.1.2/24) — router R (10.0.1.1, 10.0.2.1, 10.0.3.1; ip_forward=1) — host B (10.0.2.2/24), host C (10.0.3.2/24)"
    );
    println!(
        "Each host is a skiff stack; lan1, lan2 and lan3 are in-process Ethernet segments with ARP.\n"
    );

    println!(
        "1. ping A → B (ARP resolves R's and B's addresses first; R forwards and decrements the TTL)"
    );
    for _ in 0..3 {
        let got = demo.ping(B_ADDR, None)?;
        show(&got);
    }

    println!(
        "\n2. ping A → {UNROUTED}: R has no route, so ip_route_input gives ENETUNREACH and ip_error answers"
    );
    let got = demo.ping(UNROUTED, None)?;
    show(&got);

    println!(
        "\n3. TTL-1 probe A → B: ip_forward sees ttl <= 1 and R sends Time Exceeded (like traceroute's first hop)"
    );
    let got = demo.ping(B_ADDR, Some(1))?;
    show(&got);

    println!("\n4. netfilter on R: drop echo requests from A to B in FORWARD");
    let drop_rule = "-A FORWARD -p icmp --icmp-type echo-request -s 10.0.1.2 -d 10.0.2.2 -j DROP\n";
    print!("  rule: {drop_rule}");
    demo.sim.stack(demo.r).nf.load_rules(drop_rule)?;
    let got = demo.ping(B_ADDR, None)?;
    show(&got);
    print_rules(&demo.sim.stack_ref(demo.r).nf.render_rules());

    println!(
        "\n5. netfilter on R: rewrite the source of A's packets leaving eth1 to R's own address"
    );
    let snat = "-A POSTROUTING -o eth1 -s 10.0.1.2 -j SET-SADDR --to 10.0.2.1\n";
    print!("  rule: {snat}");
    demo.sim.stack(demo.r).nf.load_rules(snat)?;
    let watch = demo.sim.stack(demo.b).raw_socket(1)?;
    let got = demo.ping(B_ADDR, None)?;
    show(&got);
    while let Ok(d) = demo.sim.stack(demo.b).raw_recv(watch) {
        let ihl = usize::from(d.packet[0] & 0x0f) * 4;
        if d.packet.get(ihl) == Some(&8) {
            println!(
                "  B saw the echo request arrive from {} (A's address was rewritten by R)",
                d.src
            );
        }
    }
    println!(
        "  (B's reply goes to R, which has no ping socket: A hears nothing, as with SNAT lacking conntrack)"
    );
    print_rules(&demo.sim.stack_ref(demo.r).nf.render_rules());

    println!(
        "\n6. ping -s 4000 A → B: A fragments to lan1's MTU 1500, R refragments each piece to lan2's {LAN2_MTU}, B reassembles and answers in {LAN2_MTU}-byte fragments that A reassembles"
    );
    demo.sim.stack(demo.r).nf.load_rules("")?;
    let before = demo.frag_counters();
    let got = demo.ping_sized(B_ADDR, None, 4000)?;
    show(&got);
    demo.print_frag_delta(&before);

    println!(
        "\n7. ping -s 1000 -M do A → B: DF set, so R answers fragmentation-needed and A learns the path MTU"
    );
    demo.sim
        .stack(demo.a)
        .setsockopt(demo.ping, SockOpt::MtuDiscover(PmtuDisc::Do as i32))?;
    let got = demo.ping_sized(B_ADDR, None, 1000)?;
    show(&got);
    let now = demo.sim.now;
    println!("  A: ip route show cache");
    for line in demo.sim.stack_ref(demo.a).fib.render_cache(now).lines() {
        println!("    {line}");
    }
    match demo.ping_sized(B_ADDR, None, 1000) {
        Err(e) => println!("  again: ping: sendmsg: {e}: A knows the path takes at most 576"),
        Ok(got) => show(&got),
    }
    demo.sim
        .stack(demo.a)
        .setsockopt(demo.ping, SockOpt::MtuDiscover(PmtuDisc::Want as i32))?;
    println!(
        "  ping -s 4000 again: A now sends {LAN2_MTU}-byte fragments that R forwards as they are"
    );
    let before = demo.frag_counters();
    let got = demo.ping_sized(B_ADDR, None, 4000)?;
    show(&got);
    demo.print_frag_delta(&before);

    udp_scenarios(&mut demo)?;
    mc::multicast_scenario(&mut demo)?;
    mc::timestamp_scenario(&mut demo)?;

    println!("\n==== fragmentation and reassembly counters ====");
    println!(
        "    {:<5}{}",
        "",
        FRAG_COUNTERS.map(|c| format!("{c:>15}")).concat()
    );
    for (h, name) in [(demo.a, "A"), (demo.r, "R"), (demo.b, "B")] {
        let st = demo.sim.stack_ref(h).stats();
        let row: String = FRAG_COUNTERS
            .map(|c| format!("{:>15}", st.get(c).unwrap_or(0)))
            .concat();
        println!("    {name:<5}{row}");
    }

    for (h, name) in [(demo.a, "A"), (demo.r, "R"), (demo.b, "B"), (demo.c, "C")] {
        let s = demo.sim.stack_ref(h);
        println!("\n==== {name}: /proc/net/snmp ====");
        print!("{}", s.render_snmp());
        println!("==== {name}: /proc/net/netstat ====");
        print!("{}", s.render_netstat());
    }

    if let Some(dir) = &opts.pcap_dir {
        std::fs::create_dir_all(dir)?;
        for &l in &demo.links {
            let link = demo.sim.link(l);
            let path = dir.join(format!("{}.pcap", link.name));
            let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            let mut w = PcapWriter::new(file, LinkType::Ethernet)?;
            for (t, frame) in link.captured() {
                w.write_packet(t.as_nanos(), frame)?;
            }
            w.into_inner().into_inner().map_err(|e| e.into_error())?;
            println!(
                "\nwrote {} ({} frames)",
                path.display(),
                link.captured().len()
            );
        }
    }
    Ok(())
}

/// Scenarios 8–10: UDP sockets on A and B.
fn udp_scenarios(demo: &mut Demo) -> Result<(), Box<dyn std::error::Error>> {
    let echo_addr = SocketAddrV4::new(B_ADDR, 7);
    let server = demo.sim.stack(demo.b).socket(AF_INET, SOCK_DGRAM, 0)?;
    demo.sim
        .stack(demo.b)
        .bind(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7).into())?;
    let client = demo.sim.stack(demo.a).socket(AF_INET, SOCK_DGRAM, 0)?;

    println!(
        "\n8. UDP echo A → B:7 with one 30000-byte datagram: A cuts it to the {LAN2_MTU} it learned, B reassembles, its echo server sends it back"
    );
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
    let before = demo.frag_counters();
    let now = demo.sim.now;
    let sent = demo
        .sim
        .stack(demo.a)
        .sendto(now, client, &data, 0, Some(echo_addr.into()))?;
    let from = demo.sim.stack_ref(demo.a).local_addr(client)?;
    println!("  A: sendto({echo_addr}, 30000 bytes) = {sent} from {from}");
    demo.sim.run();
    demo.echo_once(server)?;
    let mut buf = vec![0u8; 65536];
    let (n, peer) = demo.sim.stack(demo.a).recv_from(client, &mut buf, 0)?;
    let same = if buf[..n] == data[..] {
        "the same bytes"
    } else {
        "DIFFERENT bytes"
    };
    println!("  A: recvfrom = {n} bytes from {peer}: {same}");
    demo.print_frag_delta(&before);

    println!("\n9. a corked send: UDP_CORK on, three writes, UDP_CORK off: one datagram leaves");
    let a = demo.sim.stack(demo.a);
    a.setsockopt(client, SockOpt::UdpCork(true))?;
    for part in [&b"three "[..], b"corked ", b"writes"] {
        a.sendto(now, client, part, 0, Some(echo_addr.into()))?;
    }
    a.setsockopt(client, SockOpt::UdpCork(false))?;
    demo.sim.run();
    demo.echo_once(server)?;
    let (n, _) = demo.sim.stack(demo.a).recv_from(client, &mut buf, 0)?;
    println!(
        "  A got back one datagram: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    println!("\n10. a connected socket sends to B's closed port 9: B answers port unreachable");
    let a = demo.sim.stack(demo.a);
    let conn = a.socket(AF_INET, SOCK_DGRAM, 0)?;
    a.connect(conn, SocketAddrV4::new(B_ADDR, 9).into())?;
    a.sendto(now, conn, b"hello", 0, None)?;
    demo.sim.run();
    match demo.sim.stack(demo.a).sendto(now, conn, b"hello", 0, None) {
        Err(e) => println!("  the next send: sendto: {e}"),
        Ok(n) => println!("  the next send went out ({n} bytes): no error arrived"),
    }
    demo.flush_trace();
    gso_scenario(demo)
}

/// Scenario 11: one UDP_SEGMENT send, its segments on the wire, and B's sockets with
/// and without UDP_GRO.
fn gso_scenario(demo: &mut Demo) -> Result<(), Box<dyn std::error::Error>> {
    const GSO: u16 = (LAN2_MTU - 28) as u16;
    println!(
        "\n11. UDP_SEGMENT: A sends 65000 bytes to B in one sendmsg with a {GSO}-byte segment size (its path MTU to B is {LAN2_MTU}); B reads with and without UDP_GRO"
    );
    let data: Vec<u8> = (0..65_000u32).map(|i| (i % 241) as u8).collect();
    let client = demo.sim.stack(demo.a).socket(AF_INET, SOCK_DGRAM, 0)?;
    for (port, gro) in [(9000, true), (9001, false)] {
        let b = demo.sim.stack(demo.b);
        let rx = b.socket(AF_INET, SOCK_DGRAM, 0)?;
        b.bind(rx, SocketAddrV4::new(B_ADDR, port).into())?;
        b.setsockopt(rx, SockOpt::UdpGro(gro))?;
        b.setsockopt(rx, SockOpt::RcvBuf(1 << 20))?;
        let frames = |d: &Demo| demo_frames(d);
        let before = frames(demo);
        let now = demo.sim.now;
        let msg = SendMsg {
            data: &data,
            addr: Some(SocketAddrV4::new(B_ADDR, port).into()),
            cmsgs: &[SendCmsg::UdpSegment(GSO)],
            flags: 0,
        };
        let sent = demo.sim.stack(demo.a).sendmsg(now, client, &msg)?;
        demo.sim.run();
        let after = frames(demo);
        println!(
            "  A: sendmsg(UDP_SEGMENT={GSO}) = {sent}: {} datagrams on lan1, {} forwarded onto lan2",
            after[0] - before[0],
            after[1] - before[1]
        );
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        let mut reads = Vec::new();
        while let Ok(m) = demo.sim.stack(demo.b).recvmsg(rx, &mut buf, 0) {
            got.extend_from_slice(&buf[..m.len]);
            reads.push((m.len, m.cmsgs.gso_size));
        }
        let same = if got == data {
            "the same bytes"
        } else {
            "DIFFERENT bytes"
        };
        if gro {
            for (n, g) in &reads {
                let g = g.map_or("none".to_string(), |g| g.to_string());
                println!(
                    "  B (UDP_GRO on, :{port}): recvmsg = {n} bytes, UDP_GRO cmsg gso_size {g}"
                );
            }
        } else {
            let max = reads.iter().map(|r| r.0).max().unwrap_or(0);
            println!(
                "  B (UDP_GRO off, :{port}): {} recvmsg calls of up to {max} bytes",
                reads.len()
            );
        }
        println!("  B read {} bytes in all: {same}", got.len());
    }
    demo.flush_trace();
    Ok(())
}

/// Frames put on lan1 and lan2 so far.
fn demo_frames(d: &Demo) -> [u64; 2] {
    [
        d.sim.link(d.links[0]).stats.frames,
        d.sim.link(d.links[1]).stats.frames,
    ]
}

impl Demo {
    /// B's echo server: every waiting datagram goes back to its sender.
    fn echo_once(&mut self, server: RawHandle) -> Result<(), Box<dyn std::error::Error>> {
        let mut buf = vec![0u8; 65536];
        let now = self.sim.now;
        let b = self.sim.stack(self.b);
        while let Ok((n, from)) = b.recv_from(server, &mut buf, 0) {
            println!("  B: echo server got {n} bytes from {from}, sends them back");
            b.sendto(now, server, &buf[..n], 0, Some(from.into()))?;
        }
        self.sim.run();
        Ok(())
    }
}

/// The chains that have rules, from an `iptables -L -v -n` listing.
fn print_rules(listing: &str) {
    for chain in listing.split("\n\n") {
        if chain.lines().count() > 2 {
            for line in chain.lines() {
                println!("    {line}");
            }
        }
    }
}
