//! The simulation's store: records kept in memory, each write answered after an
//! injectable latency and failed with an injectable probability, drawn from a seeded
//! generator so the same seed gives the same run. The replay schedules the answer on its
//! own event queue; the write counts as durable when its answer is due, like a COMMIT.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::core::rng::SeededRng;
use crate::core::time::{Instant, Now};
use crate::engine::{Input, PersistTicket, Record};

/// Resolution of the failure probability: one in a million.
const FAILURE_SCALE: u64 = 1_000_000;

/// How the simulated store behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimStoreConfig {
    /// Time from a write to its answer (a group commit's fsync).
    pub latency: Duration,
    /// Probability (0..1) that a write fails (full disk, locked file).
    pub failure_probability: f64,
}

impl Default for SimStoreConfig {
    /// 2 ms per write, never failing: a local SSD.
    fn default() -> Self {
        SimStoreConfig { latency: Duration::from_millis(2), failure_probability: 0.0 }
    }
}

/// A write whose answer is not yet due.
#[derive(Debug)]
struct PendingWrite {
    record: Record,
    fails: bool,
}

/// In-memory records keyed like the real store (tenant, reference, arrival): a second
/// write of the same call replaces the first.
#[derive(Debug)]
pub struct SimStore {
    config: SimStoreConfig,
    rng: SeededRng,
    pending: HashMap<PersistTicket, PendingWrite>,
    records: BTreeMap<(String, String, i64), Record>,
    written: u64,
    failed: u64,
}

impl SimStore {
    /// An empty store; its failures are drawn from `seed`.
    pub fn new(config: SimStoreConfig, seed: u64) -> Self {
        SimStore {
            config,
            rng: SeededRng::fork(seed, "sim-store"),
            pending: HashMap::new(),
            records: BTreeMap::new(),
            written: 0,
            failed: 0,
        }
    }

    /// Takes the write of `record` at `now`; returns when its answer is due (hand that
    /// instant and `ticket` back to [`SimStore::answer`]).
    pub fn persist(&mut self, now: Instant, ticket: PersistTicket, record: Record) -> Instant {
        let threshold = (self.config.failure_probability.clamp(0.0, 1.0) * FAILURE_SCALE as f64) as u64;
        let fails = self.rng.below(FAILURE_SCALE) < threshold;
        self.pending.insert(ticket, PendingWrite { record, fails });
        now + self.config.latency
    }

    /// The write of `ticket` is due: keep the record (unless it fails) and return the
    /// engine's input; `None` for a ticket not pending.
    pub fn answer(&mut self, now: Now, ticket: PersistTicket) -> Option<Input> {
        let write = self.pending.remove(&ticket)?;
        Some(if self.settle(write) {
            Input::Persisted { now, ticket }
        } else {
            Input::PersistFailed { now, ticket, reason: "simulated store failure".into() }
        })
    }

    /// The simulation is over: writes still pending complete (their answers go nowhere).
    pub fn finish(&mut self) {
        let pending: Vec<PendingWrite> = self.pending.drain().map(|(_, write)| write).collect();
        for write in pending {
            self.settle(write);
        }
    }

    fn settle(&mut self, write: PendingWrite) -> bool {
        if write.fails {
            self.failed += 1;
            return false;
        }
        let key = match &write.record {
            Record::Call(call) => (call.tenant.clone(), call.reference.clone(), call.arrived_at_ms),
        };
        self.records.insert(key, write.record);
        self.written += 1;
        true
    }

    /// Successful writes so far (a replaced record counts each time).
    pub fn writes(&self) -> u64 {
        self.written
    }

    /// Failed writes so far.
    pub fn failures(&self) -> u64 {
        self.failed
    }

    /// Distinct records kept.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::WallTime;
    use crate::engine::CallRecord;

    fn call(reference: &str) -> Record {
        Record::Call(CallRecord {
            reference: reference.into(),
            tenant: "proef".into(),
            dialled: "14010".into(),
            disposition: "not_queued".into(),
            end_reason: "caller_hung_up".into(),
            ..CallRecord::default()
        })
    }

    fn outcomes(seed: u64, probability: f64) -> Vec<bool> {
        let mut store = SimStore::new(SimStoreConfig { latency: Duration::from_millis(5), failure_probability: probability }, seed);
        let start = Instant::from_micros(1_000);
        (0..200)
            .map(|index| {
                let due = store.persist(start, PersistTicket(index), call(&format!("{:08}", 10_000_000 + index)));
                assert_eq!(due, start + Duration::from_millis(5));
                let input = store.answer(Now::new(due, WallTime(0)), PersistTicket(index)).expect("pending");
                matches!(input, Input::Persisted { .. })
            })
            .collect()
    }

    #[test]
    fn failures_follow_the_probability_and_the_seed() {
        assert!(outcomes(1, 0.0).iter().all(|ok| *ok));
        assert!(outcomes(1, 1.0).iter().all(|ok| !*ok));
        let some = outcomes(7, 0.25);
        let failed = some.iter().filter(|ok| !**ok).count();
        assert!((25..=80).contains(&failed), "{failed} of 200 failed at p = 0.25");
        assert_eq!(some, outcomes(7, 0.25), "the same seed, the same failures");
        assert_ne!(some, outcomes(8, 0.25));
    }

    #[test]
    fn a_second_write_of_a_call_replaces_it_and_finish_settles_what_is_pending() {
        let mut store = SimStore::new(SimStoreConfig::default(), 1);
        let now = Instant::from_micros(0);
        store.persist(now, PersistTicket(1), call("10000009"));
        store.persist(now, PersistTicket(2), call("10000009"));
        assert!(store.answer(Now::new(now, WallTime(0)), PersistTicket(3)).is_none());
        store.finish();
        assert_eq!((store.writes(), store.records().count()), (2, 1));
    }
}
