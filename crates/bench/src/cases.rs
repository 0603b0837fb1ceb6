//! The per-packet cases that criterion times (benches/) and `ir-count` counts under
//! callgrind (bench/ir.sh): one setup, one step, so both measure the same path. A case's
//! step handles one packet in and its packets out, and returns the bytes out (or read).

use crate::frames::{OUR_IP, PEER_IP, arp_request_frame, fragments, frame_of, skiff_host};
use crate::fwd::{FAR_IP, GROUP, mc_router, router, udp_frame as fwd_frame};
use crate::smol;
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockAddr};
use skiff_core::time::Instant;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use skiff_wire::icmpv4::Icmpv4Repr;
use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};
use skiff_wire::udp::UdpRepr;
use smoltcp::socket::udp;
use smoltcp::wire::{IpEndpoint, Ipv4Address};
use std::hint::black_box;
use std::net::SocketAddrV4;

pub const PORT: u16 = 9000;
pub const PEER_PORT: u16 = 4000;

/// A case: its packets out per step (criterion's elements) and the step.
pub struct Case {
    pub elements: u64,
    pub step: Box<dyn FnMut() -> usize>,
}

impl Case {
    fn new(elements: u64, step: impl FnMut() -> usize + 'static) -> Case {
        Case {
            elements,
            step: Box::new(step),
        }
    }
}

/// Every case's name, `group/side/id`, as criterion names them.
pub const NAMES: &[&str] = &[
    "rx/skiff/icmp-echo-64",
    "rx/smoltcp/icmp-echo-64",
    "udp/skiff/rx-64",
    "udp/smoltcp/rx-64",
    "udp/skiff/tx-64",
    "udp/smoltcp/tx-64",
    "udp/skiff/rx-1472",
    "udp/smoltcp/rx-1472",
    "udp/skiff/tx-1472",
    "udp/smoltcp/tx-1472",
    "udp/skiff/rx-64-connected",
    "udp/skiff/rx-64-connected-nodemux",
    "fwd/unicast/64",
    "fwd/mc-2oif/64",
    "reasm/skiff/8k-6-inorder",
    "reasm/smoltcp/8k-6-inorder",
    "reasm/skiff/62k-42-inorder",
    "reasm/smoltcp/62k-42-inorder",
    "reasm/skiff/62k-42-reverse",
    "reasm/smoltcp/62k-42-reverse",
    "reasm/skiff/8k-6-4flows",
    "reasm/smoltcp/8k-6-4flows",
    "frag/skiff-fast/62k-mtu1500",
    "frag/memcpy/62k-mtu1500",
];

/// The case called `name` (one of [`NAMES`]), set up and checked once.
pub fn case(name: &str) -> Option<Case> {
    let parts: Vec<&str> = name.split('/').collect();
    let c = match parts[..] {
        ["rx", "skiff", "icmp-echo-64"] => skiff_echo(),
        ["rx", "smoltcp", "icmp-echo-64"] => smol_echo(),
        ["udp", "skiff", id] => match id.split('-').collect::<Vec<_>>()[..] {
            ["rx", len] => skiff_udp_rx(len.parse().ok()?, None),
            ["rx", len, "connected"] => skiff_udp_rx(len.parse().ok()?, Some(true)),
            ["rx", len, "connected", "nodemux"] => skiff_udp_rx(len.parse().ok()?, Some(false)),
            ["tx", len] => skiff_udp_tx(len.parse().ok()?),
            _ => return None,
        },
        ["udp", "smoltcp", id] => match id.split_once('-')? {
            ("rx", len) => smol_udp_rx(len.parse().ok()?),
            ("tx", len) => smol_udp_tx(len.parse().ok()?),
            _ => return None,
        },
        ["fwd", "unicast", "64"] => skiff_fwd(false),
        ["fwd", "mc-2oif", "64"] => skiff_fwd(true),
        ["reasm", side, shape] => {
            let &(_, payload, flows, reverse) = REASM_SHAPES.iter().find(|s| s.0 == shape)?;
            let frames = reasm_frames(payload, flows, reverse);
            let want = flows * (20 + payload);
            match side {
                "skiff" => skiff_reasm(frames, want),
                "smoltcp" => smol_reasm(frames, want),
                _ => return None,
            }
        }
        ["frag", "skiff-fast", "62k-mtu1500"] => skiff_frag(),
        ["frag", "memcpy", "62k-mtu1500"] => memcpy_frag(),
        _ => return None,
    };
    Some(c)
}

/// The case called `name`; panics on a name not in [`NAMES`].
pub fn must(name: &str) -> Case {
    case(name).unwrap_or_else(|| panic!("no case {name}"))
}

/// A clock that moves 1 µs per packet.
fn ticks() -> impl FnMut() -> Instant {
    let mut t = 1_000_000_000u64;
    move || {
        t += 1000;
        Instant::from_nanos(t)
    }
}

/// Ethernet 14 + IPv4 20 + ICMP 8 + 22 bytes of data = 64 bytes, peer to us.
pub fn echo_request_frame() -> Vec<u8> {
    let data = [0x42u8; 22];
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 1,
        data: &data,
    };
    let ip = Ipv4Repr {
        src: PEER_IP,
        dst: OUR_IP,
        protocol: IpProtocol::from(1),
        ttl: 64,
        tos: 0,
        ident: 7,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        options: &[],
        payload_len: icmp.buffer_len(),
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    EthernetRepr {
        src: EthernetAddress(crate::frames::PEER_MAC),
        dst: EthernetAddress(crate::frames::OUR_MAC),
        vlan: None,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut frame)
    .expect("room for the Ethernet header");
    ip.emit(&mut frame[14..]).expect("room for the IP header");
    icmp.emit(&mut frame[34..])
        .expect("room for the ICMP message");
    assert_eq!(frame.len(), 64);
    frame
}

/// An Ethernet frame of a UDP datagram from the peer to us with `len` payload bytes.
pub fn udp_frame(len: usize) -> Vec<u8> {
    let mut d = vec![0u8; 8 + len];
    for (i, b) in d[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    UdpRepr {
        src_port: PEER_PORT,
        dst_port: PORT,
    }
    .emit(&mut d, PEER_IP, OUR_IP, skiff_wire::TxChecksum::Full)
    .expect("room for the header");
    frame_of(17, PEER_IP, OUR_IP, 1, false, 0, &d)
}

/// skiff: the echo request in (netif_receive → ip_rcv → … → icmp_echo → ip_output →
/// neighbour → dev_queue_xmit), the reply out (poll_transmit).
fn skiff_echo() -> Case {
    let mut h = skiff_host(1500);
    let frame = echo_request_frame();
    let mut now = ticks();
    let mut step = move || {
        let mut skb = h.s.alloc_skb(frame.len()).expect("a pool buffer");
        skb.put_slice(black_box(&frame))
            .expect("room for the frame");
        h.s.netif_receive(now(), h.eth0, skb);
        let (_, reply) = h.s.poll_transmit().expect("an echo reply");
        let len = reply.len();
        h.s.recycle(reply);
        len
    };
    assert_eq!(step(), 64);
    Case::new(1, step)
}

/// smoltcp: Interface::poll on the same frame, which it answers.
fn smol_echo() -> Case {
    let mut dev = smol::Ring::new(vec![arp_request_frame()]);
    let mut iface = smol::iface(&mut dev);
    let mut sockets = smoltcp::iface::SocketSet::new(Vec::new());
    iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
    dev.frames = vec![echo_request_frame()];
    let mut step = move || {
        dev.next = 0;
        dev.tx.clear();
        iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
        black_box(dev.tx.len())
    };
    assert_eq!(step(), 64, "smoltcp answers the echo request");
    Case::new(1, step)
}

/// skiff: the datagram in, then recvmsg(). `connected`: None for a socket bound to our
/// address only; Some(demux) for one connected to the peer, with early demux (the
/// socket's cached route) or without (`ip_early_demux=0`: the dst cache in front of the
/// FIB).
fn skiff_udp_rx(len: usize, connected: Option<bool>) -> Case {
    let mut h = skiff_host(1500);
    if connected == Some(false) {
        h.s.set_sysctl("ip_early_demux", "0")
            .expect("a known sysctl");
    }
    let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).expect("a UDP socket");
    h.s.bind(fd, SocketAddrV4::new(OUR_IP, PORT).into())
        .expect("our address");
    if connected.is_some() {
        h.s.connect(fd, SocketAddrV4::new(PEER_IP, PEER_PORT).into())
            .expect("a reachable peer");
    }
    let frame = udp_frame(len);
    let mut buf = vec![0u8; 2048];
    let mut now = ticks();
    let mut step = move || {
        let mut skb = h.s.alloc_skb(frame.len()).expect("a pool buffer");
        skb.put_slice(black_box(&frame))
            .expect("room for the frame");
        h.s.netif_receive(now(), h.eth0, skb);
        let m = h.s.recvmsg(fd, &mut buf, 0).expect("the datagram");
        black_box(buf[len - 1]);
        m.len
    };
    assert_eq!(step(), len);
    Case::new(1, step)
}

/// skiff: sendto() of `len` bytes to the peer, then the frame out.
fn skiff_udp_tx(len: usize) -> Case {
    let mut h = skiff_host(1500);
    let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).expect("a UDP socket");
    h.s.bind(fd, SocketAddrV4::new(OUR_IP, PORT).into())
        .expect("our address");
    let payload = udp_frame(len)[42..].to_vec();
    let peer = Some(SockAddr::Inet(SocketAddrV4::new(PEER_IP, PEER_PORT)));
    let mut now = ticks();
    let mut step = move || {
        let n =
            h.s.sendto(now(), fd, black_box(&payload), 0, peer)
                .expect("a sendable datagram");
        let (_, out) = h.s.poll_transmit().expect("the datagram's frame");
        assert_eq!(out.len(), 42 + n);
        let l = out.len();
        h.s.recycle(out);
        l
    };
    assert_eq!(step(), 42 + len);
    Case::new(1, step)
}

fn smol_udp_socket<'a>() -> udp::Socket<'a> {
    let meta = || vec![udp::PacketMetadata::EMPTY; 16];
    udp::Socket::new(
        udp::PacketBuffer::new(meta(), vec![0; 65536]),
        udp::PacketBuffer::new(meta(), vec![0; 65536]),
    )
}

/// smoltcp with a UDP socket bound to PORT, the peer learnt from an ARP request.
fn smol_udp() -> (
    smol::Ring,
    smoltcp::iface::Interface,
    smoltcp::iface::SocketSet<'static>,
    smoltcp::iface::SocketHandle,
) {
    let mut dev = smol::Ring::new(vec![arp_request_frame()]);
    let mut iface = smol::iface(&mut dev);
    let mut sockets = smoltcp::iface::SocketSet::new(Vec::new());
    let mut sock = smol_udp_socket();
    sock.bind(PORT).expect("a free port");
    let handle = sockets.add(sock);
    iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
    (dev, iface, sockets, handle)
}

fn smol_udp_rx(len: usize) -> Case {
    let (mut dev, mut iface, mut sockets, handle) = smol_udp();
    dev.frames = vec![udp_frame(len)];
    let mut buf = vec![0u8; 2048];
    let mut step = move || {
        dev.next = 0;
        iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
        let s = sockets.get_mut::<udp::Socket>(handle);
        let (n, _) = s.recv_slice(&mut buf).expect("the datagram");
        black_box(buf[len - 1]);
        n
    };
    assert_eq!(step(), len);
    Case::new(1, step)
}

fn smol_udp_tx(len: usize) -> Case {
    let (mut dev, mut iface, mut sockets, handle) = smol_udp();
    dev.frames.clear();
    let payload = udp_frame(len)[42..].to_vec();
    let to = IpEndpoint::new(Ipv4Address::new(10, 0, 0, 2).into(), PEER_PORT);
    let mut step = move || {
        let s = sockets.get_mut::<udp::Socket>(handle);
        s.send_slice(black_box(&payload), to)
            .expect("room in the buffer");
        dev.next = 0;
        dev.tx.clear();
        iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
        black_box(dev.tx.len())
    };
    assert_eq!(step(), 42 + len);
    Case::new(1, step)
}

/// skiff as a router: a 64-byte UDP frame in on eth0; unicast, forwarded out eth1 (one
/// frame out); multicast, an (S,G) MFC entry to eth1 and eth2 (two frames out).
fn skiff_fwd(multicast: bool) -> Case {
    let ((mut s, devs), frame, outs) = if multicast {
        (mc_router(), fwd_frame(GROUP), 2)
    } else {
        (router(), fwd_frame(FAR_IP), 1)
    };
    let mut now = ticks();
    let mut forward = move |s: &mut skiff_core::Stack| {
        let mut skb = s.alloc_skb(frame.len()).expect("a pool buffer");
        skb.put_slice(black_box(&frame))
            .expect("room for the frame");
        s.netif_receive(now(), devs[0], skb);
        let mut len = 0;
        for _ in 0..outs {
            let (_, out) = s.poll_transmit().expect("a forwarded frame");
            len += out.len();
            s.recycle(out);
        }
        len
    };
    assert_eq!(forward(&mut s), 64 * outs);
    assert!(
        s.poll_transmit().is_none(),
        "nothing but the forwarded frames"
    );
    Case::new(outs as u64, move || forward(&mut s))
}

/// Group `reasm`'s shapes: (id, datagram payload bytes, flows, reverse order).
pub const REASM_SHAPES: [(&str, usize, usize, bool); 4] = [
    ("8k-6-inorder", 8000, 1, false),
    ("62k-42-inorder", 61_800, 1, false),
    ("62k-42-reverse", 61_800, 1, true),
    ("8k-6-4flows", 8000, 4, false),
];

/// A shape's frames: each flow's fragments (its own ID), interleaved round robin.
fn reasm_frames(payload: usize, flows: usize, reverse: bool) -> Vec<Vec<u8>> {
    let per_flow: Vec<Vec<Vec<u8>>> = (0..flows)
        .map(|f| {
            let mut v = fragments(PEER_IP, OUR_IP, 0x100 + f as u16, payload, 1500);
            if reverse {
                v.reverse();
            }
            v
        })
        .collect();
    let n = per_flow[0].len();
    (0..n)
        .flat_map(|i| per_flow.iter().map(move |flow| flow[i].clone()))
        .collect()
}

/// skiff: every fragment in (netif_receive → ip_rcv → ip_local_deliver → ip_defrag →
/// raw socket of PROTO), then the datagrams read back with recvmsg() into one buffer, as
/// a program reads a socket. Per fragment.
fn skiff_reasm(frames: Vec<Vec<u8>>, want: usize) -> Case {
    let mut h = skiff_host(1500);
    let mut now = ticks();
    let elements = frames.len() as u64;
    let mut buf = vec![0u8; 65536];
    let mut step = move || {
        let t = now();
        for f in &frames {
            let mut skb = h.s.alloc_skb(f.len()).expect("a pool buffer");
            skb.put_slice(black_box(f)).expect("room for the frame");
            h.s.netif_receive(t, h.eth0, skb);
        }
        let mut got = 0;
        while let Ok(m) = h.s.recvmsg(h.sock, &mut buf, 0) {
            got += m.len;
        }
        got
    };
    assert_eq!(step(), want);
    Case::new(elements, step)
}

/// smoltcp: Interface::poll over the same frames (proto-ipv4-fragmentation, four 65535-byte
/// reassembly buffers), a raw socket of PROTO. Boxed: the reassembly buffers live inside
/// the Interface, and a heap block this large is page-aligned, so the large copies see the
/// same alignment in every run.
fn smol_reasm(frames: Vec<Vec<u8>>, want: usize) -> Case {
    use smoltcp::socket::raw;
    use smoltcp::wire::{IpProtocol, IpVersion};
    let elements = frames.len() as u64;
    let mut dev = Box::new(smol::Ring::new(frames));
    let mut iface = Box::new(smol::iface(&mut dev));
    let rx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 8], vec![0; 4 * 65536]);
    let tx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 1], vec![0; 64]);
    let socket = raw::Socket::new(
        Some(IpVersion::Ipv4),
        Some(IpProtocol::Unknown(crate::frames::PROTO)),
        rx,
        tx,
    );
    let mut sockets = smoltcp::iface::SocketSet::new(Vec::new());
    let sock = sockets.add(socket);
    let mut step = move || {
        dev.next = 0;
        iface.poll(smoltcp::time::Instant::ZERO, &mut *dev, &mut sockets);
        let s = sockets.get_mut::<raw::Socket>(sock);
        let mut got = 0;
        while let Ok(p) = s.recv() {
            got += p.len();
        }
        got
    };
    assert_eq!(step(), want);
    assert_eq!(step(), want);
    Case::new(elements, step)
}

/// Group `frag`'s datagram: 61.8 KB into 42 frames of MTU 1500.
pub const FRAG_LEN: usize = 61_800;
pub const FRAG_PIECES: usize = 42;

fn frag_payload() -> Vec<u8> {
    (0..FRAG_LEN).map(|i| (i * 7) as u8).collect()
}

/// skiff `skiff-fast`: a raw socket send; ip_append_data builds the `frag_list` with
/// Linux's geometry and ip_fragment sends its pieces as they are (one copy, from the
/// caller). The frames go to the void. Per datagram.
fn skiff_frag() -> Case {
    let mut h = skiff_host(1500);
    let payload = frag_payload();
    let mut now = ticks();
    let mut step = move || {
        let sock = h.sock;
        h.s.raw_sendto(now(), sock, PEER_IP, black_box(&payload))
            .expect("the send");
        let mut bytes = 0;
        while let Some((_, skb)) = h.s.poll_transmit() {
            bytes += skb.len();
            h.s.recycle(skb);
        }
        bytes
    };
    assert_eq!(step(), FRAG_LEN + FRAG_PIECES * (14 + 20));
    Case::new(1, step)
}

/// The physical limit: the payload copied once into 42 frame buffers.
fn memcpy_frag() -> Case {
    let payload = frag_payload();
    let mut frames = vec![vec![0u8; 1514]; FRAG_PIECES];
    Case::new(1, move || {
        let mut bytes = 0;
        for (f, chunk) in frames.iter_mut().zip(black_box(&payload).chunks(1480)) {
            f[34..34 + chunk.len()].copy_from_slice(chunk);
            bytes += 34 + chunk.len();
        }
        black_box(&mut frames);
        bytes
    })
}
