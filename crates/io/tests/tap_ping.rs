//! skiff on a TAP device with the Linux kernel as its peer: kernel `ping` to skiff, one
//! packet, then 100, then sizes that fragment both ways (1472, 8000, 65507).
//!
//! Needs root: the test re-runs itself under `unshare --net`, so the TAP and the kernel
//! side live in a namespace that disappears with it. Without root it is skipped with a
//! reason, and with CI=true a skip fails.

mod common;

use common::run;

use skiff_core::{Stack, StackConfig};
use skiff_io::net::NetStack;
use skiff_io::tap::{Tap, TapOptions};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

const KERNEL: &str = "10.9.0.1/24";
const SKIFF: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

/// setsockopt(UDP_SEGMENT) on a kernel socket; the option is an int.
fn set_udp_segment(sock: &std::net::UdpSocket, gso: libc::c_int) {
    // SAFETY: setsockopt reads one int through the pointer, of the size given.
    let r = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            libc::SOL_UDP,
            103, // UDP_SEGMENT
            (&gso as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt(UDP_SEGMENT)");
}

#[test]
fn kernel_ping_reaches_skiff_on_a_tap() {
    if !common::in_netns(
        "kernel_ping_reaches_skiff_on_a_tap",
        &[common::IP, common::PING],
    ) {
        return;
    }

    let tap = Tap::open(&TapOptions::tap("skt0")).expect("a TAP in the namespace");
    run("ip", &["addr", "add", KERNEL, "dev", "skt0"]);
    run("ip", &["link", "set", "skt0", "up"]);

    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 9, 2]), 1500)
        .unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, SKIFF, 24).unwrap();
    let net = NetStack::new(s);
    net.attach(eth0, Box::new(tap));

    common::kernel_pings(&SKIFF.to_string(), common::PING_SIZES);
    let reasm = net.with(|s| s.stats().get("IpReasmOKs").unwrap_or(0));
    let frags = net.with(|s| s.stats().get("IpFragCreates").unwrap_or(0));
    assert!(
        reasm >= 5 && frags > 0,
        "skiff reassembled {reasm}, fragmented {frags}"
    );
}

/// A TAP with a virtio-net header: the kernel accepts the offloads, its frames arrive
/// behind a header, and a UDP_SEGMENT send from skiff leaves as one frame with checksum
/// and segmentation offload metadata that the kernel finishes and cuts.
#[test]
fn vnet_hdr_frames_cross_to_the_kernel() {
    use skiff_io::tap::{TUN_F_CSUM, TUN_F_TSO4, VNET_HDR_LEN};
    use skiff_wire::virtio::{HdrSize, VirtioGsoType, VirtioNetHdr, VirtioNetHdrRepr};
    if !common::in_netns("vnet_hdr_frames_cross_to_the_kernel", &[common::IP]) {
        return;
    }
    let tap = Tap::open(&TapOptions {
        vnet_hdr: true,
        offload: true,
        ..TapOptions::tap("skt1")
    })
    .expect("a TAP with IFF_VNET_HDR");
    assert_eq!(
        tap.offloads() & (TUN_F_CSUM | TUN_F_TSO4),
        TUN_F_CSUM | TUN_F_TSO4
    );
    println!("offloads accepted: {:#x}", tap.offloads());
    run("ip", &["addr", "add", "10.9.1.1/24", "dev", "skt1"]);
    run("ip", &["link", "set", "skt1", "up"]);
    // (`ip`, not /sys: sysfs still shows the namespace the test started in.)
    let link = run("ip", &["-o", "link", "show", "skt1"]);
    let kmac = link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .expect("the TAP's MAC");
    let kmac: Vec<u8> = kmac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    run(
        "ip",
        &[
            "neigh",
            "add",
            "10.9.1.2",
            "lladdr",
            "02:00:00:00:09:03",
            "dev",
            "skt1",
        ],
    );
    let sock = std::net::UdpSocket::bind("10.9.1.1:7777").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();

    // Kernel → skiff: the kernel's frame arrives behind a header that parses.
    sock.send_to(b"hello tap", "10.9.1.2:9").unwrap();
    let (mut hdr, mut frame) = ([0u8; VNET_HDR_LEN], vec![0u8; 65550]);
    let mut got = None;
    for _ in 0..200 {
        if let Some(n) = tap.read(&mut hdr, &mut frame).unwrap()
            && frame[12..14] == [0x08, 0x00]
        {
            got = Some(n);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let n = got.expect("the kernel's UDP frame");
    let parsed = VirtioNetHdr::new_checked(&hdr[..], HdrSize::V12)
        .and_then(|h| VirtioNetHdrRepr::parse(&h))
        .expect("a header that parses");
    assert_eq!(parsed.gso_type, VirtioGsoType::None);
    assert!(frame[..n].ends_with(b"hello tap"));

    // skiff → kernel: skiff's stack, on a device with the TAP's features, sends 3000
    // bytes with UDP_SEGMENT=1000. The frame leaves as one GSO packet; its header comes
    // from virtio_net_hdr_from_skb(); the kernel cuts it and its socket reads three.
    use skiff_core::socket::{AF_INET, SOCK_DGRAM, SendCmsg, SendMsg};
    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 9, 3]), 1500)
        .unwrap();
    s.set_up(eth0, true).unwrap();
    s.set_features(eth0, tap.features()).unwrap();
    s.add_addr(eth0, Ipv4Addr::new(10, 9, 1, 2), 24).unwrap();
    let kaddr = Ipv4Addr::new(10, 9, 1, 1);
    s.add_neigh_static(
        eth0,
        kaddr,
        EthernetAddress(kmac.clone().try_into().unwrap()),
    );
    while let Some((_, skb)) = s.poll_transmit() {
        s.recycle(skb);
    }
    let fd = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    s.bind(
        fd,
        std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 4444).into(),
    )
    .unwrap();
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let msg = SendMsg {
        data: &payload,
        addr: Some(std::net::SocketAddrV4::new(kaddr, 7777).into()),
        cmsgs: &[SendCmsg::UdpSegment(1000)],
        flags: 0,
    };
    let now = skiff_core::time::Instant::from_secs(1);
    assert_eq!(s.sendmsg(now, fd, &msg), Ok(3000));
    let (_, skb) = s.poll_transmit().expect("the GSO frame");
    assert!(s.poll_transmit().is_none(), "one frame for three segments");
    let mut hdr = skiff_core::offload::virtio::virtio_net_hdr_from_skb(&skb, false).unwrap();
    assert_eq!((hdr.gso_type, hdr.gso_size), (VirtioGsoType::UdpL4, 1000));
    hdr.num_buffers = Some(0);
    let mut h = [0u8; VNET_HDR_LEN];
    hdr.emit(&mut h).unwrap();
    // Its pieces go out in one writev, uncopied.
    assert!(
        skb.is_nonlinear(),
        "UDP_SEGMENT builds its payload in pieces"
    );
    let chunks: Vec<&[u8]> = std::iter::once(skb.data())
        .chain(skb.frag_list.iter().map(|f| f.data()))
        .collect();
    tap.write_chunks(Some(&h), &chunks).unwrap();
    let mut buf = [0u8; 4096];
    let mut read = Vec::new();
    for _ in 0..3 {
        let (n, from) = sock.recv_from(&mut buf).expect("a segment");
        assert_eq!(from.to_string(), "10.9.1.2:4444");
        read.extend_from_slice(&buf[..n]);
        assert_eq!(n, 1000);
    }
    assert_eq!(read, payload);
    println!("skiff's UDP_SEGMENT send left as one frame; the kernel socket read 3 × 1000");

    // kernel → skiff: the kernel sends 14000 bytes with UDP_SEGMENT=1400 (an int). With
    // USO accepted by TUNSETOFFLOAD the super-packet arrives whole behind its header;
    // netif_receive_vnet() takes it and skiff's socket reads ten datagrams.
    let rx = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    s.bind(
        rx,
        std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9000).into(),
    )
    .unwrap();
    set_udp_segment(&sock, 1400);
    let big: Vec<u8> = (0..14000u32).map(|i| (i % 253) as u8).collect();
    sock.send_to(&big, "10.9.1.2:9000").unwrap();
    let (mut hdr, mut frame) = ([0u8; VNET_HDR_LEN], vec![0u8; 65550]);
    let mut frames = 0;
    for _ in 0..200 {
        match tap.read(&mut hdr, &mut frame).unwrap() {
            Some(n) => {
                let repr = VirtioNetHdr::new_checked(&hdr[..], HdrSize::V12)
                    .and_then(|h| VirtioNetHdrRepr::parse(&h))
                    .expect("a header that parses");
                if frame[12..14] == [0x08, 0x00] {
                    frames += 1;
                    println!(
                        "kernel frame: {n} bytes, {:?} gso_size {}",
                        repr.gso_type, repr.gso_size
                    );
                }
                let mut skb = s.alloc_skb(n).unwrap();
                skb.put_slice(&frame[..n]).unwrap();
                s.netif_receive_vnet(now, eth0, vec![(repr, skb)]);
            }
            None => {
                if frames > 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut reads = 0;
    while let Ok((n, _)) = s.recv_from(rx, &mut buf, skiff_core::socket::MSG_DONTWAIT) {
        assert!(n <= 1400);
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(reads, 10);
    assert!(got == big, "skiff read the kernel's bytes");
    println!("the kernel's UDP_SEGMENT send arrived in {frames} frame(s); skiff read 10 × 1400");
}

/// A TAP with a virtio-net header attached to a `NetStack`: the driver carries the
/// metadata both ways. Kernel ping across sizes that fragment, the kernel's UDP_SEGMENT
/// super-packet read by a skiff socket as datagrams, and a skiff UDP_SEGMENT send read
/// by a kernel socket as datagrams.
#[test]
fn netstack_serves_a_vnet_tap() {
    use skiff_core::socket::{SendCmsg, SendMsg};
    use skiff_io::net::UdpSocket;
    if !common::in_netns("netstack_serves_a_vnet_tap", &[common::IP, common::PING]) {
        return;
    }
    let tap = Tap::open(&TapOptions {
        vnet_hdr: true,
        offload: true,
        ..TapOptions::tap("skt2")
    })
    .expect("a TAP with IFF_VNET_HDR");
    run("ip", &["addr", "add", "10.9.2.1/24", "dev", "skt2"]);
    run("ip", &["link", "set", "skt2", "up"]);
    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 9, 4]), 1500)
        .unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, Ipv4Addr::new(10, 9, 2, 2), 24).unwrap();
    let net = NetStack::new(s);
    net.attach(eth0, Box::new(tap));

    common::kernel_pings("10.9.2.2", &[("3", "56"), ("3", "8000")]);

    let skiff_sock = UdpSocket::bind(&net, "10.9.2.2:9000").unwrap();
    skiff_sock
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let kernel = std::net::UdpSocket::bind("10.9.2.1:7777").unwrap();
    kernel
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    set_udp_segment(&kernel, 1400);
    let big: Vec<u8> = (0..14000u32).map(|i| (i % 251) as u8).collect();
    kernel.send_to(&big, "10.9.2.2:9000").unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < big.len() {
        let (n, _) = skiff_sock
            .recv_from(&mut buf)
            .expect("a datagram from the kernel");
        assert_eq!(n, 1400);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == big, "skiff read the kernel's bytes");
    println!("kernel UDP_SEGMENT=1400 × 10 → skiff socket: 10 datagrams, same bytes");

    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 247) as u8).collect();
    let to: std::net::SocketAddrV4 = "10.9.2.1:7777".parse().unwrap();
    let msg = SendMsg {
        data: &payload,
        addr: Some(to.into()),
        cmsgs: &[SendCmsg::UdpSegment(1000)],
        flags: 0,
    };
    assert_eq!(skiff_sock.sendmsg(&msg).unwrap(), 3000);
    let mut read = Vec::new();
    for _ in 0..3 {
        let (n, _) = kernel.recv_from(&mut buf).expect("a segment from skiff");
        assert_eq!(n, 1000);
        read.extend_from_slice(&buf[..n]);
    }
    assert_eq!(read, payload);
    let (frames, segs) = net.with(|s| {
        let d = s.dev(eth0).unwrap();
        (
            d.stats.tx_packets,
            s.stats().get("UdpOutDatagrams").unwrap_or(0),
        )
    });
    println!(
        "skiff UDP_SEGMENT=1000 → kernel socket: 3 datagrams ({frames} frames sent, OutDatagrams {segs})"
    );
}
