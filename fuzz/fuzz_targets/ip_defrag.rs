//! Reassembly under arbitrary fragment sequences: offsets, lengths, flags, IDs, sources,
//! protocols and ECN, interleaved with time steps. No panic; reassembly memory stays
//! within `ipfrag_high_thresh` plus one fragment; every queue is gone once its time is up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const HIGH: usize = 64 * 1024;

// Records of 6 bytes: [op][id][off_hi][off_lo][len_hi][len_lo].
// op bit 0: a time step of `len` ms instead of a fragment; bit 1: MF; bit 2: DF;
// bits 3-4: source; bits 5-6: protocol; bit 7 with the ID's low bits: ECN.
fuzz_target!(|data: &[u8]| {
    let mut s = Stack::new(StackConfig::default());
    let dev = s.add_device("eth0", MAC, 1500).unwrap();
    s.set_up(dev, true).unwrap();
    s.add_addr(dev, Ipv4Addr::new(10, 0, 0, 1), 24).unwrap();
    s.set_sysctl("ipfrag_low_thresh", "0").unwrap();
    s.set_sysctl("ipfrag_high_thresh", &HIGH.to_string()).unwrap();
    let mut now = Instant::from_secs(1);
    for r in data.chunks_exact(6) {
        let len = usize::from(u16::from_be_bytes([r[4], r[5]]));
        if r[0] & 1 != 0 {
            now = now.saturating_add(core::time::Duration::from_millis(len as u64));
            s.handle_timeout(now);
        } else {
            let payload = vec![r[1]; len % 1481];
            let ip = Ipv4Repr {
                src: Ipv4Addr::new(10, 0, 0, 2 + ((r[0] >> 3) & 3)),
                dst: Ipv4Addr::new(10, 0, 0, 1),
                protocol: IpProtocol::from([1, 17, 6, 2][usize::from((r[0] >> 5) & 3)]),
                ttl: 64,
                tos: if r[0] & 0x80 != 0 { r[1] & 3 } else { 0 },
                ident: u16::from(r[1]),
                dont_frag: r[0] & 4 != 0,
                more_frags: r[0] & 2 != 0,
                frag_offset: (u16::from_be_bytes([r[2], r[3]]) & 0x1fff) * 8,
                options: &[],
                payload_len: payload.len(),
            };
            let mut frame = vec![0; 14 + ip.buffer_len()];
            EthernetRepr {
                src: EthernetAddress([2, 0, 0, 0, 0, 2]),
                dst: MAC,
                vlan: None,
                ethertype: EtherType::Ipv4,
            }
            .emit(&mut frame)
            .unwrap();
            ip.emit(&mut frame[14..]).unwrap();
            frame[34..].copy_from_slice(&payload);
            let Some(mut skb) = s.alloc_skb(frame.len()) else { return };
            skb.put_slice(&frame).unwrap();
            s.netif_receive(now, dev, skb);
        }
        while let Some((_, skb)) = s.poll_transmit() {
            s.recycle(skb);
        }
        assert!(s.ipfrags().mem() <= HIGH + 4096, "{}", s.ipfrags().mem());
    }
    s.handle_timeout(now.saturating_add(core::time::Duration::from_secs(31)));
    assert_eq!((s.ipfrags().len(), s.ipfrags().mem()), (0, 0));
});
