//! The phones' timers in time order, for the load generator's single loop.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::core::time::Instant;
use crate::sim::phones::PhoneTimer;

/// Timers of all phones in time order.
#[derive(Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    timers: HashMap<u64, PhoneTimer>,
    next_seq: u64,
}

impl TimerQueue {
    pub(super) fn push(&mut self, at: Instant, timer: PhoneTimer) {
        self.heap.push(Reverse((at, self.next_seq)));
        self.timers.insert(self.next_seq, timer);
        self.next_seq += 1;
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn pop_due(&mut self, now: Instant) -> Option<PhoneTimer> {
        let Reverse((at, seq)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.timers.remove(&seq)
    }
}

