//! What the load generator observes of its calls, as the engine's notifications, fed to
//! the one [`StatsAggregator`].
//!
//! Decision: the load generator sees the daemon only from outside, over SIP, so it cannot
//! read the daemon's notifications; it builds the ones its phones can observe and feeds
//! them to the same aggregator the replay and `/metrics` use. Its service level, waits
//! and answered/abandoned counts are therefore the aggregator's figures by the aggregator's
//! definitions (short abandons leave the denominator, ≤ target counts in), not a fourth
//! copy of them. What it observes, and how that differs from the engine's view:
//!
//! - `CallArrived` when the caller receives the daemon's 200 OK.
//! - `Disposition` answered when an agent phone answered the caller's offer, with the
//!   wait in trace time from the caller's ACK to the first offer reaching an agent phone
//!   ([`super::patience`]); the agent's ring time runs in real time and is left out.
//! - `Disposition` abandoned when a caller's patience ran out, with the wait in trace time
//!   from its ACK to its hang-up. A caller who hangs up during the daemon's entry (which
//!   the daemon never queued) has a wait of 0: a short abandon, left out of the service
//!   level as the daemon leaves it out.
//! - The queue is the trace line's department: which queue the daemon's menu chose is not
//!   visible on SIP. Every queue gets the run's one target ([`StatsConfig::uniform`]).
//!
//! Calls that fail (SIP errors, timeouts, the daemon hanging up) stay the load
//! generator's own count: they are failures of the daemon as seen from outside, not
//! outcomes of a queue.

use std::time::Duration;

use crate::acd::{Disposition, Outcome};
use crate::core::ids::CallId;
use crate::core::time::Now;
use crate::dialplan::{AgentId, QueueId, TenantId};
use crate::engine::Notification;
use crate::stats::{StatsAggregator, StatsConfig, StatsReport};

/// The aggregator of one run's observed notifications.
pub(super) struct ObservedStats {
    tenant: TenantId,
    aggregator: StatsAggregator,
}

impl ObservedStats {
    /// For calls to `tenant`, every queue with service-level `target` (trace time).
    pub(super) fn new(tenant: &str, target: Duration) -> Self {
        ObservedStats { tenant: TenantId::new(tenant), aggregator: StatsAggregator::new(StatsConfig::uniform(target)) }
    }

    /// The caller of call `index` received the daemon's 200 OK.
    pub(super) fn accepted(&mut self, now: Now, index: u32) {
        let notification = Notification::CallArrived { call: CallId(u64::from(index)), tenant: self.tenant.to_string() };
        self.aggregator.handle(now, &notification);
    }

    /// An agent phone answered call `index` after `wait` (trace time) in `queue`.
    pub(super) fn answered(&mut self, now: Now, index: u32, queue: &str, agent: &str, wait: Duration) {
        self.disposition(now, index, queue, Outcome::Answered { agent: AgentId::new(agent), wait });
    }

    /// The caller of call `index` gave up after `wait` (trace time) in `queue`.
    pub(super) fn abandoned(&mut self, now: Now, index: u32, queue: &str, wait: Duration) {
        self.disposition(now, index, queue, Outcome::Abandoned { wait });
    }

    /// The aggregator's numbers at `now`.
    pub(super) fn report(&self, now: Now) -> StatsReport {
        self.aggregator.report(now)
    }

    fn disposition(&mut self, now: Now, index: u32, queue: &str, outcome: Outcome) {
        let disposition = Disposition {
            call: CallId(u64::from(index)),
            tenant: self.tenant.clone(),
            queue: QueueId::new(queue),
            outcome,
            requeued: false,
        };
        self.aggregator.handle(now, &Notification::Disposition(disposition));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::{Instant, WallTime};

    fn at_s(seconds: u64) -> Now {
        Now::new(Instant::ZERO + Duration::from_secs(seconds), WallTime(1_795_860_000_000))
    }

    #[test]
    fn observed_calls_count_by_the_aggregators_definitions() {
        let mut observed = ObservedStats::new("proef", Duration::from_secs(25));
        for index in 0..4 {
            observed.accepted(at_s(1), index);
        }
        observed.answered(at_s(10), 0, "algemeen", "tim", Duration::from_secs(25));
        observed.answered(at_s(20), 1, "algemeen", "tim", Duration::from_secs(26));
        observed.abandoned(at_s(30), 2, "algemeen", Duration::from_secs(3));
        observed.abandoned(at_s(40), 3, "algemeen", Duration::from_secs(60));
        let report = observed.report(at_s(50));
        assert_eq!(report.arrived(), 4);
        let queue = report.queue("proef", "algemeen").expect("calls left the queue");
        assert_eq!((queue.answered, queue.abandoned(), queue.abandoned_short), (2, 2, 1));
        // 1 within 25 s of 2 answered + 1 long abandon; the 3 s abandon does not count.
        assert_eq!(report.service_level_counts().service_level(), Some(1.0 / 3.0));
    }
}
