//! Property: a random datagram, fragmented at random MTUs (and fragmented again on the
//! way, as a router with a smaller MTU does), shuffled and partly duplicated (exact
//! duplicates only), reassembles equal to the original.

mod common;

use common::*;
use proptest::prelude::*;

/// RFC 3692 experimental: only the raw socket takes it.
const PROTO: u8 = 253;

/// (offset in bytes, MF, payload) of a fragment.
type Frag = (usize, bool, Vec<u8>);

/// Cuts `f` for `mtu` as RFC 791 does: pieces of `(mtu - 20) & !7`, offsets continuing
/// from its own, MF on all but the last unless `f` itself had MF.
fn fragment(f: &Frag, mtu: usize) -> Vec<Frag> {
    let (offset, mf, data) = f;
    let space = (mtu - 20) & !7;
    if data.len() + 20 <= mtu {
        return vec![f.clone()];
    }
    let n = data.len().div_ceil(space);
    data.chunks(space)
        .enumerate()
        .map(|(i, c)| (offset + i * space, i + 1 < n || *mf, c.to_vec()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fragmented_shuffled_duplicated_reassembles_equal(
        data in proptest::collection::vec(any::<u8>(), 1..20_000),
        mtu1 in 68usize..=1500,
        mtu2 in 68usize..=1500,
        order in any::<u64>(),
        dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ident in any::<u16>(),
    ) {
        let mut h = Host::new(false);
        let sock = h.s.raw_socket(PROTO).unwrap();
        let whole: Frag = (0, false, data.clone());
        let mut frags: Vec<Frag> = fragment(&whole, mtu1)
            .iter()
            .flat_map(|f| fragment(f, mtu2))
            .collect();
        for d in &dups {
            let f = frags[d.index(frags.len())].clone();
            frags.push(f);
        }
        // A seeded Fisher-Yates shuffle.
        let mut x = order | 1;
        for i in (1..frags.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            frags.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for (offset, mf, payload) in &frags {
            let mut p = Ip::new(PEER, ME, PROTO, payload.clone());
            (p.ident, p.frag_offset, p.mf) = (ident, *offset as u16, *mf);
            h.rx(h.eth0, &p.frame());
        }
        // Duplicates that come after completion may even complete a second copy.
        let mut copies = 0;
        while let Ok(got) = h.s.raw_recv(sock) {
            prop_assert_eq!(&got.packet[20..], &data[..]);
            prop_assert_eq!(got.packet.len(), 20 + data.len());
            copies += 1;
        }
        prop_assert!(copies >= 1);
        let fragmented = frags.iter().any(|f| f.1 || f.0 != 0);
        if fragmented {
            prop_assert_eq!(h.mib("IpReasmOKs"), copies);
        }
        // A duplicate that came after completion opened a queue of its own, which expires.
        prop_assert!(h.s.ipfrags().len() <= dups.len());
        h.advance(core::time::Duration::from_secs(31));
        prop_assert_eq!(h.s.ipfrags().len(), 0);
        prop_assert_eq!(h.s.ipfrags().mem(), 0);
        prop_assert!(h.mib("IpReasmFails") <= dups.len() as u64);
    }
}
