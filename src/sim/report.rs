//! The replay report: the aggregator's figures per queue (offered, answered, abandoned,
//! overflowed, service level against the queue's target, average and p90 wait), what the
//! simulated callers and agent phones saw themselves, and an output hash over every
//! notification in order, so two runs with the same seed are provably equal.
//!
//! Per backoffice group it prints the transfers, how many were answered, the bounces by
//! reason and the reachability ratio, and the shares of how calls were handled
//! (`handled`, `transferred_cold`, `transferred_warm`, `bounced`, `not_handled`): the
//! aggregator's reachability entries `transfer:GROUP` and handling counts, not a count of
//! the replay's own.
//!
//! Every queue figure is [`crate::stats::StatsAggregator`]'s, fed the engine's
//! notifications as they are produced, so the replay, live `/metrics` and the load
//! generator share one definition of each (the service level is the ACD's: answered
//! within target / (answered + abandoned − short abandons)). Only what no notification
//! tells, the phones' side of the run, is counted here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::stats::StatsReport;

/// Prefix of a backoffice group's reachability target in [`StatsReport::reachability`].
const TRANSFER_PREFIX: &str = "transfer:";

/// What one simulated agent phone did over the replay (its own counts: the aggregator's
/// offers per agent are in [`ReplayReport::stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOccupancy {
    /// Agent id.
    pub id: String,
    /// Calls the phone answered.
    pub answered: u64,
    /// Offers cancelled before the phone answered.
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
    /// Calls the engine accepted (the aggregator's `CallArrived` count).
    pub accepted: u64,
    /// Callers whose patience ran out and who hung up (the phones' count).
    pub caller_abandoned: u64,
    /// Calls refused by the daemon (final response ≥ 300; no notification tells these).
    pub refused: u64,
    /// Calls whose trace line asked for a transfer (the trace's count; what became of
    /// them is in [`ReplayReport::stats`]: reachability `transfer:GROUP` and handling).
    pub transfers_requested: u64,
    /// The aggregator's report at the end of the replay.
    pub stats: StatsReport,
    /// Per agent phone.
    pub agents: Vec<AgentOccupancy>,
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
            "calls {} accepted {} refused {} caller-abandoned {} transfers-requested {}",
            self.calls, self.accepted, self.refused, self.caller_abandoned, self.transfers_requested
        )?;
        writeln!(f, "simulated {:.1} h in {} steps", self.simulated.as_secs_f64() / 3600.0, self.steps)?;
        writeln!(
            f,
            "{:<28} {:>8} {:>8} {:>9} {:>7} {:>10} {:>12} {:>9} {:>9}",
            "queue", "offered", "answered", "abandoned", "(short)", "overflowed", "SL (target)", "avg wait", "p90 wait"
        )?;
        for queue in &self.stats.queues {
            let sl = queue.service_level().map_or("-".to_string(), |sl| format!("{:.1}%", sl * 100.0));
            let secs = |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.1}s", d.as_secs_f64()));
            writeln!(
                f,
                "{:<28} {:>8} {:>8} {:>9} {:>7} {:>10} {:>12} {:>9} {:>9}",
                format!("{}/{}", queue.tenant, queue.queue),
                queue.offered,
                queue.answered,
                queue.abandoned(),
                queue.abandoned_short,
                queue.overflowed,
                format!("{sl} ({}s)", queue.target.as_secs()),
                secs(queue.wait.average),
                secs(queue.wait.p90),
            )?;
        }
        writeln!(f, "SL = answered within target / (answered + abandoned - short abandons)")?;
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
        write_transfers(f, &self.stats)?;
        writeln!(f, "records written {} failed {}", self.records_written, self.record_write_failures)?;
        write!(f, "output hash {}", self.output_hash)
    }
}

/// Reachability of the backoffice groups, then the handling shares.
fn write_transfers(f: &mut fmt::Formatter<'_>, stats: &StatsReport) -> fmt::Result {
    writeln!(f, "{:<36} {:>9} {:>8} {:>8}  {:<40} {:>12}", "backoffice group", "transfers", "answered", "bounced", "bounces by reason", "reachability")?;
    for reach in stats.reachability.iter().filter(|reach| reach.target.starts_with(TRANSFER_PREFIX)) {
        let group = format!("{}/{}", reach.tenant, &reach.target[TRANSFER_PREFIX.len()..]);
        let transfers: u64 = reach.attempts_by_outcome.values().sum();
        let bounces: Vec<(&str, u64)> = reach
            .attempts_by_outcome
            .iter()
            .filter(|(outcome, _)| !matches!(**outcome, "answered" | "cancelled"))
            .map(|(outcome, count)| (*outcome, *count))
            .collect();
        let bounced: u64 = bounces.iter().map(|(_, count)| count).sum();
        let reasons = bounces.iter().map(|(outcome, count)| format!("{outcome} {count}")).collect::<Vec<_>>().join(", ");
        let ratio = reach.ratio().map_or("-".to_string(), |ratio| format!("{:.1}%", ratio * 100.0));
        writeln!(f, "{group:<36} {transfers:>9} {:>8} {bounced:>8}  {:<40} {ratio:>12}", reach.answered, if reasons.is_empty() { "-" } else { &reasons })?;
    }
    writeln!(f, "reachability = answered / (transfers - cancelled)")?;
    let mut shares: BTreeMap<&str, u64> = BTreeMap::new();
    for handling in &stats.handling {
        *shares.entry(handling.handling).or_insert(0) += handling.calls;
    }
    let total: u64 = shares.values().sum();
    let line = shares
        .iter()
        .map(|(handling, calls)| format!("{handling} {calls} ({:.1}%)", if total == 0 { 0.0 } else { *calls as f64 * 100.0 / total as f64 }))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(f, "handling of {total} ended calls: {}", if line.is_empty() { "-" } else { &line })
}
