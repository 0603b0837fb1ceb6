//! Benchmarks live in benches/; this library holds the frames, stacks and cases they
//! share with the `ir-count` bin (bench/ir.sh).

pub mod cases;
pub mod smol;

pub mod frames {
    //! Ethernet frames of IPv4 fragments, and a skiff host to feed them to.

    use skiff_core::rand::Prng;
    use skiff_core::socket::SockFd as RawHandle;
    use skiff_core::{Stack, StackConfig};
    use skiff_wire::Ipv4Addr;
    use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
    use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

    pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
    pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    /// RFC 3692 experimental: a raw socket takes it, and no protocol handler answers.
    pub const PROTO: u8 = 253;

    /// One Ethernet frame around an IPv4 packet of PROTO.
    pub fn frame(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        more_frags: bool,
        frag_offset: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        frame_of(PROTO, src, dst, ident, more_frags, frag_offset, payload)
    }

    /// One Ethernet frame, peer to us, around an IPv4 packet of `protocol`.
    pub fn frame_of(
        protocol: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        more_frags: bool,
        frag_offset: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let ip = Ipv4Repr {
            src,
            dst,
            protocol: IpProtocol::from(protocol),
            ttl: 64,
            tos: 0,
            ident,
            dont_frag: false,
            more_frags,
            frag_offset,
            options: &[],
            payload_len: payload.len(),
        };
        let mut f = vec![0u8; 14 + ip.buffer_len()];
        EthernetRepr {
            src: EthernetAddress(PEER_MAC),
            dst: EthernetAddress(OUR_MAC),
            vlan: None,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut f)
        .expect("room for the Ethernet header");
        ip.emit(&mut f[14..]).expect("room for the IP header");
        f[34..].copy_from_slice(payload);
        f
    }

    /// A datagram of `len` payload bytes cut for `mtu` as Linux does (R24), in order.
    pub fn fragments(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        len: usize,
        mtu: usize,
    ) -> Vec<Vec<u8>> {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let space = (mtu - 20) & !7;
        data.chunks(space)
            .enumerate()
            .map(|(i, chunk)| {
                let offset = i * space;
                let mf = offset + chunk.len() < len;
                frame(src, dst, ident, mf, offset as u16, chunk)
            })
            .collect()
    }

    /// `n` random 8-byte fragments from PEER_IP over `ids` IDs: random offsets below 8 KiB,
    /// MF on seven in eight. FragmentSmack's shape.
    pub fn flood(n: usize, ids: u32, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = Prng::new(seed);
        (0..n)
            .map(|_| {
                let id = rng.below(ids) as u16;
                let offset = (rng.below(1024) * 8) as u16;
                let mf = rng.below(8) != 0;
                frame(
                    PEER_IP,
                    OUR_IP,
                    id,
                    mf,
                    offset,
                    &rng.next_u64().to_be_bytes(),
                )
            })
            .collect()
    }

    /// An ARP request from the peer for our address: smoltcp learns the peer from it.
    pub fn arp_request_frame() -> Vec<u8> {
        use skiff_wire::arp::{ArpOperation, ArpRepr};
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(PEER_MAC),
            source_protocol_addr: PEER_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: OUR_IP,
        };
        let mut frame = vec![0u8; 14 + 28];
        EthernetRepr {
            src: EthernetAddress(PEER_MAC),
            dst: EthernetAddress::BROADCAST,
            vlan: None,
            ethertype: EtherType::Arp,
        }
        .emit(&mut frame)
        .expect("room for the Ethernet header");
        arp.emit(&mut frame[14..])
            .expect("room for the ARP message");
        frame
    }

    /// A skiff host: eth0 with OUR_IP/24 and `mtu`, PEER_IP known, a raw socket of PROTO.
    pub struct SkiffHost {
        pub s: Stack,
        pub eth0: u32,
        pub sock: RawHandle,
    }

    pub fn skiff_host(mtu: u32) -> SkiffHost {
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            ..StackConfig::default()
        });
        let eth0 = s
            .add_device("eth0", EthernetAddress(OUR_MAC), mtu)
            .expect("a fresh stack takes eth0");
        s.set_up(eth0, true).expect("eth0 exists");
        s.add_addr(eth0, OUR_IP, 24).expect("a valid address");
        s.add_neigh_static(eth0, PEER_IP, EthernetAddress(PEER_MAC));
        let sock = s.raw_socket(PROTO).expect("a valid protocol");
        while let Some((_, skb)) = s.poll_transmit() {
            s.recycle(skb);
        }
        SkiffHost { s, eth0, sock }
    }
}

pub mod fwd {
    //! Routers for group `fwd` and the `fwd-count` bin: unicast (eth0 → eth1) and
    //! multicast (eth0 → eth1 + eth2, an (S,G) MFC entry set through the mroute socket).

    use crate::frames::{OUR_IP, PEER_IP, frame_of};
    use skiff_core::ipv4::mroute::{MRT_ADD_MFC, MRT_ADD_VIF, MRT_INIT, MfcCtl, VifCtl};
    use skiff_core::{Stack, StackConfig};
    use skiff_wire::Ipv4Addr;
    use skiff_wire::ethernet::EthernetAddress;
    use skiff_wire::ipv4::{IPPROTO_IGMP, IPPROTO_UDP};
    use skiff_wire::udp::UdpRepr;

    pub const ETH1_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
    pub const FAR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    pub const ETH2_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
    pub const FAR2_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
    pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);

    /// A router: eth0 10.0.0.1/24 (the peer known), eth1 10.0.1.1/24 (10.0.1.2 known),
    /// eth2 10.0.2.1/24 (10.0.2.2 known), ip_forward = 1. Returns the three devices.
    pub fn router() -> (Stack, [u32; 3]) {
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            ..StackConfig::default()
        });
        let mut devs = [0; 3];
        for (i, (addr, peer)) in [(OUR_IP, PEER_IP), (ETH1_IP, FAR_IP), (ETH2_IP, FAR2_IP)]
            .into_iter()
            .enumerate()
        {
            let i = i as u8;
            let dev = s
                .add_device(
                    &format!("eth{i}"),
                    EthernetAddress([2, 0, 0, 0, i, 1]),
                    1500,
                )
                .expect("a fresh device name");
            s.set_up(dev, true).expect("the device exists");
            s.add_addr(dev, addr, 24).expect("a valid address");
            s.add_neigh_static(dev, peer, EthernetAddress([2, 0, 0, 0, i, 2]));
            devs[usize::from(i)] = dev;
        }
        s.set_sysctl("ip_forward", "1").expect("a known sysctl");
        while let Some((_, skb)) = s.poll_transmit() {
            s.recycle(skb);
        }
        (s, devs)
    }

    /// [`router`] as a multicast router, set up as a daemon does: the mroute socket
    /// (raw IGMP, MRT_INIT), vifs 0–2 on eth0–eth2, and (PEER_IP, GROUP) from vif 0 to
    /// vifs 1 and 2.
    pub fn mc_router() -> (Stack, [u32; 3]) {
        let (mut s, devs) = router();
        let fd = s.raw_socket(IPPROTO_IGMP).expect("CAP_NET_RAW");
        s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
            .expect("the first mroute socket");
        for (vif, &dev) in devs.iter().enumerate() {
            let v = VifCtl::by_ifindex(vif as u16, dev, 1);
            s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())
                .expect("a free vif on an existing device");
        }
        let m = MfcCtl::new(PEER_IP, GROUP, 0, &[(1, 1), (2, 1)]);
        s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &m.to_bytes())
            .expect("a valid MFC entry");
        (s, devs)
    }

    /// Ethernet 14 + IPv4 20 + UDP 8 + 22 bytes of data = 64 bytes, from the peer to
    /// `dst` (to its multicast MAC when `dst` is a group).
    pub fn udp_frame(dst: Ipv4Addr) -> Vec<u8> {
        let mut d = vec![0x42u8; 8 + 22];
        UdpRepr {
            src_port: 4000,
            dst_port: 9000,
        }
        .emit(&mut d, PEER_IP, dst, skiff_wire::TxChecksum::Full)
        .expect("room for the header");
        let mut f = frame_of(IPPROTO_UDP, PEER_IP, dst, 1, false, 0, &d);
        if dst.is_multicast() {
            let g = dst.octets();
            f[..6].copy_from_slice(&[1, 0, 0x5e, g[1] & 0x7f, g[2], g[3]]);
        }
        assert_eq!(f.len(), 64);
        f
    }
}

/// glibc copies large blocks with `rep movsb`, whose speed on AMD Zen swings several-fold
/// with the relative alignment of source and destination: a bench moved sixfold between
/// runs with where a heap block landed. This runs the bench again with `rep movsb` off
/// (a glibc tunable), so every copy, skiff's and the reference's, takes the vector loop.
pub fn without_rep_movsb() {
    const TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold=2147483647";
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLE)
        .status()
        .expect("the bench runs again");
    std::process::exit(status.code().unwrap_or(1));
}
