//! NFQUEUE: packets waiting for a verdict from user code. Linux net/netfilter/nf_queue.c
//! nf_queue(), net/netfilter/nfnetlink_queue.c nfqnl_enqueue_packet().

use super::hook::{NfDrop, NfHookState};
use crate::skb::SkBuff;
use std::collections::{BTreeMap, VecDeque};

/// The default queue length. Linux `NFQNL_QMAX_DEFAULT`.
pub const NFQNL_QMAX_DEFAULT: usize = 1024;

/// The largest `maxlen` a queue accepts; larger configurations are clamped to it so that the
/// packets held stay bounded.
pub const NFQ_MAXLEN_LIMIT: usize = 1 << 16;

/// Counters of one queue, the fields of Linux /proc/net/netfilter/nfnetlink_queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfqStats {
    /// Packets waiting for a verdict.
    pub queue_total: usize,
    pub queue_maxlen: usize,
    pub fail_open: bool,
    /// Packets dropped because the queue was full.
    pub queue_dropped: u64,
    /// The id of the latest packet queued here.
    pub id_sequence: u32,
}

struct NfQueue {
    maxlen: usize,
    fail_open: bool,
    /// Queued ids not yet handed out by `recv`, oldest first.
    unread: VecDeque<u32>,
    total: usize,
    dropped: u64,
    id_sequence: u32,
}

/// A queued packet. Linux `struct nf_queue_entry`.
pub(super) struct QueueEntry {
    pub queue: u16,
    pub skb: SkBuff,
    pub state: NfHookState,
    /// The op that queued it; the traversal resumes after it.
    pub op_id: u64,
    /// Handed out by `recv` (no longer in the queue's `unread` list).
    read: bool,
}

/// What nf_queue() did with a packet.
pub(super) enum Enqueue {
    Queued,
    /// Continue with the next op: bypass of an unbound queue, or a full fail-open queue.
    Continue(SkBuff),
    Dropped(SkBuff, NfDrop),
}

#[derive(Default)]
pub(super) struct NfQueues {
    queues: BTreeMap<u16, NfQueue>,
    entries: BTreeMap<u32, QueueEntry>,
    last_id: u32,
}

impl NfQueues {
    pub fn set_config(&mut self, num: u16, maxlen: usize, fail_open: bool) {
        let q = self.queues.entry(num).or_insert_with(|| NfQueue {
            maxlen: NFQNL_QMAX_DEFAULT,
            fail_open: false,
            unread: VecDeque::new(),
            total: 0,
            dropped: 0,
            id_sequence: 0,
        });
        q.maxlen = maxlen.min(NFQ_MAXLEN_LIMIT);
        q.fail_open = fail_open;
    }

    pub fn unbind(&mut self, num: u16) -> Vec<SkBuff> {
        if self.queues.remove(&num).is_none() {
            return Vec::new();
        }
        let ids: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, e)| e.queue == num)
            .map(|(id, _)| *id)
            .collect();
        ids.iter()
            .filter_map(|id| self.entries.remove(id))
            .map(|e| e.skb)
            .collect()
    }

    /// Queues `skb` at `num`. Linux nf_queue(), __nfqnl_enqueue_packet().
    pub fn nf_queue(
        &mut self,
        skb: SkBuff,
        state: NfHookState,
        op_id: u64,
        num: u16,
        bypass: bool,
    ) -> Enqueue {
        let Some(q) = self.queues.get_mut(&num) else {
            return if bypass {
                Enqueue::Continue(skb)
            } else {
                Enqueue::Dropped(skb, NfDrop::NoQueue)
            };
        };
        if q.total >= q.maxlen {
            if q.fail_open {
                return Enqueue::Continue(skb);
            }
            q.dropped = q.dropped.wrapping_add(1);
            return Enqueue::Dropped(skb, NfDrop::QueueFull);
        }
        // Ids are unique among queued packets: skip any still in use after a wrap (at most
        // as many as are queued).
        let mut id = self.last_id.wrapping_add(1);
        while id == 0 || self.entries.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.last_id = id;
        q.id_sequence = id;
        q.total += 1;
        q.unread.push_back(id);
        self.entries.insert(
            id,
            QueueEntry {
                queue: num,
                skb,
                state,
                op_id,
                read: false,
            },
        );
        Enqueue::Queued
    }

    pub fn recv(&mut self, num: u16) -> Option<(u32, &SkBuff)> {
        let q = self.queues.get_mut(&num)?;
        // Ids already given a verdict before being read are skipped.
        let id = q.unread.pop_front()?;
        let entry = self.entries.get_mut(&id)?;
        entry.read = true;
        Some((id, &entry.skb))
    }

    pub fn packet_mut(&mut self, id: u32) -> Option<&mut SkBuff> {
        self.entries.get_mut(&id).map(|e| &mut e.skb)
    }

    /// Removes entry `id` for its verdict. Linux find_dequeue_entry().
    pub fn take(&mut self, id: u32) -> Option<QueueEntry> {
        let entry = self.entries.remove(&id)?;
        if let Some(q) = self.queues.get_mut(&entry.queue) {
            q.total = q.total.saturating_sub(1);
            if !entry.read {
                q.unread.retain(|&u| u != id);
            }
        }
        Some(entry)
    }

    pub fn stats(&self, num: u16) -> Option<NfqStats> {
        self.queues.get(&num).map(|q| NfqStats {
            queue_total: q.total,
            queue_maxlen: q.maxlen,
            fail_open: q.fail_open,
            queue_dropped: q.dropped,
            id_sequence: q.id_sequence,
        })
    }
}
