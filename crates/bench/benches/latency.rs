//! Group `latency`: the round trip of a 32-byte UDP echo through `skiff_io::net::UdpSocket`
//! (blocking send, then blocking recv of the answer), on two in-process links:
//! `udp-echo-rtt/pair`, two NetStacks joined by `skiff_io::device::pair()` (each with its
//! driver thread, the echo server on a third), and `udp-echo-rtt/loopback`, one NetStack
//! and an echo thread over 127.0.0.1. Under `cargo bench` it also prints the p50, p99 and
//! max of 10,000 round trips from a histogram, and how many took a millisecond or more.

use criterion::{Criterion, criterion_group, criterion_main};
use skiff_core::{Stack, StackConfig};
use skiff_io::net::{NetStack, PairDevice, UdpSocket, pair};
use skiff_wire::ethernet::EthernetAddress;
use std::net::Ipv4Addr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PAYLOAD: [u8; 32] = [0x5a; 32];

/// A client socket whose every datagram an echo thread sends back; an empty datagram
/// ends the thread.
struct Echo {
    client: UdpSocket,
    server: Option<JoinHandle<()>>,
    buf: [u8; 64],
}

impl Echo {
    fn start(client_net: &NetStack, server_net: &NetStack, server_addr: &str) -> Echo {
        let server = UdpSocket::bind(server_net, server_addr).unwrap();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = server.recv_from(&mut buf) {
                if n == 0 {
                    return;
                }
                let _ = server.send_to(&buf[..n], from);
            }
        });
        let client = UdpSocket::bind(client_net, "0.0.0.0:0").unwrap();
        client.connect(server_addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut echo = Echo {
            client,
            server: Some(thread),
            buf: [0; 64],
        };
        // ARP and caches warm.
        for _ in 0..1000 {
            echo.rtt();
        }
        echo
    }

    fn rtt(&mut self) {
        self.client.send(&PAYLOAD).unwrap();
        let n = self.client.recv(&mut self.buf).unwrap();
        assert_eq!(n, PAYLOAD.len());
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.client.send(&[]);
        if let Some(t) = self.server.take() {
            let _ = t.join();
        }
    }
}

fn host(n: u8, dev: PairDevice) -> NetStack {
    let mut s = Stack::new(StackConfig::default());
    let eth = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 0, n]), 1500)
        .unwrap();
    s.set_up(eth, true).unwrap();
    s.add_addr(eth, Ipv4Addr::new(10, 0, 0, n), 24).unwrap();
    let net = NetStack::new(s);
    net.attach(eth, Box::new(dev));
    net
}

/// Two stacks on a cable; the stacks live as long as their sockets.
fn over_pair() -> Echo {
    let (da, db) = pair();
    let a = host(1, da);
    let b = host(2, db);
    Echo::start(&a, &b, "10.0.0.2:7")
}

fn over_loopback() -> Echo {
    let net = NetStack::new(Stack::new(StackConfig::default()));
    Echo::start(&net, &net, "127.0.0.1:7")
}

/// p50, p99 and max of 10,000 round trips, and the count of those of 1 ms or more.
fn histogram(name: &str, echo: &mut Echo) {
    let mut rtts: Vec<Duration> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            echo.rtt();
            t.elapsed()
        })
        .collect();
    rtts.sort_unstable();
    let at = |q: usize| rtts[(rtts.len() * q / 100).min(rtts.len() - 1)];
    let slow = rtts
        .iter()
        .filter(|d| **d >= Duration::from_millis(1))
        .count();
    println!(
        "latency/udp-echo-rtt/{name}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs, {slow} of {} ≥ 1 ms",
        at(50).as_secs_f64() * 1e6,
        at(99).as_secs_f64() * 1e6,
        rtts[rtts.len() - 1].as_secs_f64() * 1e6,
        rtts.len()
    );
}

fn bench_latency(c: &mut Criterion) {
    // `cargo bench` passes --bench; a test run (`cargo test --benches`) runs each case once.
    let benching = std::env::args().any(|a| a == "--bench");
    let mut g = c.benchmark_group("latency");
    for (name, make) in [
        ("pair", over_pair as fn() -> Echo),
        ("loopback", over_loopback),
    ] {
        let mut echo = make();
        if benching {
            histogram(name, &mut echo);
        }
        g.bench_function(format!("udp-echo-rtt/{name}"), |b| b.iter(|| echo.rtt()));
    }
    g.finish();
}

criterion_group!(benches, bench_latency);
criterion_main!(benches);
