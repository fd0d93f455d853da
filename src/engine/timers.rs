//! The engine's own timers (those above the transaction layer): answer delay, 2xx
//! retransmission, ACK wait, shutdown drain. A min-heap with lazy cancellation: a timer
//! whose call is gone or changed state is simply ignored when it fires, which keeps
//! scheduling O(log n) without a cancel operation.

use crate::core::ids::CallId;
use crate::core::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Send the 200 OK for a ringing call.
    Answer(CallId),
    /// Retransmit the 200 OK (RFC 3261 §13.3.1.4).
    RetransmitOk(CallId),
    /// Give up waiting for the ACK after 64*T1.
    AckTimeout(CallId),
    /// The entry menu waited long enough for a digit.
    MenuTimeout(CallId),
    /// A last prompt (closed, overflow) has played long enough: hang up.
    LeaveTimeout(CallId),
    /// The shutdown drain time ran out.
    DrainEnd,
}

/// Pending timers ordered by deadline (then by kind, for determinism).
#[derive(Debug, Default)]
pub struct TimerWheel {
    heap: BinaryHeap<Reverse<(Instant, u64, TimerKind)>>,
    sequence: u64,
}

impl TimerWheel {
    /// Schedules `kind` at `at`.
    pub fn schedule(&mut self, at: Instant, kind: TimerKind) {
        self.sequence += 1;
        self.heap.push(Reverse((at, self.sequence, kind)));
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns one timer due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKind> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, kind))| kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_then_schedule_order() {
        let mut wheel = TimerWheel::default();
        wheel.schedule(Instant::from_micros(20), TimerKind::DrainEnd);
        wheel.schedule(Instant::from_micros(10), TimerKind::Answer(CallId(2)));
        wheel.schedule(Instant::from_micros(10), TimerKind::Answer(CallId(1)));
        assert_eq!(wheel.next_deadline(), Some(Instant::from_micros(10)));
        assert_eq!(wheel.pop_due(Instant::from_micros(5)), None);
        assert_eq!(wheel.pop_due(Instant::from_micros(15)), Some(TimerKind::Answer(CallId(2))));
        assert_eq!(wheel.pop_due(Instant::from_micros(15)), Some(TimerKind::Answer(CallId(1))));
        assert_eq!(wheel.pop_due(Instant::from_micros(15)), None);
        assert_eq!(wheel.pop_due(Instant::from_micros(20)), Some(TimerKind::DrainEnd));
    }
}
