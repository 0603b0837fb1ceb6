//! `skiff up` on TAP devices with the Linux kernel as its peer: kernel ping and UDP
//! sockets against skiff as a host, clockdiff against skiff and against Linux behind a
//! user-space relay, kernel UDP GSO with offloads on and off, and skiff
//! as a router between two namespaces (fragmentation, frag-needed and the kernel's path
//! MTU, TTL expiry, a 200 MB TCP transfer), and skiff as a multicast router between kernel
//! hosts in three namespaces (static entries, TTL thresholds, an in-test routing daemon
//! driven by upcalls and IGMP, an IPIP tunnel vif to a kernel raw IPIP socket). Every capture skiff writes is read by tshark.
//!
//! Needs root: each test re-runs itself under `unshare --net`, and the router tests add
//! two namespaces of their own, held by child processes that die with the test. Without
//! root a test is skipped with a reason, and with CI=true a skip fails.

mod common;

use common::netns::{CLOCKDIFF, HPING3, IP, PING, PING_SIZES, in_netns, kernel_pings};
use common::{Daemon, Netns, check_capture, run};
use std::hash::Hasher;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skiff-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A counter from `skiff ctl snmp`, by nstat name (`IpInReceives`, `UdpInDatagrams`).
fn snmp(ctl: &str, name: &str) -> u64 {
    let (ok, text, err) = Daemon::ctl(ctl, &["snmp"]);
    assert!(ok, "ctl snmp: {err}");
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let (Some(head), Some(vals)) = (pair.first(), pair.get(1)) else {
            continue;
        };
        let mut h = head.split_whitespace();
        let group = h.next().unwrap().trim_end_matches(':');
        for (k, v) in h.zip(vals.split_whitespace().skip(1)) {
            if format!("{group}{k}") == name {
                return v.parse().unwrap();
            }
        }
    }
    panic!("no {name} in:\n{text}");
}

fn setsockopt_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) {
    // SAFETY: setsockopt reads one int through the pointer, of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// Bytes that are not all alike, so a misplaced segment shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// One IPv4 fragment (MF set, offset 0) from the kernel through a raw socket.
fn send_first_fragment(to: Ipv4Addr, id: u16) {
    let mut pkt = [0u8; 28];
    pkt[0] = 0x45;
    pkt[2..4].copy_from_slice(&28u16.to_be_bytes());
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6] = 0x20; // MF
    pkt[8] = 64;
    pkt[9] = 17;
    pkt[16..20].copy_from_slice(&to.octets());
    // SAFETY: socket() has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(to).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the buffer and the address are live for the call, with the lengths given;
    // close() ends the descriptor we own.
    let r = unsafe {
        let r = libc::sendto(
            fd,
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        libc::close(fd);
        r
    };
    assert_eq!(r, 28, "sendto: {}", std::io::Error::last_os_error());
}

/// Puts `frame` on `dev` from the kernel side (AF_PACKET), as any process may.
fn packet_send(dev: &str, frame: &[u8]) -> std::io::Result<()> {
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: `name` is a NUL-terminated string live for the call.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(ifindex > 0, "{dev} exists");
    // SAFETY: socket() has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(
        fd >= 0,
        "packet socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: sockaddr_ll is plain data, valid when zeroed.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    // SAFETY: the frame and the address are live for the call, with the lengths given;
    // close() ends the descriptor we own.
    unsafe {
        let r = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        );
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if r < 0 { Err(e) } else { Ok(()) }
    }
}

/// The kernel sends 14 KB with UDP_SEGMENT=1400 (the option is an int) from `from` to
/// skiff's echo service at `to`; every segment comes back intact. Returns how many IP
/// packets skiff took in for it.
fn kernel_gso_to_echo(ctl: &str, from: &str, to: &str) -> u64 {
    let sock = UdpSocket::bind((from, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    setsockopt_int(&sock, libc::SOL_UDP, 103, 1400);
    let data = pattern(14_000, 7);
    let before = snmp(ctl, "IpInReceives");
    assert_eq!(sock.send_to(&data, (to, 7)).unwrap(), 14_000);
    let mut buf = vec![0u8; 2048];
    for (i, chunk) in data.chunks(1400).enumerate() {
        let n = sock.recv(&mut buf).expect("every segment is echoed");
        assert!(buf[..n] == chunk[..], "segment {i}");
    }
    snmp(ctl, "IpInReceives") - before
}

#[test]
fn skiff_up_serves_the_kernel_on_a_tap() {
    if !in_netns("skiff_up_serves_the_kernel_on_a_tap", &[IP, PING]) {
        return;
    }
    let ctl = tmp("host.sock");
    let ctl = ctl.to_str().unwrap();
    let pcap = tmp("host.pcap");
    let d = Daemon::up(&[
        "--tap",
        "skh0",
        "--addr",
        "10.9.0.2/24",
        "--udp-echo",
        "7",
        "--ctl",
        ctl,
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(d.ready.contains("skh0"), "{}", d.ready);
    // No IPv6 chatter from the kernel side: every frame on this link is the test's.
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/skh0/disable_ipv6", "1");
    run("ip", &["addr", "add", "10.9.0.1/24", "dev", "skh0"]);
    run("ip", &["link", "set", "skh0", "up"]);

    // Kernel ping: one packet, then 100, then sizes that fragment both ways.
    kernel_pings("10.9.0.2", PING_SIZES);
    assert!(snmp(ctl, "IpReasmOKs") >= 5);
    assert!(snmp(ctl, "IpFragCreates") > 0);

    // A kernel UDP socket against --udp-echo: each datagram comes back intact.
    let sock = UdpSocket::bind("10.9.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 65536];
    for (i, len) in [1usize, 1472, 8192, 60_000].into_iter().enumerate() {
        let data = pattern(len, i as u8);
        sock.send_to(&data, "10.9.0.2:7").unwrap();
        let (n, from) = sock.recv_from(&mut buf).expect("the echo comes back");
        assert_eq!(from.to_string(), "10.9.0.2:7");
        assert!(buf[..n] == data[..], "{len}-byte datagram echoed intact");
    }
    assert_eq!(snmp(ctl, "UdpInDatagrams"), 4);
    assert_eq!(snmp(ctl, "UdpOutDatagrams"), 4);

    // ctl in every form.
    let (ok, text, _) = Daemon::ctl(ctl, &["netstat"]);
    assert!(ok && text.starts_with("IpExt: InNoRoutes"), "{text}");
    let (ok, text, _) = Daemon::ctl(ctl, &["route"]);
    assert!(ok && text.contains("10.9.0.0/24 dev skh0"), "{text}");
    let (ok, text, _) = Daemon::ctl(ctl, &["neigh"]);
    assert!(ok && text.contains("10.9.0.1 dev skh0 lladdr"), "{text}");
    let (ok, text, _) = Daemon::ctl(ctl, &["rules"]);
    assert!(ok && text.contains("Chain INPUT (policy ACCEPT"), "{text}");
    send_first_fragment(Ipv4Addr::new(10, 9, 0, 2), 0x4242);
    std::thread::sleep(Duration::from_millis(100));
    let (ok, text, _) = Daemon::ctl(ctl, &["frags"]);
    assert!(
        ok && text.contains("src 10.9.0.1 dst 10.9.0.2 id 0x4242 proto 17"),
        "{text}"
    );
    // Bad input from the wire: an unknown ethertype is dropped and counted.
    let mut odd = vec![0xff; 6];
    odd.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    odd.extend_from_slice(&[0u8; 46]);
    let unhandled = || {
        let (ok, text, _) = Daemon::ctl(ctl, &["drops"]);
        assert!(ok, "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix("UNHANDLED_PROTO "))
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let before = unhandled();
    packet_send("skh0", &odd).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(unhandled() - before, 1);
    let (ok, text, _) = Daemon::ctl(ctl, &["link"]);
    assert!(
        ok && text.contains(": skh0: <UP,LOWER_UP> mtu 1500"),
        "{text}"
    );

    let (ok, text, _) = Daemon::ctl(ctl, &["sysctl", "ip_default_ttl=33", "icmp_ratelimit"]);
    assert!(ok, "{text}");
    assert_eq!(text, "ip_default_ttl = 33\nicmp_ratelimit = 1000\n");
    let text = run("ping", &["-c", "1", "-W", "2", "10.9.0.2"]);
    assert!(
        text.contains("ttl=33"),
        "the running daemon took the sysctl:\n{text}"
    );
    let (ok, _, err) = Daemon::ctl(ctl, &["sysctl", "ip_default_ttl=64", "no_such_key=1"]);
    assert!(!ok && err.contains("no_such_key"), "{err}");
    let (ok, _, err) = Daemon::ctl(ctl, &["sysctl", "ip_default_ttl=0"]);
    assert!(!ok && err.contains("ip_default_ttl=0"), "{err}");
    let (_, text, _) = Daemon::ctl(ctl, &["sysctl", "ip_default_ttl"]);
    assert_eq!(
        text, "ip_default_ttl = 33\n",
        "a refused write changed nothing"
    );

    // Idle, the daemon sleeps in epoll until its next timer.
    let cpu = d.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let idle = d.cpu_ticks() - cpu;
    assert!(idle <= 4, "{idle} ticks of CPU in 2 s idle");

    let rest = d.stop();
    assert!(
        rest.contains("SIGTERM") && rest.contains("\nUdp: 4 "),
        "{rest}"
    );
    assert!(
        !std::path::Path::new(ctl).exists(),
        "the ctl socket is removed"
    );
    check_capture(&pcap, 200);
}

/// A ctl client that trickles its request a byte at a time (never a whole line) stalls
/// neither the datapath nor, past its one-second deadline, other ctl clients.
#[test]
fn a_stuck_ctl_client_stalls_no_worker() {
    if !in_netns("a_stuck_ctl_client_stalls_no_worker", &[IP]) {
        return;
    }
    let ctl = tmp("stuck.sock");
    let ctl = ctl.to_str().unwrap();
    let d = Daemon::up(&[
        "--tap",
        "sks0",
        "--addr",
        "10.9.5.2/24",
        "--udp-echo",
        "7",
        "--ctl",
        ctl,
    ]);
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/sks0/disable_ipv6", "1");
    run("ip", &["addr", "add", "10.9.5.1/24", "dev", "sks0"]);
    run("ip", &["link", "set", "sks0", "up"]);
    let sock = UdpSocket::bind("10.9.5.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    sock.send_to(b"warm", "10.9.5.2:7").unwrap();
    sock.recv_from(&mut buf).expect("the echo answers");

    let path = ctl.to_string();
    let trickle = std::thread::spawn(move || {
        let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        // One byte every 200 ms for 3 s: each read of it is short of any per-read timeout.
        for _ in 0..15 {
            if c.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    // While it trickles, the echo answers each datagram at once.
    sock.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let start = Instant::now();
    let mut trips = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        sock.send_to(&trips.to_be_bytes(), "10.9.5.2:7").unwrap();
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("the echo answers while a ctl client is stuck");
        assert_eq!(buf[..n], trips.to_be_bytes());
        trips += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    // The stuck client was dropped at its deadline: ctl answers others.
    let (ok, text, _) = Daemon::ctl(ctl, &["netstat"]);
    assert!(ok && text.starts_with("IpExt:"), "{text}");
    trickle.join().unwrap();
    d.stop();
}

/// Milliseconds between two timestamps since midnight UT, across midnight.
fn ms_apart(a: i64, b: i64) -> i64 {
    let d = (a - b).rem_euclid(86_400_000);
    d.min(86_400_000 - d)
}

#[test]
fn kernel_timestamp_tools_get_skiffs_time() {
    if !in_netns(
        "kernel_timestamp_tools_get_skiffs_time",
        &[IP, PING, HPING3],
    ) {
        return;
    }
    let d = Daemon::up(&["--tap", "skt0", "--addr", "10.9.7.2/24"]);
    assert!(d.ready.contains("skt0"), "{}", d.ready);
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/skt0/disable_ipv6", "1");
    run("ip", &["addr", "add", "10.9.7.1/24", "dev", "skt0"]);
    run("ip", &["link", "set", "skt0", "up"]);

    // ping -T tsonly: the kernel stamps on send, skiff on receive and on the reply, the
    // kernel again on receive: four slots, as between two Linux hosts. ping prints the
    // first absolute, the rest as differences (ms).
    let text = run(
        "timeout",
        &[
            "10", "ping", "-c", "2", "-W", "2", "-T", "tsonly", "10.9.7.2",
        ],
    );
    assert!(text.contains("2 received"), "{text}");
    let block: Vec<i64> = text
        .split("TS:")
        .nth(1)
        .unwrap_or_else(|| panic!("no TS: in\n{text}"))
        .lines()
        .map(|l| l.trim().trim_end_matches(" absolute"))
        .take_while(|l| !l.is_empty())
        .map(|l| l.parse().unwrap_or_else(|_| panic!("{l:?} in\n{text}")))
        .collect();
    assert_eq!(block.len(), 4, "four timestamps:\n{text}");
    assert!(
        block[1..].iter().all(|d| d.abs() < 1000),
        "skiff's clock agrees with the kernel's:\n{text}"
    );

    // hping3 --icmp-ts: every request answered with skiff's receive/transmit time.
    let out = std::process::Command::new("timeout")
        .args(["15", "hping3", "--icmp-ts", "-c", "2", "10.9.7.2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let stamps: Vec<[i64; 3]> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ICMP timestamp: "))
        .map(|l| {
            let v: Vec<i64> = l
                .split_whitespace()
                .map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap())
                .collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    assert_eq!(stamps.len(), 2, "two timestamp replies:\n{text}");
    for [orig, recv, xmit] in stamps {
        assert!(ms_apart(recv, orig) < 1000, "{text}");
        assert_eq!(recv, xmit, "{text}");
    }
    let rest = d.stop();
    assert!(rest.contains("SIGTERM"), "{rest}");
}

/// Copies frames both ways between two TAP devices until dropped, and keeps every frame
/// it copied: a user-space hop, so that a kernel peer behind it answers as late as skiff
/// on its TAP does.
struct Relay {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<Vec<u8>>>>,
}

impl Relay {
    fn new(a: &str, b: &str) -> Relay {
        use skiff_io::tap::{Tap, TapOptions, VNET_HDR_LEN};
        let taps = [a, b].map(|n| Tap::open(&TapOptions::tap(n)).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut hdr = [0u8; VNET_HDR_LEN];
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let mut fds = taps.each_ref().map(|t| libc::pollfd {
                    fd: t.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                // SAFETY: poll() reads and writes the two pollfds of the array it is given.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, 20) };
                for (from, to) in [(0, 1), (1, 0)] {
                    while let Ok(Some(n)) = taps[from].read(&mut hdr, &mut buf) {
                        let _ = taps[to].write(None, &buf[..n]);
                        seen.push(buf[..n].to_vec());
                    }
                }
            }
            seen
        });
        Relay {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the relay: every frame it copied.
    fn frames(mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The frames of a pcap file.
fn pcap_frames(file: &std::path::Path) -> Vec<Vec<u8>> {
    let mut r = skiff_io::pcap::PcapReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let mut frames = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        frames.push(rec.data);
    }
    frames
}

/// The Internet checksum of `b` folded: 0 when `b` holds a correct checksum.
fn inet_sum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// What a responder did with each of clockdiff's requests in `frames` (Ethernet, both
/// directions), clock values left out so that two responders can be compared: one line per
/// request, "unanswered" or the reply's shape. A timestamp reply must echo the originate
/// time and carry receive == transmit near it; an echo reply's timestamp option is given
/// as its header and which slots hold a time, each near the first.
fn clockdiff_answers(frames: &[Vec<u8>], client: Ipv4Addr) -> Vec<String> {
    let be32 = |b: &[u8], i: usize| i64::from(u32::from_be_bytes(b[i..i + 4].try_into().unwrap()));
    // (IP header, ICMP message) of each IPv4 ICMP frame.
    let icmp: Vec<(&[u8], &[u8])> = frames
        .iter()
        .filter(|f| f.len() >= 34 && f[12..14] == [8, 0] && f[23] == 1)
        .map(|f| {
            let ihl = usize::from(f[14] & 0xf) * 4;
            (&f[14..14 + ihl], &f[14 + ihl..])
        })
        .collect();
    let mut lines = Vec::new();
    for (ip, req) in &icmp {
        if ip[12..16] != client.octets() || !matches!(req[0], 8 | 13) {
            continue;
        }
        let reply = icmp.iter().find(|(rip, rep)| {
            rip[16..20] == client.octets()
                && rep[0] == if req[0] == 13 { 14 } else { 0 }
                && rep[4..8] == req[4..8]
        });
        let Some((rip, rep)) = reply else {
            lines.push("unanswered".to_string());
            continue;
        };
        let mut line = format!(
            "type={} code={} ttl={} tos={} frag={:02x}{:02x} from-target={} csum-ok={} len={}",
            rep[0],
            rep[1],
            rip[8],
            rip[1],
            rip[6],
            rip[7],
            rip[12..16] == ip[16..20],
            inet_sum(rep) == 0,
            rep.len(),
        );
        if rep[0] == 14 && rep.len() >= 20 {
            let (orig, recv, xmit) = (be32(rep, 8), be32(rep, 12), be32(rep, 16));
            line += &format!(
                " orig-echoed={} recv==xmit={} near={}",
                orig == be32(req, 8),
                recv == xmit,
                ms_apart(recv, orig) < 1000
            );
        }
        let opt = &rip[20..];
        if let [0x44, len, ptr, flags, ..] = *opt {
            let slots: Vec<(usize, i64)> = (4..usize::from(len).min(opt.len()))
                .step_by(8)
                .filter(|&i| i + 8 <= opt.len())
                .map(|i| (i, be32(opt, i + 4)))
                .collect();
            let first = slots.first().map_or(0, |s| s.1);
            let stamped: Vec<String> = slots
                .iter()
                .filter(|s| s.1 != 0)
                .map(|&(i, t)| {
                    format!(
                        "{}{}",
                        i / 8,
                        if ms_apart(t, first) < 1000 {
                            ""
                        } else {
                            "!far"
                        }
                    )
                })
                .collect();
            line += &format!(" ts-opt len={len} ptr={ptr} flags={flags:#04x} stamped={stamped:?}");
        }
        lines.push(line);
    }
    lines
}

/// clockdiff's verdict on `addr`, its numbers and the address replaced by their kind.
fn clockdiff_verdict(mode: &str, addr: &str) -> (bool, String) {
    let mut args = vec!["30", "clockdiff"];
    if !mode.is_empty() {
        args.push(mode);
    }
    args.push(addr);
    let out = std::process::Command::new("timeout")
        .args(&args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.replace(addr, "HOST");
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|w| if w.parse::<i64>().is_ok() { "N" } else { w })
        .collect();
    let shape = words.join(" ");
    (out.status.success(), shape)
}

/// Whether this clockdiff waits at least 1 ms for a reply (iputils 20231222 on). Before,
/// its wait (the smoothed round trip in whole milliseconds) falls to 0 once replies come
/// back in under a millisecond, and any reply not already queued when it polls counts as
/// lost: 11 in a row and the peer is "down". Only a reply the kernel makes inside the
/// sender's own sendto() (a peer over veth) is that early.
fn clockdiff_waits_a_millisecond() -> bool {
    let out = run("clockdiff", &["-V"]);
    let version: u32 = out
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no version in {out:?}"));
    version >= 20231222
}

/// clockdiff (ICMP timestamps, and `-o`: echo with the IP timestamp option) against skiff
/// on its TAP and against Linux behind a TAP and a user-space relay: every request answered
/// as Linux answers it, and a verdict of the same shape. With iputils before 20231222 the
/// verdict is mostly "down" for both (see [`clockdiff_waits_a_millisecond`]); over veth
/// Linux answers inside the sender's sendto() and clockdiff measures.
#[test]
fn kernel_clockdiff_gets_the_same_answer_from_skiff_as_from_linux() {
    if !in_netns(
        "kernel_clockdiff_gets_the_same_answer_from_skiff_as_from_linux",
        &[IP, CLOCKDIFF],
    ) {
        return;
    }
    let modes = ["", "-o"];
    // Linux behind one user-space hop: cdk0 (here) <-> relay <-> cdk1 (in the namespace).
    let relay = Relay::new("cdk0", "cdk1");
    let ns = Netns::new();
    ns.take("cdk1");
    ns.exec("ip", &["addr", "add", "10.9.6.2/24", "dev", "cdk1"]);
    ns.exec("ip", &["link", "set", "cdk1", "up"]);
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/cdk0/disable_ipv6", "1");
    run("ip", &["addr", "add", "10.9.6.1/24", "dev", "cdk0"]);
    run("ip", &["link", "set", "cdk0", "up"]);
    let linux: Vec<(bool, String)> = modes
        .iter()
        .map(|m| clockdiff_verdict(m, "10.9.6.2"))
        .collect();
    // Replies to clockdiff's last requests, sent as it gave up, are still on their way.
    std::thread::sleep(Duration::from_millis(500));
    let linux_answers = clockdiff_answers(&relay.frames(), Ipv4Addr::new(10, 9, 6, 1));

    // skiff on its TAP, the same way.
    let pcap = tmp("clockdiff.pcap");
    let ctl = tmp("clockdiff.sock");
    let d = Daemon::up(&[
        "--tap",
        "skc0",
        "--addr",
        "10.9.7.2/24",
        "--ctl",
        ctl.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/skc0/disable_ipv6", "1");
    run("ip", &["addr", "add", "10.9.7.1/24", "dev", "skc0"]);
    run("ip", &["link", "set", "skc0", "up"]);
    let skiff: Vec<(bool, String)> = modes
        .iter()
        .map(|m| clockdiff_verdict(m, "10.9.7.2"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let rest = d.stop();
    assert!(rest.contains("SIGTERM"), "{rest}");
    check_capture(&pcap, 20);
    let skiff_answers = clockdiff_answers(&pcap_frames(&pcap), Ipv4Addr::new(10, 9, 7, 1));

    // A measurement or "down", nothing else (a wrong timestamp, a non-standard format). With
    // a clockdiff that waits at least 1 ms both measure; an older one says "down" or not
    // depending on how late the replies come (under load Linux behind the relay is
    // measured), so there only the answers below tell skiff from Linux.
    let measured = (true, "N N N".to_string());
    let down = (false, "clockdiff: HOST is down".to_string());
    for v in skiff.iter().chain(&linux) {
        assert!(
            *v == measured || *v == down,
            "clockdiff {modes:?}: skiff {skiff:?}, Linux {linux:?}"
        );
    }
    if clockdiff_waits_a_millisecond() {
        assert_eq!(
            skiff,
            [measured.clone(), measured.clone()],
            "Linux: {linux:?}"
        );
        assert_eq!(linux, skiff);
    }
    let dedup =
        |v: &[String]| -> std::collections::BTreeSet<String> { v.iter().cloned().collect() };
    let dedup_len = |v: &[String]| dedup(v).len();
    // Every request answered, each answer shaped as Linux's.
    assert!(skiff_answers.len() >= 20, "{skiff_answers:#?}");
    assert_eq!(dedup_len(&linux_answers), modes.len(), "{linux_answers:#?}");
    assert_eq!(
        dedup(&skiff_answers),
        dedup(&linux_answers),
        "skiff's answers, then Linux's"
    );
    assert!(!skiff_answers.contains(&"unanswered".to_string()));
}

#[test]
fn kernel_udp_gso_reaches_skiff_with_and_without_offload() {
    if !in_netns(
        "kernel_udp_gso_reaches_skiff_with_and_without_offload",
        &[IP, PING],
    ) {
        return;
    }
    // No --ctl: the daemon listens at the default path, named after its interface.
    let ctl = "/run/skiff/skg0.sock";
    for offload in [true, false] {
        let mut args = vec!["--tap", "skg0", "--addr", "10.9.1.2/24", "--udp-echo", "7"];
        if !offload {
            args.push("--no-offload");
        }
        let d = Daemon::up(&args);
        run("ip", &["addr", "add", "10.9.1.1/24", "dev", "skg0"]);
        run("ip", &["link", "set", "skg0", "up"]);
        run("ping", &["-c", "1", "-W", "2", "10.9.1.2"]);

        let packets = kernel_gso_to_echo(ctl, "10.9.1.1", "10.9.1.2");
        assert_eq!(snmp(ctl, "UdpInDatagrams"), 10);
        // With offloads skiff takes the kernel's super-packet whole (and cuts it for the
        // socket); without, the kernel cut it before the TAP.
        assert_eq!(packets, if offload { 1 } else { 10 }, "offload {offload}");
        println!("offload {offload}: 14 KB arrived as {packets} IP packet(s), 10 datagrams");
        d.stop();
    }
}

#[test]
fn skiff_up_serves_the_kernel_on_a_tun_device() {
    if !in_netns("skiff_up_serves_the_kernel_on_a_tun_device", &[IP, PING]) {
        return;
    }
    let cfg = tmp("tun.toml");
    std::fs::write(
        &cfg,
        "[[interface]]\nname = \"skn0\"\nkind = \"tun\"\naddress = \"10.9.3.2/24\"\n",
    )
    .unwrap();
    let ctl = tmp("tun.sock");
    let ctl = ctl.to_str().unwrap();
    let pcap = tmp("tun.pcap");
    let d = Daemon::up(&[
        "--config",
        cfg.to_str().unwrap(),
        "--udp-echo",
        "7",
        "--ctl",
        ctl,
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(d.ready.contains("skn0 tun 10.9.3.2/24"), "{}", d.ready);
    run("ip", &["addr", "add", "10.9.3.1/24", "dev", "skn0"]);
    run("ip", &["link", "set", "skn0", "up"]);
    kernel_pings("10.9.3.2", &[("3", "56"), ("3", "1472"), ("2", "8000")]);
    // A kernel UDP_SEGMENT send crosses the TUN whole (vnet_hdr) and is echoed per segment.
    assert_eq!(
        kernel_gso_to_echo(ctl, "10.9.3.1", "10.9.3.2"),
        1,
        "one super-packet"
    );
    let (_, neigh, _) = Daemon::ctl(ctl, &["neigh"]);
    assert_eq!(neigh, "", "no ARP on a TUN device");
    d.stop();
    check_capture(&pcap, 30);
}

#[test]
fn a_multi_queue_tap_gets_one_worker_per_queue() {
    if !in_netns("a_multi_queue_tap_gets_one_worker_per_queue", &[IP, PING]) {
        return;
    }
    let cfg = tmp("mq.toml");
    std::fs::write(
        &cfg,
        "[[interface]]\nname = \"skm0\"\naddress = \"10.9.4.2/24\"\nqueues = 2\n",
    )
    .unwrap();
    let ctl = tmp("mq.sock");
    let ctl = ctl.to_str().unwrap();
    let d = Daemon::up(&[
        "--config",
        cfg.to_str().unwrap(),
        "--udp-echo",
        "7",
        "--ctl",
        ctl,
    ]);
    assert!(d.ready.contains("queues 2"), "{}", d.ready);
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", d.pid()))
        .unwrap()
        .map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).unwrap())
        .collect();
    assert!(
        threads.iter().any(|t| t.trim() == "skiff-q1"),
        "a second worker: {threads:?}"
    );
    run("ip", &["addr", "add", "10.9.4.1/24", "dev", "skm0"]);
    run("ip", &["link", "set", "skm0", "up"]);
    let text = run("ping", &["-c", "20", "-i", "0.01", "-W", "2", "10.9.4.2"]);
    assert!(text.contains("20 received"), "{text}");
    // Many flows, which the kernel spreads over the queues by hash; every one answered.
    let mut buf = [0u8; 2048];
    for i in 0..32u8 {
        let sock = UdpSocket::bind("10.9.4.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let data = pattern(100 + usize::from(i) * 40, i);
        sock.send_to(&data, "10.9.4.2:7").unwrap();
        let n = sock.recv(&mut buf).expect("echoed");
        assert!(buf[..n] == data[..], "flow {i}");
    }
    assert_eq!(snmp(ctl, "UdpInDatagrams"), 32);
    d.stop();
}

/// skiff routing between namespace A (10.1.0.1, MTU 1500) and B (10.2.0.1, MTU 1280).
struct Router {
    daemon: Daemon,
    a: Netns,
    b: Netns,
    ctl: String,
}

/// `queues_a`: queues of skiff's A-side TAP (the B side has one).
fn router(offload: bool, queues_a: u16, pcap: Option<&str>) -> Router {
    let cfg = tmp(&format!("router-{offload}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[[interface]]\nname = \"skra\"\naddress = \"10.1.0.2/24\"\noffload = {offload}\n\
             queues = {queues_a}\n\n\
             [[interface]]\nname = \"skrb\"\naddress = \"10.2.0.2/24\"\nmtu = 1280\noffload = {offload}\n"
        ),
    )
    .unwrap();
    let ctl = tmp(&format!("router-{offload}.sock"));
    let ctl = ctl.to_str().unwrap().to_string();
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "--forward",
        "--ctl",
        &ctl,
    ];
    if let Some(p) = pcap {
        args.extend(["--pcap", p]);
    }
    let daemon = Daemon::up(&args);
    let (a, b) = (Netns::new(), Netns::new());
    a.take("skra");
    b.take("skrb");
    a.exec("ip", &["addr", "add", "10.1.0.1/24", "dev", "skra"]);
    a.exec("ip", &["link", "set", "skra", "up"]);
    a.exec("ip", &["route", "add", "10.2.0.0/24", "via", "10.1.0.2"]);
    b.exec("ip", &["addr", "add", "10.2.0.1/24", "dev", "skrb"]);
    b.exec("ip", &["link", "set", "skrb", "mtu", "1280", "up"]);
    b.exec("ip", &["route", "add", "10.1.0.0/24", "via", "10.2.0.2"]);
    Router { daemon, a, b, ctl }
}

#[test]
fn skiff_routes_between_two_namespaces() {
    if !in_netns("skiff_routes_between_two_namespaces", &[IP, PING]) {
        return;
    }
    let pcap = tmp("router.pcap");
    // Two queues toward A, one toward B: whichever worker receives a packet sends it on.
    let r = router(true, 2, Some(pcap.to_str().unwrap()));
    let ctl = r.ctl.as_str();

    // Ping across.
    let text =
        r.a.exec("ping", &["-c", "3", "-i", "0.05", "-W", "2", "10.2.0.1"]);
    assert!(text.contains("3 packets transmitted, 3 received"), "{text}");

    // TTL expiry, seen by the sender.
    let (ok, text) =
        r.a.try_exec("ping", &["-c", "1", "-W", "2", "-t", "1", "10.2.0.1"]);
    assert!(
        !ok && text.contains("From 10.1.0.2") && text.contains("Time to live exceeded"),
        "{text}"
    );

    // Many flows from A, which the kernel spreads over skra's two queues: all cross.
    let rx = r.b.enter(|| UdpSocket::bind("10.2.0.1:9001").unwrap());
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 65536];
    for i in 0..32u8 {
        let tx = r.a.enter(|| UdpSocket::bind("10.1.0.1:0").unwrap());
        let data = pattern(64 + usize::from(i), i);
        tx.send_to(&data, "10.2.0.1:9001").unwrap();
        let n = rx.recv(&mut buf).expect("every flow crosses");
        assert!(buf[..n] == data[..], "flow {i}");
    }

    // UDP across the 1500 → 1280 path without DF: skiff fragments, B reassembles.
    let rx = r.b.enter(|| UdpSocket::bind("10.2.0.1:9000").unwrap());
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx = r.a.enter(|| UdpSocket::bind("10.1.0.1:0").unwrap());
    setsockopt_int(
        &tx,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_DONT,
    );
    let data = pattern(3000, 3);
    let frag_before = snmp(ctl, "IpFragCreates");
    tx.send_to(&data, "10.2.0.1:9000").unwrap();
    let n = rx.recv(&mut buf).expect("the datagram crosses");
    assert!(buf[..n] == data[..], "reassembled intact");
    assert!(
        snmp(ctl, "IpFragCreates") - frag_before >= 3,
        "skiff cut 3000 bytes for MTU 1280"
    );

    // With DF: frag-needed, and the kernel learns the path MTU.
    let df = r.a.enter(|| UdpSocket::bind("10.1.0.1:0").unwrap());
    setsockopt_int(
        &df,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_DO,
    );
    let fails_before = snmp(ctl, "IpFragFails");
    df.send_to(&pattern(1400, 4), "10.2.0.1:9000").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = r.a.exec("ip", &["route", "get", "10.2.0.1"]);
        if text.contains("mtu 1280") {
            println!("A learned: {}", text.lines().next().unwrap_or(""));
            break;
        }
        assert!(Instant::now() < deadline, "no path MTU learned:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(snmp(ctl, "IpFragFails") - fails_before, 1);
    assert_eq!(snmp(ctl, "IcmpMsgOutType3"), 1, "one frag-needed went back");
    let e = df
        .send_to(&pattern(1400, 4), "10.2.0.1:9000")
        .expect_err("the kernel now refuses 1400 bytes with DF");
    assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));

    let rest = r.daemon.stop();
    assert!(
        rest.contains("Ip: 1 64"),
        "forwarding on at the end:\n{rest}"
    );
    check_capture(&pcap, 20);
}

/// 200 MB from A to B across skiff, hashed at both ends; returns MB/s.
fn tcp_bulk(r: &Router, total: usize) -> f64 {
    let listener = r.b.enter(|| TcpListener::bind("10.2.0.1:5001").unwrap());
    let receiver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut h = std::hash::DefaultHasher::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0usize;
        loop {
            let n = s.read(&mut buf).expect("the transfer does not stall");
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
            got += n;
        }
        (got, h.finish())
    });
    let mut s =
        r.a.enter(|| TcpStream::connect(SocketAddrV4::new(Ipv4Addr::new(10, 2, 0, 1), 5001)))
            .expect("TCP connects across skiff");
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut h = std::hash::DefaultHasher::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 16];
    let start = Instant::now();
    let mut sent = 0;
    while sent < total {
        for w in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
        }
        let n = chunk.len().min(total - sent);
        s.write_all(&chunk[..n])
            .expect("the transfer does not stall");
        h.write(&chunk[..n]);
        sent += n;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let (got, hash) = receiver.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, total, "every byte arrived");
    assert_eq!(hash, h.finish(), "the bytes arrived unchanged");
    total as f64 / secs / 1e6
}

#[test]
fn tcp_bulk_across_skiff_with_offloads_on_and_off() {
    if !in_netns("tcp_bulk_across_skiff_with_offloads_on_and_off", &[IP]) {
        return;
    }
    for offload in [true, false] {
        let r = router(offload, 1, None);
        let ctl = r.ctl.clone();
        let before = snmp(&ctl, "IpForwDatagrams");
        let rate = tcp_bulk(&r, 200 << 20);
        let forwarded = snmp(&ctl, "IpForwDatagrams") - before;
        println!("offload {offload}: 200 MB in {rate:.0} MB/s, {forwarded} packets forwarded");
        r.daemon.stop();
    }
}

// Multicast routing: skiff between kernel hosts in three namespaces, A (sender) on skiff's
// vif 0, B and C (receivers) on vifs 1 and 2. The kernel hosts do IGMPv3 and multicast
// sockets as usual; skiff forwards by its MFC (Linux ipmr.c).

const MC_PORT: u16 = 5000;
const MC_SRC: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
/// The kernel side of each link: A, B, C.
const MC_HOSTS: [Ipv4Addr; 3] = [
    MC_SRC,
    Ipv4Addr::new(10, 12, 0, 1),
    Ipv4Addr::new(10, 13, 0, 1),
];

/// Three namespaces A, B, C, each holding one of `taps` (skiff's, already created) with
/// MC_HOSTS[i]/24, routes to the other links via skiff, and no IPv6 chatter.
fn mc_hosts(taps: [&str; 3]) -> [Netns; 3] {
    let ns = [Netns::new(), Netns::new(), Netns::new()];
    for (i, (n, tap)) in ns.iter().zip(taps).enumerate() {
        n.take(tap);
        let tap = tap.to_string();
        n.enter(move || {
            let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{tap}/disable_ipv6"), "1");
        });
        let me = MC_HOSTS[i];
        n.exec("ip", &["addr", "add", &format!("{me}/24"), "dev", taps[i]]);
        n.exec("ip", &["link", "set", taps[i], "up"]);
        let gw = Ipv4Addr::new(10, 11 + i as u8, 0, 2).to_string();
        for (j, other) in MC_HOSTS.iter().enumerate() {
            if j != i {
                let o = other.octets();
                let net = format!("{}.{}.0.0/24", o[0], o[1]);
                n.exec("ip", &["route", "add", &net, "via", &gw]);
            }
        }
    }
    ns
}

/// A kernel UDP socket in `ns` joined to `group` on `iface` (IP_ADD_MEMBERSHIP).
fn mc_receiver(ns: &Netns, group: Ipv4Addr, iface: Ipv4Addr) -> UdpSocket {
    let s = ns.enter(move || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, MC_PORT)).unwrap();
        s.join_multicast_v4(&group, &iface).unwrap();
        s
    });
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

/// A kernel UDP socket in A sending with IP_MULTICAST_IF = A's address and `ttl`.
fn mc_sender(a: &Netns, ttl: u32) -> UdpSocket {
    let s = a.enter(|| UdpSocket::bind((MC_SRC, 0)).unwrap());
    s.set_multicast_ttl_v4(ttl).unwrap();
    let ifaddr = libc::in_addr {
        s_addr: u32::from(MC_SRC).to_be(),
    };
    // SAFETY: setsockopt reads one in_addr through the pointer, of the size given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&ifaddr as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "IP_MULTICAST_IF: {}", std::io::Error::last_os_error());
    s
}

/// Sends datagrams `seqs` (each a 4-byte sequence number and 100 bytes of pattern) to
/// `group`, 5 ms apart.
fn mc_send(s: &UdpSocket, group: Ipv4Addr, seqs: std::ops::Range<u32>) {
    for seq in seqs {
        let mut d = seq.to_be_bytes().to_vec();
        d.extend(pattern(100, seq as u8));
        s.send_to(&d, (group, MC_PORT)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The sequence numbers a receiver gets until 500 ms pass without one (at most 1000).
fn mc_received(s: &UdpSocket) -> Vec<u32> {
    mc_received_from(s, MC_SRC)
}

/// mc_received() for datagrams from `src`.
fn mc_received_from(s: &UdpSocket, src: Ipv4Addr) -> Vec<u32> {
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while got.len() < 1000 {
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_eq!(from, SocketAddrV4::new(src, from.port()).into());
                assert_eq!(n, 104);
                let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                assert!(
                    buf[4..n] == pattern(100, seq as u8)[..],
                    "datagram {seq} intact"
                );
                got.push(seq);
            }
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                break;
            }
        }
    }
    got
}

/// `skiff ctl mroute`: the vif lines (index, BytesIn, PktsIn, BytesOut, PktsOut) and the
/// cache lines (group, origin, iif, pkts, bytes, wrong, oifs as "vif:ttl").
type VifLine = (usize, u64, u64, u64, u64);
type MfcLine = (String, String, i32, u64, u64, u64, Vec<String>);
fn ctl_mroute(ctl: &str) -> (Vec<VifLine>, Vec<MfcLine>, String) {
    let (ok, text, err) = Daemon::ctl(ctl, &["mroute"]);
    assert!(ok, "ctl mroute: {err}");
    let (vifs, cache) = text
        .split_once("Group    Origin")
        .unwrap_or_else(|| panic!("{text}"));
    let mut v = Vec::new();
    for l in vifs.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        v.push((f[0].parse().unwrap(), n(2), n(3), n(4), n(5)));
    }
    let mut c = Vec::new();
    for l in cache.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        c.push((
            f[0].to_string(),
            f[1].to_string(),
            f[2].parse().unwrap(),
            n(3),
            n(4),
            n(5),
            f[6..].iter().map(|s| s.to_string()).collect(),
        ));
    }
    (v, c, text)
}

/// /proc's hex of an address (the bytes as a little-endian u32).
fn proc_hex(a: Ipv4Addr) -> String {
    format!("{:08X}", u32::from_le_bytes(a.octets()))
}

/// skiff up with `[[vif]]` on its three TAPs and `mroutes` (TOML) as static entries.
fn mc_static_router(name: &str, mroutes: &str) -> (Daemon, [Netns; 3], String) {
    let mut vifs = String::new();
    for (i, t) in ["skma", "skmb", "skmc"].iter().enumerate() {
        vifs.push_str(&format!("[[vif]]\nindex = {i}\ninterface = \"{t}\"\n\n"));
    }
    mc_router(name, &vifs, mroutes)
}

/// skiff up on its three TAPs with `vifs` and `mroutes` (TOML), and the namespaces.
fn mc_router(name: &str, vifs: &str, mroutes: &str) -> (Daemon, [Netns; 3], String) {
    let cfg = tmp(&format!("{name}.toml"));
    let mut text = String::new();
    for (i, t) in ["skma", "skmb", "skmc"].iter().enumerate() {
        text.push_str(&format!(
            "[[interface]]\nname = \"{t}\"\naddress = \"10.{}.0.2/24\"\n\n",
            11 + i
        ));
    }
    text.push_str(vifs);
    text.push_str(mroutes);
    std::fs::write(&cfg, text).unwrap();
    let ctl = tmp(&format!("{name}.sock"));
    let ctl = ctl.to_str().unwrap().to_string();
    let d = Daemon::up(&["--config", cfg.to_str().unwrap(), "--ctl", &ctl]);
    let ns = mc_hosts(["skma", "skmb", "skmc"]);
    (d, ns, ctl)
}

#[test]
fn static_mroutes_carry_kernel_multicast_to_two_receivers() {
    if !in_netns(
        "static_mroutes_carry_kernel_multicast_to_two_receivers",
        &[IP],
    ) {
        return;
    }
    let g = Ipv4Addr::new(239, 1, 1, 1);
    let (d, [a, b, c], ctl) = mc_static_router(
        "mc-static",
        "[[mroute]]\nsource = \"10.11.0.1\"\ngroup = \"239.1.1.1\"\niif = \"skma\"\n\
         oifs = [\"skmb\", 2]\n",
    );
    let rb = mc_receiver(&b, g, MC_HOSTS[1]);
    let rc = mc_receiver(&c, g, MC_HOSTS[2]);
    let tx = mc_sender(&a, 8);
    mc_send(&tx, g, 0..20);
    let want: Vec<u32> = (0..20).collect();
    assert_eq!(mc_received(&rb), want, "B gets every datagram");
    assert_eq!(mc_received(&rc), want, "C gets every datagram");

    let (vifs, cache, text) = ctl_mroute(&ctl);
    println!("{text}");
    // 104 bytes of data + 8 UDP + 20 IP.
    assert_eq!(vifs[0], (0, 20 * 132, 20, 0, 0), "{text}");
    assert_eq!(vifs[1], (1, 0, 0, 20 * 132, 20), "{text}");
    assert_eq!(vifs[2], (2, 0, 0, 20 * 132, 20), "{text}");
    let entry = cache
        .iter()
        .find(|e| e.0 == proc_hex(g))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        entry,
        &(
            proc_hex(g),
            proc_hex(MC_SRC),
            0,
            20,
            20 * 132,
            0,
            vec!["1:1".to_string(), "2:1".to_string()]
        ),
        "{text}"
    );
    assert!(
        text.starts_with(
            "Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n 0 skma "
        ),
        "{text}"
    );
    assert!(snmp(&ctl, "IpForwDatagrams") >= 40);
    d.stop();
}

#[test]
fn a_ttl_threshold_stops_one_branch() {
    if !in_netns("a_ttl_threshold_stops_one_branch", &[IP]) {
        return;
    }
    let g = Ipv4Addr::new(239, 1, 1, 2);
    let (d, [a, b, c], ctl) = mc_static_router(
        "mc-ttl",
        "[[mroute]]\nsource = \"10.11.0.1\"\ngroup = \"239.1.1.2\"\niif = 0\n\
         oifs = [1, { vif = \"skmc\", ttl = 16 }]\n",
    );
    let rb = mc_receiver(&b, g, MC_HOSTS[1]);
    let rc = mc_receiver(&c, g, MC_HOSTS[2]);
    // TTL 8 is not above C's threshold of 16: only B.
    let tx = mc_sender(&a, 8);
    mc_send(&tx, g, 0..10);
    assert_eq!(mc_received(&rb), (0..10).collect::<Vec<_>>());
    assert_eq!(mc_received(&rc), Vec::<u32>::new(), "C's branch is cut");
    let (vifs, _, text) = ctl_mroute(&ctl);
    assert_eq!((vifs[1].4, vifs[2].4), (10, 0), "{text}");
    // TTL 17 passes it: both.
    let tx = mc_sender(&a, 17);
    mc_send(&tx, g, 10..15);
    assert_eq!(mc_received(&rb), (10..15).collect::<Vec<_>>());
    assert_eq!(mc_received(&rc), (10..15).collect::<Vec<_>>());
    let (vifs, cache, text) = ctl_mroute(&ctl);
    assert_eq!((vifs[1].4, vifs[2].4), (15, 5), "{text}");
    assert_eq!(cache[0].3, 15, "{text}");
    assert_eq!(cache[0].6, vec!["1:1", "2:16"], "{text}");
    d.stop();
}

// A DVMRP tunnel vif against the kernel. The kernel here has no ipip module, so the
// tunnel's far end T is a kernel host with a raw IPPROTO_IPIP socket, which reads each
// IPIP packet sent to it (outer header included) and sends IPIP with the kernel's outer
// header.

/// The Internet checksum of `parts` laid end to end (each of even length but the last).
fn inet_csum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut bytes = parts.iter().flat_map(|p| p.iter().copied());
    while let Some(hi) = bytes.next() {
        let lo = bytes.next().unwrap_or(0);
        sum += u32::from(u16::from_be_bytes([hi, lo]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw IPPROTO_IPIP socket in `ns`, reads bounded by 1 s.
fn ipip_socket(ns: &Netns) -> std::os::fd::OwnedFd {
    ns.enter(ipip_socket_here)
}

/// A raw IPPROTO_IPIP socket in this thread's namespace, reads bounded by 1 s.
fn ipip_socket_here() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: socket() has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_IPIP) };
    assert!(
        fd >= 0,
        "raw IPIP socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `fd` is a descriptor we just opened and own from here on.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: setsockopt reads one timeval through the pointer, of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
    fd
}

/// The next IPIP packet (outer header first), or None after 1 s without one.
fn ipip_recv(fd: &std::os::fd::OwnedFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the buffer is live and writable for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// Sends `inner` (an IPv4 packet) to `to` through the raw IPIP socket: the kernel puts
/// the outer header (protocol 4, from its own address) in front.
fn ipip_send(fd: &std::os::fd::OwnedFd, to: Ipv4Addr, inner: &[u8]) {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(to).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the buffer and the address are live for the call, with the lengths given.
    let r = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            inner.as_ptr().cast(),
            inner.len(),
            0,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(
        r,
        inner.len() as isize,
        "sendto: {}",
        std::io::Error::last_os_error()
    );
}

/// A UDP datagram from `src` to `group`:MC_PORT as mc_send() makes them (sequence number
/// and 100 bytes of pattern), with TTL `ttl` and both checksums.
fn mc_datagram(src: Ipv4Addr, group: Ipv4Addr, ttl: u8, seq: u32) -> Vec<u8> {
    let mut data = seq.to_be_bytes().to_vec();
    data.extend(pattern(100, seq as u8));
    let ulen = (8 + data.len()) as u16;
    let mut udp = Vec::with_capacity(usize::from(ulen));
    udp.extend(4000u16.to_be_bytes());
    udp.extend(MC_PORT.to_be_bytes());
    udp.extend(ulen.to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(&data);
    let mut pseudo = src.octets().to_vec();
    pseudo.extend(group.octets());
    pseudo.extend([0, 17]);
    pseudo.extend(ulen.to_be_bytes());
    let c = inet_csum(&[&pseudo, &udp]);
    udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend((20 + ulen).to_be_bytes());
    ip.extend((seq as u16).to_be_bytes());
    ip.extend([0, 0, ttl, 17, 0, 0]);
    ip.extend(src.octets());
    ip.extend(group.octets());
    let c = inet_csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend(udp);
    ip
}

#[test]
fn a_tunnel_vif_carries_multicast_to_and_from_a_kernel_ipip_end() {
    if !in_netns(
        "a_tunnel_vif_carries_multicast_to_and_from_a_kernel_ipip_end",
        &[IP],
    ) {
        return;
    }
    // vif 0: A's TAP; vif 1: a tunnel to T (namespace B, reached through skmb, which is
    // no vif); vif 2: C's TAP. Out: A's (S,G) into the tunnel. In: a source S behind T,
    // from the tunnel to C.
    let (local, t) = (Ipv4Addr::new(10, 12, 0, 2), MC_HOSTS[1]);
    let (g_out, g_in) = (Ipv4Addr::new(239, 1, 1, 3), Ipv4Addr::new(239, 1, 1, 4));
    let s_in = Ipv4Addr::new(10, 99, 0, 1);
    let (d, [a, tns, c], ctl) = mc_router(
        "mc-tunnel",
        &format!(
            "[[vif]]\nindex = 0\ninterface = \"skma\"\n\n\
             [[vif]]\nindex = 1\ntunnel = {{ local = \"{local}\", remote = \"{t}\" }}\n\n\
             [[vif]]\nindex = 2\ninterface = \"skmc\"\n\n"
        ),
        &format!(
            "[[mroute]]\nsource = \"{MC_SRC}\"\ngroup = \"{g_out}\"\niif = \"skma\"\noifs = [1]\n\n\
             [[mroute]]\nsource = \"{s_in}\"\ngroup = \"{g_in}\"\niif = 1\noifs = [\"skmc\"]\n"
        ),
    );
    // C reaches S through skiff (for its rp_filter, if the namespace inherited one).
    c.exec("ip", &["route", "add", "10.99.0.0/24", "via", "10.13.0.2"]);
    let raw = ipip_socket(&tns);

    // 1. Kernel multicast from A leaves by the tunnel: IPIP from `local` to T.
    let tx = mc_sender(&a, 8);
    mc_send(&tx, g_out, 0..20);
    let mut got = Vec::new();
    while got.len() < 20 {
        let Some(p) = ipip_recv(&raw) else { break };
        assert_eq!(p.len(), 20 + 20 + 8 + 104, "{p:02x?}");
        let (outer, inner) = p.split_at(20);
        assert_eq!(outer[0], 0x45, "outer version and IHL");
        assert_eq!(
            u16::from_be_bytes([outer[2], outer[3]]),
            152,
            "outer length"
        );
        assert_eq!(outer[6] & 0x40, 0, "no DF on the outer header (ip_encap)");
        assert_eq!(outer[9], 4, "outer protocol IPIP");
        assert_eq!(
            &outer[12..16],
            &local.octets(),
            "outer source: the local end"
        );
        assert_eq!(&outer[16..20], &t.octets(), "outer destination: T");
        assert_eq!(inet_csum(&[outer]), 0, "outer checksum");
        assert_eq!(inner[0], 0x45);
        assert_eq!(
            u16::from_be_bytes([inner[2], inner[3]]),
            132,
            "inner length"
        );
        assert_eq!(inner[8], 7, "inner TTL 8 - 1");
        assert_eq!(outer[8], inner[8], "outer TTL is the inner one (ip_encap)");
        assert_eq!(outer[1], inner[1], "outer TOS is the inner one");
        assert_eq!(inner[9], 17);
        assert_eq!(&inner[12..16], &MC_SRC.octets());
        assert_eq!(&inner[16..20], &g_out.octets());
        assert_eq!(
            inet_csum(&[&inner[..20]]),
            0,
            "inner checksum after TTL - 1"
        );
        let udp = &inner[20..];
        assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), MC_PORT);
        assert_eq!(u16::from_be_bytes([udp[4], udp[5]]), 112);
        let seq = u32::from_be_bytes(udp[8..12].try_into().unwrap());
        assert!(
            udp[12..] == pattern(100, seq as u8)[..],
            "datagram {seq} intact"
        );
        got.push(seq);
    }
    assert_eq!(
        got,
        (0..20).collect::<Vec<_>>(),
        "T gets every datagram, in order"
    );
    assert!(ipip_recv(&raw).is_none(), "and nothing more");

    // 2. IPIP from T to `local`: decapsulated on dvmrp1, forwarded as arriving on vif 1.
    let rc = mc_receiver(&c, g_in, MC_HOSTS[2]);
    for seq in 0..10 {
        ipip_send(&raw, local, &mc_datagram(s_in, g_in, 8, seq));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        mc_received_from(&rc, s_in),
        (0..10).collect::<Vec<_>>(),
        "C gets every decapsulated datagram"
    );

    let (vifs, cache, text) = ctl_mroute(&ctl);
    println!("{text}");
    assert_eq!(vifs[0], (0, 20 * 132, 20, 0, 0), "{text}");
    assert_eq!(vifs[1], (1, 10 * 132, 10, 20 * 132, 20), "{text}");
    assert_eq!(vifs[2], (2, 0, 0, 10 * 132, 10), "{text}");
    // The tunnel's line in /proc/net/ip_mr_vif: the dvmrp device, VIFF_TUNNEL, both ends.
    assert!(
        text.contains(&format!(
            " 1 {:<10} {:>8} {:>7}  {:>8} {:>7} 00001 {} {}\n",
            "dvmrp1",
            10 * 132,
            10,
            20 * 132,
            20,
            proc_hex(local),
            proc_hex(t)
        )),
        "{text}"
    );
    let entry = |g: Ipv4Addr| {
        cache
            .iter()
            .find(|e| e.0 == proc_hex(g))
            .unwrap_or_else(|| panic!("{text}"))
    };
    assert_eq!(
        entry(g_out),
        &(
            proc_hex(g_out),
            proc_hex(MC_SRC),
            0,
            20,
            20 * 132,
            0,
            vec!["1:1".to_string()]
        ),
        "{text}"
    );
    assert_eq!(
        entry(g_in),
        &(
            proc_hex(g_in),
            proc_hex(s_in),
            1,
            10,
            10 * 132,
            0,
            vec!["2:1".to_string()]
        ),
        "{text}"
    );
    d.stop();
}

/// An IPv4 header (no options, ID 1, TTL 64, no DF) with its checksum, then `payload`.
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend(((20 + payload.len()) as u16).to_be_bytes());
    ip.extend([0, 1, 0, 0, 64, proto, 0, 0]);
    ip.extend(src.octets());
    ip.extend(dst.octets());
    let c = inet_csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend(payload);
    ip
}

#[test]
fn an_ipip_tunnel_device_answers_a_kernel_ipip_end_through_the_tunnel() {
    if !in_netns(
        "an_ipip_tunnel_device_answers_a_kernel_ipip_end_through_the_tunnel",
        &[IP],
    ) {
        return;
    }
    let (k, sk) = (Ipv4Addr::new(10, 9, 7, 1), Ipv4Addr::new(10, 9, 7, 2));
    let (k_in, sk_in) = (
        Ipv4Addr::new(192, 168, 77, 1),
        Ipv4Addr::new(192, 168, 77, 2),
    );
    let cfg = tmp("ipip.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[interface]]\nname = \"skt0\"\naddress = \"{sk}/24\"\n\n\
             [[tunnel]]\nname = \"tun0\"\nmode = \"ipip\"\nlocal = \"{sk}\"\nremote = \"{k}\"\naddress = \"{sk_in}/30\"\n"
        ),
    )
    .unwrap();
    let ctl = tmp("ipip.sock");
    let ctl = ctl.to_str().unwrap();
    let d = Daemon::up(&[
        "--config",
        cfg.to_str().unwrap(),
        "--udp-echo",
        "7",
        "--ctl",
        ctl,
    ]);
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/skt0/disable_ipv6", "1");
    run("ip", &["addr", "add", &format!("{k}/24"), "dev", "skt0"]);
    run("ip", &["link", "set", "skt0", "up"]);
    // The kernel has no ipip module: a raw IPPROTO_IPIP socket is the tunnel's far end.
    let raw = ipip_socket_here();
    setsockopt_int(&raw, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20);
    // The next IPIP packet from skiff, checked outside: (outer, inner).
    let from_skiff = || -> (Vec<u8>, Vec<u8>) {
        for _ in 0..5 {
            let p = ipip_recv(&raw).expect("an IPIP packet from skiff");
            let (outer, inner) = p.split_at(20);
            if outer[12..16] != sk.octets() {
                continue;
            }
            assert_eq!((outer[0], outer[9]), (0x45, 4), "{p:02x?}");
            assert_eq!(&outer[16..20], &k.octets(), "outer destination: the remote");
            assert_eq!(outer[6] & 0x40, 0x40, "DF on the outer header (pmtudisc)");
            assert_eq!(outer[8], inner[8], "ttl inherit: the inner TTL");
            assert_eq!(outer[1], 0, "outer DSCP 0, inner ECN not-ECT");
            assert_eq!(inet_csum(&[outer]), 0, "outer checksum");
            assert_eq!(
                u16::from_be_bytes([outer[2], outer[3]]) as usize,
                p.len(),
                "outer length"
            );
            return (outer.to_vec(), inner.to_vec());
        }
        panic!("nothing from skiff's tunnel");
    };

    // An echo request inside IPIP: the reply comes back inside IPIP.
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend(pattern(56, 7));
    let c = inet_csum(&[&icmp]);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipip_send(&raw, sk, &ipv4_packet(k_in, sk_in, 1, &icmp));
    let (_, inner) = from_skiff();
    assert_eq!(
        (&inner[12..16], &inner[16..20]),
        (&sk_in.octets()[..], &k_in.octets()[..])
    );
    assert_eq!(inner[9], 1);
    let reply = &inner[20..];
    assert_eq!((reply[0], reply[1]), (0, 0), "echo reply");
    assert_eq!(&reply[4..8], &[0x12, 0x34, 0, 1]);
    assert!(reply[8..] == pattern(56, 7)[..]);
    assert_eq!(inet_csum(&[reply]), 0, "ICMP checksum");

    // A UDP datagram to --udp-echo inside IPIP: echoed inside IPIP.
    let data = pattern(1000, 3);
    let mut udp = vec![0x9c, 0x40, 0, 7];
    udp.extend(((8 + data.len()) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(&data);
    let mut pseudo = k_in.octets().to_vec();
    pseudo.extend(sk_in.octets());
    pseudo.extend([0, 17]);
    pseudo.extend((udp.len() as u16).to_be_bytes());
    let c = inet_csum(&[&pseudo, &udp]);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    ipip_send(&raw, sk, &ipv4_packet(k_in, sk_in, 17, &udp));
    let (_, inner) = from_skiff();
    assert_eq!(inner[9], 17);
    assert_eq!(&inner[16..20], &k_in.octets());
    assert_eq!(
        &inner[20..24],
        &[0, 7, 0x9c, 0x40],
        "from :7 back to :40000"
    );
    assert!(inner[28..] == data[..], "the same bytes");

    let (_, link, _) = Daemon::ctl(ctl, &["link"]);
    assert!(link.contains("link/ipip 10.9.7.2 peer 10.9.7.1"), "{link}");
    d.stop();
}

/// An in-test routing daemon on skiff's library: a stack on three TAPs (vif 0, 1, 2),
/// its mroute socket, and the members it has learnt from the kernel hosts' IGMPv3
/// reports, per group.
struct MiniMrouted {
    net: skiff_io::net::NetStack,
    fd: skiff_core::socket::SockFd,
    ifindexes: [u32; 3],
    members: std::collections::BTreeMap<Ipv4Addr, std::collections::BTreeSet<u16>>,
    upcalls: Vec<skiff_core::ipv4::mroute::IgmpMsg>,
}

impl MiniMrouted {
    fn start(taps: [&str; 3]) -> MiniMrouted {
        use skiff_core::ipv4::mroute::{MRT_ADD_VIF, MRT_INIT, VifCtl};
        use skiff_io::tap::{Tap, TapOptions};
        let mut s = skiff_core::Stack::new(skiff_core::StackConfig {
            cap_net_raw: true,
            ..Default::default()
        });
        let mut ifindexes = [0; 3];
        let mut devs = Vec::new();
        for (i, t) in taps.iter().enumerate() {
            let mac = skiff_wire::ethernet::EthernetAddress([2, 0, 0, 0, 0x11, i as u8]);
            let ifindex = s.add_device(t, mac, 1500).unwrap();
            s.set_up(ifindex, true).unwrap();
            s.add_addr(ifindex, Ipv4Addr::new(10, 11 + i as u8, 0, 2), 24)
                .unwrap();
            ifindexes[i] = ifindex;
            devs.push((ifindex, Tap::open(&TapOptions::tap(t)).expect("a TAP")));
        }
        let fd = s.raw_socket(skiff_wire::ipv4::IPPROTO_IGMP).unwrap();
        s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
            .unwrap();
        for (i, &ifindex) in ifindexes.iter().enumerate() {
            let v = VifCtl::by_ifindex(i as u16, ifindex, 1);
            s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())
                .unwrap();
        }
        // As mrouted does: join 224.0.0.22 on every vif, where IGMPv3 reports go (a
        // link-local group reaches a router only if it is a member).
        for &ifindex in &ifindexes {
            let m = skiff_core::socket::IpMreqn {
                multiaddr: Ipv4Addr::new(224, 0, 0, 22),
                address: Ipv4Addr::UNSPECIFIED,
                ifindex,
            };
            s.setsockopt(fd, skiff_core::socket::SockOpt::AddMembership(m))
                .unwrap();
        }
        let net = skiff_io::net::NetStack::new(s);
        for (ifindex, tap) in devs {
            net.attach(ifindex, Box::new(tap));
        }
        MiniMrouted {
            net,
            fd,
            ifindexes,
            members: Default::default(),
            upcalls: Vec::new(),
        }
    }

    /// Reads what the mroute socket holds: upcalls are kept, IGMPv3 reports update the
    /// members (a record excluding nothing is a join; including nothing, a leave).
    fn read(&mut self) {
        use skiff_core::ipv4::mroute::IgmpMsg;
        use skiff_wire::igmp::{IgmpMessage, IgmpPacket, RecordType};
        for _ in 0..1000 {
            let fd = self.fd;
            let Ok(d) = self.net.with(|s| s.raw_recv(fd)) else {
                return;
            };
            if let Some(m) = IgmpMsg::parse(&d.packet) {
                self.upcalls.push(m);
                continue;
            }
            let ihl = usize::from(d.packet[0] & 0xf) * 4;
            let Ok(p) = IgmpPacket::new_checked(&d.packet[ihl..]) else {
                continue;
            };
            let Some(vif) = self.ifindexes.iter().position(|&i| i == d.ifindex) else {
                continue;
            };
            if p.msg_type() != IgmpMessage::MembershipReportV3 {
                continue;
            }
            for r in p.group_records().into_iter().flat_map(|r| r.iter()) {
                let set = self.members.entry(r.group()).or_default();
                match r.record_type() {
                    RecordType::ChangeToExclude | RecordType::ModeIsExclude => {
                        set.insert(vif as u16);
                    }
                    RecordType::ChangeToInclude | RecordType::ModeIsInclude
                        if r.sources().is_empty() =>
                    {
                        set.remove(&(vif as u16));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Reads until `done` holds, for at most `secs` seconds.
    fn wait(&mut self, secs: u64, what: &str, done: impl Fn(&MiniMrouted) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.read();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: members {:?}, upcalls {:?}",
                self.members,
                self.upcalls
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn members(&self, g: Ipv4Addr) -> Vec<u16> {
        self.members
            .get(&g)
            .map_or(Vec::new(), |s| s.iter().copied().collect())
    }

    /// MRT_ADD_MFC (S,G) from vif 0 to the group's members.
    fn add_mfc(&self, s: Ipv4Addr, g: Ipv4Addr) {
        use skiff_core::ipv4::mroute::{MRT_ADD_MFC, MfcCtl};
        let oifs: Vec<(usize, u8)> = self
            .members(g)
            .iter()
            .map(|&v| (usize::from(v), 1))
            .collect();
        let m = MfcCtl::new(s, g, 0, &oifs);
        let fd = self.fd;
        self.net
            .with(|st| st.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &m.to_bytes()))
            .unwrap();
    }

    /// SIOCGETVIFCNT's ocount of each vif.
    fn ocounts(&self) -> [u64; 3] {
        let fd = self.fd;
        self.net
            .with(|s| [0, 1, 2].map(|v| s.ipmr_ioctl_getvifcnt(fd, v).unwrap().ocount))
    }
}

/// The kernel hosts join, the in-test daemon learns them from IGMP; A's first datagrams
/// raise a NOCACHE upcall and wait in the unresolved queue until the daemon answers.
fn mini_mrouted_resolves(g: Ipv4Addr) -> (MiniMrouted, [Netns; 3], UdpSocket, [UdpSocket; 2]) {
    use skiff_core::ipv4::mroute::IGMPMSG_NOCACHE;
    let taps = ["skua", "skub", "skuc"];
    let mut r = MiniMrouted::start(taps);
    let ns = mc_hosts(taps);
    let rb = mc_receiver(&ns[1], g, MC_HOSTS[1]);
    let rc = mc_receiver(&ns[2], g, MC_HOSTS[2]);
    r.wait(5, "B and C report their joins", |r| r.members(g) == [1, 2]);
    let tx = mc_sender(&ns[0], 8);
    mc_send(&tx, g, 0..3);
    r.wait(5, "a NOCACHE upcall", |r| !r.upcalls.is_empty());
    let m = r.upcalls[0];
    assert_eq!(
        (m.im_msgtype, m.vif, m.im_src, m.im_dst),
        (IGMPMSG_NOCACHE, 0, MC_SRC, g)
    );
    // All three wait, unresolved; nothing has reached the receivers.
    let deadline = Instant::now() + Duration::from_secs(2);
    while r
        .net
        .with(|s| s.mr_table().unres.first().map_or(0, |u| u.queue.len()))
        < 3
    {
        assert!(Instant::now() < deadline, "three datagrams queued");
        std::thread::sleep(Duration::from_millis(10));
    }
    for rx in [&rb, &rc] {
        rx.set_nonblocking(true).unwrap();
        assert_eq!(mc_received(rx), Vec::<u32>::new(), "held until resolved");
        rx.set_nonblocking(false).unwrap();
    }
    r.add_mfc(MC_SRC, g);
    for rx in [&rb, &rc] {
        assert_eq!(mc_received(rx), [0, 1, 2], "the queue is released in order");
    }
    assert_eq!(r.upcalls.len(), 1, "one upcall for the (S,G)");
    mc_send(&tx, g, 3..8);
    for rx in [&rb, &rc] {
        assert_eq!(mc_received(rx), (3..8).collect::<Vec<_>>());
    }
    assert_eq!(r.ocounts(), [0, 8, 8]);
    (r, ns, tx, [rb, rc])
}

#[test]
fn an_upcall_driven_entry_releases_the_queued_datagrams() {
    if !in_netns(
        "an_upcall_driven_entry_releases_the_queued_datagrams",
        &[IP],
    ) {
        return;
    }
    let g = Ipv4Addr::new(239, 3, 3, 3);
    let (r, _ns, _tx, _rx) = mini_mrouted_resolves(g);
    let cache = r.net.with(|s| s.render_ip_mr_cache());
    assert_eq!(
        cache,
        format!(
            "Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n\
             {} {} 0          8     1056        0  1:1    2:1  \n",
            proc_hex(g),
            proc_hex(MC_SRC)
        )
    );
}

#[test]
fn a_receiver_that_leaves_is_pruned_by_the_daemon() {
    if !in_netns("a_receiver_that_leaves_is_pruned_by_the_daemon", &[IP]) {
        return;
    }
    let g = Ipv4Addr::new(239, 4, 4, 4);
    let (mut r, _ns, tx, [rb, rc]) = mini_mrouted_resolves(g);
    // C leaves (IP_DROP_MEMBERSHIP): its kernel sends a v3 report with TO_IN({}).
    rc.leave_multicast_v4(&g, &MC_HOSTS[2]).unwrap();
    r.wait(5, "C reports its leave", |r| r.members(g) == [1]);
    r.add_mfc(MC_SRC, g);
    let before = r.ocounts();
    mc_send(&tx, g, 8..18);
    assert_eq!(mc_received(&rb), (8..18).collect::<Vec<_>>());
    assert_eq!(mc_received(&rc), Vec::<u32>::new());
    let after = r.ocounts();
    assert_eq!(after[1] - before[1], 10, "B still gets traffic");
    assert_eq!(after[2], before[2], "nothing leaves toward C");
    let cache = r.net.with(|s| s.render_ip_mr_cache());
    assert!(cache.lines().nth(1).unwrap().ends_with(" 1:1  "), "{cache}");
}
