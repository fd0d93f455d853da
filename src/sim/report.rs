//! The replay report: per queue offered, answered, abandoned, overflowed, service level
//! against the queue's target, average and p90 wait; agent occupancy; and an output hash
//! over every notification in order, so two runs with the same seed are provably equal.
//!
//! Service level here is answered within the target / offered, where offered counts
//! every call that left the queue (answered, abandoned, overflowed, closed, failed).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::acd::{Disposition, Outcome};

/// Counts and waits of one queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// The queue's service-level target.
    pub target: Duration,
    /// Calls that left the queue.
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Answered within the target.
    pub answered_within_target: u64,
    /// The caller hung up while waiting.
    pub abandoned: u64,
    /// Sent out of the queues (max wait or length).
    pub overflowed: u64,
    /// Closed or failed.
    pub other: u64,
    /// Waits of answered calls, in milliseconds.
    waits_ms: Vec<u64>,
}

impl QueueStats {
    /// Answered within the target / offered; `None` without calls.
    pub fn service_level(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.answered_within_target as f64 / self.offered as f64)
    }

    /// Mean wait of answered calls.
    pub fn average_wait(&self) -> Option<Duration> {
        let n = self.waits_ms.len() as u64;
        (n > 0).then(|| Duration::from_millis(self.waits_ms.iter().sum::<u64>() / n))
    }

    /// 90th percentile wait of answered calls (nearest rank).
    pub fn p90_wait(&self) -> Option<Duration> {
        if self.waits_ms.is_empty() {
            return None;
        }
        let mut sorted = self.waits_ms.clone();
        sorted.sort_unstable();
        let rank = (sorted.len() * 9).div_ceil(10).max(1) - 1;
        Some(Duration::from_millis(sorted[rank]))
    }

    fn record(&mut self, outcome: &Outcome) {
        self.offered += 1;
        match outcome {
            Outcome::Answered { wait, .. } => {
                self.answered += 1;
                if *wait <= self.target {
                    self.answered_within_target += 1;
                }
                self.waits_ms.push(wait.as_millis() as u64);
            }
            Outcome::Abandoned { .. } => self.abandoned += 1,
            Outcome::Overflowed { .. } => self.overflowed += 1,
            Outcome::Closed | Outcome::Failed { .. } => self.other += 1,
        }
    }
}

/// Per-queue statistics from dispositions, keyed `tenant/queue`. One small function on
/// purpose: the shared metrics aggregator can replace it without touching the driver.
#[derive(Debug, Clone, Default)]
pub struct QueueTally {
    queues: BTreeMap<String, QueueStats>,
}

impl QueueTally {
    /// An empty tally; `targets` gives each `tenant/queue` its service-level target.
    pub fn new(targets: impl IntoIterator<Item = (String, Duration)>) -> Self {
        let queues = targets.into_iter().map(|(key, target)| (key, QueueStats { target, ..QueueStats::default() })).collect();
        QueueTally { queues }
    }

    /// Counts one disposition.
    pub fn record(&mut self, disposition: &Disposition) {
        let key = format!("{}/{}", disposition.tenant, disposition.queue);
        self.queues.entry(key).or_default().record(&disposition.outcome);
    }

    /// The statistics per `tenant/queue`.
    pub fn queues(&self) -> &BTreeMap<String, QueueStats> {
        &self.queues
    }
}

/// Occupancy of one agent over the replay.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReport {
    /// Agent id.
    pub id: String,
    /// Calls answered.
    pub answered: u64,
    /// Offers cancelled before the answer.
    pub cancelled: u64,
    /// Time with a call up.
    pub talk_time: Duration,
    /// Talk time / time logged in (the whole replay).
    pub occupancy: f64,
}

/// Everything a replay reports.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// Trace calls played.
    pub calls: u64,
    /// Calls the engine accepted (`CallArrived`).
    pub accepted: u64,
    /// Calls the callers abandoned (hung up for lack of patience).
    pub caller_abandoned: u64,
    /// Calls refused by the daemon (final response ≥ 300).
    pub refused: u64,
    /// Calls whose trace line asked for a transfer (handled as a plain call for now).
    pub transfers_requested: u64,
    /// Per-queue statistics.
    pub queues: BTreeMap<String, QueueStats>,
    /// Per-agent occupancy.
    pub agents: Vec<AgentReport>,
    /// Simulated time from the first to the last step.
    pub simulated: Duration,
    /// Steps (inputs to the engine or phones) processed.
    pub steps: u64,
    /// SHA-256 of the ordered notifications.
    pub output_hash: String,
    /// Records the simulated store kept (`Output::Persist` answered `Persisted`).
    pub records_written: u64,
    /// Writes the simulated store failed (injected failures).
    pub record_write_failures: u64,
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "calls {} accepted {} refused {} caller-abandoned {} transfers-requested {} (handled as plain calls)",
            self.calls, self.accepted, self.refused, self.caller_abandoned, self.transfers_requested
        )?;
        writeln!(f, "simulated {:.1} h in {} steps", self.simulated.as_secs_f64() / 3600.0, self.steps)?;
        writeln!(
            f,
            "{:<28} {:>8} {:>8} {:>9} {:>10} {:>12} {:>9} {:>9}",
            "queue", "offered", "answered", "abandoned", "overflowed", "SL (target)", "avg wait", "p90 wait"
        )?;
        for (queue, stats) in &self.queues {
            let sl = stats.service_level().map_or("-".to_string(), |sl| format!("{:.1}%", sl * 100.0));
            let secs = |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.1}s", d.as_secs_f64()));
            writeln!(
                f,
                "{:<28} {:>8} {:>8} {:>9} {:>10} {:>12} {:>9} {:>9}",
                queue,
                stats.offered,
                stats.answered,
                stats.abandoned,
                stats.overflowed,
                format!("{sl} ({}s)", stats.target.as_secs()),
                secs(stats.average_wait()),
                secs(stats.p90_wait()),
            )?;
        }
        writeln!(f, "{:<12} {:>8} {:>9} {:>10} {:>10}", "agent", "answered", "cancelled", "talk (h)", "occupancy")?;
        for agent in &self.agents {
            writeln!(
                f,
                "{:<12} {:>8} {:>9} {:>10.1} {:>9.1}%",
                agent.id,
                agent.answered,
                agent.cancelled,
                agent.talk_time.as_secs_f64() / 3600.0,
                agent.occupancy * 100.0
            )?;
        }
        writeln!(f, "records written {} failed {}", self.records_written, self.record_write_failures)?;
        write!(f, "output hash {}", self.output_hash)
    }
}
