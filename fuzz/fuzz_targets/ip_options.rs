//! IPv4 options: the summary parser, the iterator and the fragment helper never panic, and
//! the iterator and the summary agree on what is well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::Error;
use skiff_wire::ip_options::{
    Ipv4Options, Ipv4OptionsIter, OptionsOrigin, ip_options_fragment, kind,
};

fuzz_target!(|data: &[u8]| {
    let summary = Ipv4Options::parse(data, OptionsOrigin::Received);
    for cap_net_raw in [false, true] {
        let socket = Ipv4Options::parse(data, OptionsOrigin::Socket { cap_net_raw });
        // A socket is never allowed more than a received packet.
        if socket.is_ok() {
            assert!(summary.is_ok());
        }
    }

    // Walk the iterator, re-emitting every option in place.
    let mut rebuilt = Vec::new();
    let mut iter_err = None;
    for item in Ipv4OptionsIter::new(data) {
        match item {
            Ok((at, opt)) => {
                assert_eq!(at, 20 + rebuilt.len());
                let mut buf = [0u8; 64];
                let n = opt.emit(&mut buf).expect("a parsed option emits");
                assert_eq!(n, opt.len());
                assert_eq!(opt.copied(), opt.kind() & 0x80 != 0);
                rebuilt.extend_from_slice(&buf[..n]);
            }
            Err(e) => iter_err = Some(e),
        }
    }
    assert_eq!(&data[..rebuilt.len()], &rebuilt[..]);

    match (&summary, iter_err) {
        (Ok(opts), None) => {
            assert_eq!(usize::from(opts.optlen), data.len());
            for at in [opts.rr, opts.ts, opts.srr, opts.router_alert] {
                if at != 0 {
                    assert!(usize::from(at) >= 20 && usize::from(at) < 20 + rebuilt.len());
                }
            }
        }
        (Ok(_), Some(e)) => panic!("summary accepts what the iterator rejects: {e}"),
        (Err(Error::BadHeaderLen), it) => assert_eq!(it, Some(Error::BadHeaderLen)),
        (Err(Error::BadOption { pointer }), it) => {
            // Either the same error, or an earlier duplicate RR/TS/source route the
            // iterator does not look for.
            let at = usize::from(*pointer) - 20;
            match it {
                Some(Error::BadOption { pointer: p }) if p == *pointer => {}
                _ => {
                    let later = matches!(it, Some(Error::BadOption { pointer: p }) if p > *pointer);
                    assert!(it.is_none() || later);
                    assert!(matches!(
                        data[at],
                        kind::RR | kind::TIMESTAMP | kind::LSRR | kind::SSRR
                    ));
                }
            }
        }
        (Err(e), _) => panic!("unexpected summary error {e}"),
    }

    // The fragment helper keeps the length, leaves copied options alone and never grows
    // the set of accepted areas.
    let mut frag = data.to_vec();
    ip_options_fragment(&mut frag);
    assert_eq!(frag.len(), data.len());
    if summary.is_ok() {
        let after = Ipv4Options::parse(&frag, OptionsOrigin::Received).expect("still valid");
        let before = summary.unwrap();
        assert_eq!((after.rr, after.ts), (0, 0));
        assert_eq!(
            (after.srr, after.router_alert),
            (before.srr, before.router_alert)
        );
    }
});
