//! IGMP receive. Linux net/ipv4/igmp.c igmp_rcv(): length and checksum, then the message
//! is consumed. skiff joins only 224.0.0.1 (never reported, RFC 2236 §6), so a query
//! draws no report; group membership and reports come with the multicast issue.

use crate::drop::DropReason;
use crate::skb::SkBuff;
use crate::stack::{Stack, stage};
use skiff_wire::checksum::{csum_fold, csum_partial};

impl Stack {
    /// Linux igmp_rcv(): `data` is at the IGMP header.
    pub(crate) fn igmp_rcv(&mut self, skb: SkBuff) {
        stage!(self, "igmp_rcv");
        let ok = skb.len() >= skiff_wire::igmp::HEADER_LEN
            && (skb.csum_unnecessary() || csum_fold(csum_partial(skb.data(), 0)) == 0);
        if ok {
            self.consume_skb(skb);
        } else {
            self.kfree_skb(skb, DropReason::IgmpInvalid);
        }
    }
}
