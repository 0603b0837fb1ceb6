//! ip_fragment / ip_do_fragment on forwarding and local output (R24).

mod common;

use common::*;

/// (MF, offset in bytes, IHL in bytes) of a sent IPv4 packet.
fn frag_fields(o: &Out) -> (bool, usize, usize) {
    let fo = u16::from_be_bytes([o.ip[6], o.ip[7]]);
    (
        fo & 0x2000 != 0,
        usize::from(fo & 0x1fff) * 8,
        usize::from(o.ip[0] & 0xf) * 4,
    )
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + i / 256) as u8).collect()
}

#[test]
fn r24_pieces_are_mtu_minus_hlen_rounded_down_and_share_the_id() {
    let mut r = Host::new(true); // eth1 MTU 1400
    let p = Ip::udp(PEER, PEER1, 7, &pattern(1450));
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 2);
    assert_eq!(
        out.iter().map(frag_fields).collect::<Vec<_>>(),
        vec![(true, 0, 20), (false, 1376, 20)]
    );
    assert_eq!((out[0].payload.len(), out[1].payload.len()), (1376, 82));
    assert!(out.iter().all(|o| o.ident == p.ident && o.dev == r.eth1));
    assert_eq!(
        [&out[0].payload[..], &out[1].payload[..]].concat(),
        p.payload
    );
    assert_eq!((r.mib("IpFragOKs"), r.mib("IpFragCreates")), (1, 2));
}

#[test]
fn r24_refragmenting_a_fragment_keeps_mf_and_continues_its_offsets() {
    let mut r = Host::new(true);
    let mut first = Ip::udp(PEER, PEER1, 7, &pattern(1450));
    first.mf = true;
    r.rx(r.eth0, &first.frame());
    let out = outs(r.tx());
    assert_eq!(
        out.iter().map(frag_fields).collect::<Vec<_>>(),
        vec![(true, 0, 20), (true, 1376, 20)],
        "the input was not the last fragment"
    );
    let mut last = Ip::new(PEER, PEER1, 17, pattern(1450));
    (last.frag_offset, last.mf) = (1480, false);
    r.rx(r.eth0, &last.frame());
    let out = outs(r.tx());
    assert_eq!(
        out.iter().map(frag_fields).collect::<Vec<_>>(),
        vec![(true, 1480, 20), (false, 1480 + 1376, 20)]
    );
    assert!(out.iter().all(|o| o.ident == last.ident));
}

#[test]
fn r24_later_pieces_keep_only_copied_options() {
    let mut r = Host::new(true);
    let mut p = Ip::udp(PEER, PEER1, 7, &pattern(1450));
    // Router alert (copied), record route (not copied), end of list.
    p.options = vec![0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 0];
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| frag_fields(o).2 == 32), "IHL is kept");
    assert_eq!(out[0].payload.len(), 1368);
    assert_eq!(&out[0].ip[20..24], &[0x94, 4, 0, 0]);
    assert_eq!(
        &out[0].ip[24..27],
        &[0x07, 7, 8],
        "the router recorded itself"
    );
    assert_eq!(&out[1].ip[20..24], &[0x94, 4, 0, 0]);
    assert_eq!(&out[1].ip[24..31], &[1; 7], "record route became NOPs");
}

#[test]
fn r24_local_output_is_fragmented() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    let msg = icmp(8, 0, [0, 1, 0, 1], &pattern(3992));
    assert_eq!(h.s.raw_sendto(h.now, sock, PEER, &msg), Ok(4000));
    let out = outs(h.tx());
    assert_eq!(
        out.iter().map(frag_fields).collect::<Vec<_>>(),
        vec![(true, 0, 20), (true, 1480, 20), (false, 2960, 20)]
    );
    assert!(out.iter().all(|o| !o.df && o.ident == out[0].ident));
    let whole: Vec<u8> = out.iter().flat_map(|o| o.payload.clone()).collect();
    assert_eq!(whole, msg);
    assert_eq!(h.mib("IpOutRequests"), 1);
    assert_eq!((h.mib("IpFragOKs"), h.mib("IpFragCreates")), (1, 3));
}

#[test]
fn r24_local_pieces_all_leave_through_the_connected_neighbour() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    let msg = icmp(8, 0, [0, 1, 0, 1], &pattern(3992));
    assert_eq!(h.s.raw_sendto(h.now, sock, PEER, &msg), Ok(4000));
    let frames = h.tx();
    assert_eq!(frames.len(), 3);
    for (dev, f) in &frames {
        assert_eq!(*dev, h.eth0);
        assert_eq!(
            (&f[..6], &f[6..12], &f[12..14]),
            (&PEER_MAC.0[..], &MAC0.0[..], &[0x08, 0x00][..])
        );
    }
    // ip_finish_output2() counts every piece.
    assert_eq!(h.mib("IpOutTransmits"), 3);
    assert_eq!(h.mib("IpExtOutOctets"), 4000 + 3 * 20);
}
