//! Writes waiting for the store: persist before promise, with a bound and a timeout.
//!
//! Every record goes out as [`Output::Persist`] with a fresh ticket and stays here until
//! the driver answers. At most `max_in_flight` writes are outstanding; further records
//! wait in a backlog of at most `max_backlog`, and when that is full the oldest waiting
//! record is given up (counted as lost and logged: a store that has not answered for
//! that long is down, and the engine must not grow without bound). A write not answered
//! within `timeout` counts as failed. A failed write is retried after `retry_delay`, up to
//! `max_attempts` in all; the store replaces a record written twice (same reference and
//! arrival), so a retry after a timeout whose write did land later does no harm.

use super::record::{PersistTicket, Record};
use super::timers::TimerKind;
use super::Output;
use crate::core::deadlines::DeadlineQueue;
use crate::core::time::Now;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// The bounds of the persist queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistLimits {
    /// Writes outstanding at the store at once.
    pub max_in_flight: usize,
    /// Records waiting for a slot; beyond it the oldest is lost (counted).
    pub max_backlog: usize,
    /// A write not answered in this time counts as failed.
    pub timeout: Duration,
    /// Pause before a failed write is tried again.
    pub retry_delay: Duration,
    /// Tries per record, the first included.
    pub max_attempts: u32,
}

impl Default for PersistLimits {
    /// 256 in flight (a group commit takes them all at once), 100,000 waiting (about a
    /// day of a large municipality's calls), 10 s to answer, 3 tries 5 s apart.
    fn default() -> Self {
        PersistLimits {
            max_in_flight: 256,
            max_backlog: 100_000,
            timeout: Duration::from_secs(10),
            retry_delay: Duration::from_secs(5),
            max_attempts: 3,
        }
    }
}

/// What happened to the writes, for `/metrics` and the replay report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PersistStats {
    /// Records the store made durable.
    pub persisted: u64,
    /// Writes the store reported failed (each retried while tries are left).
    pub failed: u64,
    /// Writes the store did not answer in time (each retried while tries are left).
    pub timed_out: u64,
    /// Records given up: out of tries, or pushed out of a full backlog.
    pub lost: u64,
}

struct Pending {
    record: Record,
    attempts: u32,
}

/// The records between the engine and the store. See the module documentation.
pub struct PersistQueue {
    limits: PersistLimits,
    next_ticket: u64,
    in_flight: HashMap<PersistTicket, Pending>,
    backlog: VecDeque<Pending>,
    /// Failed writes waiting for their retry timer, by the ticket that failed.
    retrying: HashMap<PersistTicket, Pending>,
    stats: PersistStats,
}

impl PersistQueue {
    /// An empty queue with `limits`.
    pub fn new(limits: PersistLimits) -> Self {
        PersistQueue {
            limits,
            next_ticket: 0,
            in_flight: HashMap::new(),
            backlog: VecDeque::new(),
            retrying: HashMap::new(),
            stats: PersistStats::default(),
        }
    }

    /// Queues `record` for the store and sends what the bound allows.
    pub fn submit(&mut self, now: Now, record: Record, timers: &mut DeadlineQueue<TimerKind>, outbox: &mut VecDeque<Output>) {
        self.enqueue(Pending { record, attempts: 0 });
        self.pump(now, timers, outbox);
    }

    /// The store made `ticket` durable.
    pub fn on_persisted(&mut self, now: Now, ticket: PersistTicket, timers: &mut DeadlineQueue<TimerKind>, outbox: &mut VecDeque<Output>) {
        if self.in_flight.remove(&ticket).is_some() {
            self.stats.persisted += 1;
        } else {
            // Answered after its timeout: the retry writes the same record again.
            tracing::debug!(ticket = ticket.0, "late store answer");
        }
        self.pump(now, timers, outbox);
    }

    /// The store could not write `ticket`.
    pub fn on_failed(&mut self, now: Now, ticket: PersistTicket, reason: &str, timers: &mut DeadlineQueue<TimerKind>, outbox: &mut VecDeque<Output>) {
        if let Some(pending) = self.in_flight.remove(&ticket) {
            self.stats.failed += 1;
            tracing::warn!(reference = pending.record.reference(), %reason, attempt = pending.attempts, "store write failed");
            self.retry_later(now, ticket, pending, timers);
        }
        self.pump(now, timers, outbox);
    }

    /// A timer of ours fired: a write's timeout or a retry.
    pub fn on_timer(&mut self, now: Now, timer: TimerKind, timers: &mut DeadlineQueue<TimerKind>, outbox: &mut VecDeque<Output>) {
        match timer {
            TimerKind::PersistTimeout(ticket) => {
                if let Some(pending) = self.in_flight.remove(&ticket) {
                    self.stats.timed_out += 1;
                    tracing::warn!(reference = pending.record.reference(), attempt = pending.attempts, "store did not answer in time");
                    self.retry_later(now, ticket, pending, timers);
                }
            }
            TimerKind::PersistRetry(ticket) => {
                if let Some(pending) = self.retrying.remove(&ticket) {
                    self.backlog.push_front(pending);
                }
            }
            _ => return,
        }
        self.pump(now, timers, outbox);
    }

    /// Counters so far.
    pub fn stats(&self) -> PersistStats {
        self.stats
    }

    /// Records not yet durable: in flight, waiting, or waiting to be retried.
    pub fn pending(&self) -> usize {
        self.in_flight.len() + self.backlog.len() + self.retrying.len()
    }

    fn retry_later(&mut self, now: Now, ticket: PersistTicket, pending: Pending, timers: &mut DeadlineQueue<TimerKind>) {
        if pending.attempts >= self.limits.max_attempts {
            self.stats.lost += 1;
            tracing::error!(reference = pending.record.reference(), attempts = pending.attempts, "record given up after its last try");
            return;
        }
        timers.schedule_mono(now.mono + self.limits.retry_delay, TimerKind::PersistRetry(ticket));
        self.retrying.insert(ticket, pending);
    }

    fn enqueue(&mut self, pending: Pending) {
        if self.backlog.len() >= self.limits.max_backlog {
            if let Some(oldest) = self.backlog.pop_front() {
                self.stats.lost += 1;
                tracing::error!(reference = oldest.record.reference(), "store backlog full; oldest record given up");
            }
        }
        self.backlog.push_back(pending);
    }

    fn pump(&mut self, now: Now, timers: &mut DeadlineQueue<TimerKind>, outbox: &mut VecDeque<Output>) {
        while self.in_flight.len() < self.limits.max_in_flight {
            let Some(mut pending) = self.backlog.pop_front() else { break };
            self.next_ticket += 1;
            let ticket = PersistTicket(self.next_ticket);
            pending.attempts += 1;
            outbox.push_back(Output::Persist { ticket, record: pending.record.clone() });
            timers.schedule_mono(now.mono + self.limits.timeout, TimerKind::PersistTimeout(ticket));
            self.in_flight.insert(ticket, pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::{Instant, WallTime};
    use crate::engine::record::CallRecord;

    fn record(reference: &str) -> Record {
        Record::Call(CallRecord {
            reference: reference.into(),
            tenant: "almere".into(),
            dialled: "14036".into(),
            disposition: "not_queued".into(),
            end_reason: "caller_hung_up".into(),
            ..CallRecord::default()
        })
    }

    fn at(seconds: u64) -> Now {
        Now::new(Instant::from_micros(seconds * 1_000_000), WallTime(0))
    }

    fn tickets(outbox: &mut VecDeque<Output>) -> Vec<(PersistTicket, String)> {
        outbox
            .drain(..)
            .filter_map(|output| match output {
                Output::Persist { ticket, record } => Some((ticket, record.reference().to_string())),
                _ => None,
            })
            .collect()
    }

    struct Rig {
        queue: PersistQueue,
        timers: DeadlineQueue<TimerKind>,
        outbox: VecDeque<Output>,
    }

    impl Rig {
        fn new(limits: PersistLimits) -> Self {
            Rig { queue: PersistQueue::new(limits), timers: DeadlineQueue::default(), outbox: VecDeque::new() }
        }
        fn fire(&mut self, now: Now) {
            while let Some(timer) = self.timers.pop_due(now) {
                self.queue.on_timer(now, timer, &mut self.timers, &mut self.outbox);
            }
        }
    }

    #[test]
    fn in_flight_writes_are_bounded_and_the_backlog_follows_in_order() {
        let mut rig = Rig::new(PersistLimits { max_in_flight: 2, ..PersistLimits::default() });
        for reference in ["a", "b", "c"] {
            rig.queue.submit(at(0), record(reference), &mut rig.timers, &mut rig.outbox);
        }
        let sent = tickets(&mut rig.outbox);
        assert_eq!(sent.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        rig.queue.on_persisted(at(1), sent[0].0, &mut rig.timers, &mut rig.outbox);
        assert_eq!(tickets(&mut rig.outbox).iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(rig.queue.stats().persisted, 1);
        assert_eq!(rig.queue.pending(), 2);
    }

    #[test]
    fn a_failed_write_is_retried_after_the_delay_then_given_up() {
        let limits = PersistLimits { max_attempts: 2, retry_delay: Duration::from_secs(5), ..PersistLimits::default() };
        let mut rig = Rig::new(limits);
        rig.queue.submit(at(0), record("a"), &mut rig.timers, &mut rig.outbox);
        let first = tickets(&mut rig.outbox)[0].0;
        rig.queue.on_failed(at(0), first, "disk full", &mut rig.timers, &mut rig.outbox);
        assert!(tickets(&mut rig.outbox).is_empty(), "not retried at once");
        rig.fire(at(5));
        let second = tickets(&mut rig.outbox);
        assert_eq!(second.len(), 1, "retried after the delay");
        assert_ne!(second[0].0, first, "a retry has a new ticket");
        rig.queue.on_failed(at(5), second[0].0, "disk full", &mut rig.timers, &mut rig.outbox);
        rig.fire(at(60));
        assert!(tickets(&mut rig.outbox).is_empty());
        assert_eq!(rig.queue.stats(), PersistStats { persisted: 0, failed: 2, timed_out: 0, lost: 1 });
        assert_eq!(rig.queue.pending(), 0);
    }

    #[test]
    fn an_unanswered_write_times_out_and_a_late_answer_is_harmless() {
        let mut rig = Rig::new(PersistLimits::default());
        rig.queue.submit(at(0), record("a"), &mut rig.timers, &mut rig.outbox);
        let first = tickets(&mut rig.outbox)[0].0;
        rig.fire(at(10));
        assert_eq!(rig.queue.stats().timed_out, 1);
        rig.queue.on_persisted(at(11), first, &mut rig.timers, &mut rig.outbox);
        assert_eq!(rig.queue.stats().persisted, 0, "the late answer is not counted twice");
        rig.fire(at(15));
        let retry = tickets(&mut rig.outbox);
        assert_eq!(retry.len(), 1);
        rig.queue.on_persisted(at(15), retry[0].0, &mut rig.timers, &mut rig.outbox);
        assert_eq!(rig.queue.stats().persisted, 1);
        assert_eq!(rig.queue.pending(), 0);
    }

    #[test]
    fn a_full_backlog_gives_up_the_oldest_record() {
        let limits = PersistLimits { max_in_flight: 1, max_backlog: 2, ..PersistLimits::default() };
        let mut rig = Rig::new(limits);
        for reference in ["a", "b", "c", "d"] {
            rig.queue.submit(at(0), record(reference), &mut rig.timers, &mut rig.outbox);
        }
        let sent = tickets(&mut rig.outbox);
        assert_eq!(sent.len(), 1);
        assert_eq!(rig.queue.stats().lost, 1, "b was pushed out by d");
        rig.queue.on_persisted(at(1), sent[0].0, &mut rig.timers, &mut rig.outbox);
        assert_eq!(tickets(&mut rig.outbox)[0].1, "c");
    }
}
