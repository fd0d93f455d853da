//! What [`super::StatsAggregator::report`] returns: plain data, printed by `/metrics` and
//! by the trace-replay report alike.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::acd::ServiceLevelCounts;
use crate::dialplan::{AgentId, QueueId, TenantId};

use super::histogram::WaitDistribution;

/// Everything the aggregator knows at one instant. Vectors are sorted by their keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsReport {
    /// Per tenant.
    pub tenants: Vec<TenantReport>,
    /// Per tenant and queue.
    pub queues: Vec<QueueReport>,
    /// Per tenant and agent.
    pub agents: Vec<AgentReport>,
    /// Per tenant and target: agents, and backoffice groups as `transfer:GROUP`.
    pub reachability: Vec<ReachabilityReport>,
    /// Ended calls per tenant, last queue and how they were handled.
    pub handling: Vec<HandlingReport>,
}

/// How many ended calls of a department were handled one way: the 80 % norm is
/// `handled` over all calls that reached an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlingReport {
    pub tenant: TenantId,
    /// The queue the call was last in, `-` for none.
    pub queue: String,
    /// `handled`, `transferred_cold`, `transferred_warm`, `bounced` or `not_handled`.
    pub handling: &'static str,
    pub calls: u64,
}

impl StatsReport {
    /// The report of `queue` of `tenant`, if a call left it.
    pub fn queue(&self, tenant: &str, queue: &str) -> Option<&QueueReport> {
        self.queues.iter().find(|report| report.tenant.as_str() == tenant && report.queue.as_str() == queue)
    }

    /// Calls accepted, over all tenants.
    pub fn arrived(&self) -> u64 {
        self.tenants.iter().map(|tenant| tenant.arrived).sum()
    }

    /// The service-level counts since start-up over all queues (each call judged against
    /// its own queue's target): the one service level of a run over several queues.
    pub fn service_level_counts(&self) -> ServiceLevelCounts {
        let mut total = ServiceLevelCounts::default();
        for queue in &self.queues {
            let counts = queue.counts();
            total.answered += counts.answered;
            total.answered_within_target += counts.answered_within_target;
            total.abandoned += counts.abandoned;
            total.abandoned_short += counts.abandoned_short;
        }
        total
    }
}

/// Call counts of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantReport {
    /// The tenant.
    pub tenant: TenantId,
    /// Calls accepted for the tenant.
    pub arrived: u64,
    /// Calls ended, by [`crate::engine::EndReason::as_str`].
    pub ended_by_reason: BTreeMap<&'static str, u64>,
}

/// One queue's counts since start-up plus its service level over the windows.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueReport {
    /// The tenant.
    pub tenant: TenantId,
    /// The queue.
    pub queue: QueueId,
    /// Its service-level target.
    pub target: Duration,
    /// Calls that left the queue (one disposition each): the sum of the outcomes below.
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Of those, within the target.
    pub answered_within_target: u64,
    /// Abandoned after ≤ the short-abandon threshold.
    pub abandoned_short: u64,
    /// Abandoned after longer.
    pub abandoned_long: u64,
    /// Sent out of the queues by overflow.
    pub overflowed: u64,
    /// Ended because the queue closed.
    pub closed: u64,
    /// Lost to an engine failure.
    pub failed: u64,
    /// Service-level counts of the last 15 minutes.
    pub last_15m: ServiceLevelCounts,
    /// Of the last hour.
    pub last_1h: ServiceLevelCounts,
    /// Of the current local (tenant time zone) day.
    pub today: ServiceLevelCounts,
    /// Waits of answered calls.
    pub wait: WaitDistribution,
}

impl QueueReport {
    /// Abandons, short and long.
    pub fn abandoned(&self) -> u64 {
        self.abandoned_short + self.abandoned_long
    }

    /// The service-level counts since start-up (the windows have their own).
    pub fn counts(&self) -> ServiceLevelCounts {
        ServiceLevelCounts {
            answered: self.answered,
            answered_within_target: self.answered_within_target,
            abandoned: self.abandoned(),
            abandoned_short: self.abandoned_short,
        }
    }

    /// The service level since start-up, by the ACD's one definition
    /// ([`crate::acd::service_level`]); `None` before a call counts.
    pub fn service_level(&self) -> Option<f64> {
        self.counts().service_level()
    }
}

/// Offers to one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReport {
    /// The tenant.
    pub tenant: TenantId,
    /// The agent.
    pub agent: AgentId,
    /// Offers by [`crate::engine::OfferOutcome::as_str`].
    pub offers_by_outcome: BTreeMap<&'static str, u64>,
    /// Total time its phone rang.
    pub ring_time: Duration,
}

/// How well one target answers when rung.
#[derive(Debug, Clone, PartialEq)]
pub struct ReachabilityReport {
    /// The tenant.
    pub tenant: TenantId,
    /// The target: an agent id, or `transfer:` and a backoffice group id (a queue id,
    /// `agent` for transfers to one agent).
    pub target: String,
    /// Attempts by outcome.
    pub attempts_by_outcome: BTreeMap<&'static str, u64>,
    /// Attempts answered.
    pub answered: u64,
    /// Total ring time of all attempts.
    pub ring_time: Duration,
}

impl ReachabilityReport {
    /// Attempts that counted: cancelled rings (the caller left, or another agent was
    /// faster) say nothing about the target and are left out.
    pub fn counted_attempts(&self) -> u64 {
        let cancelled = self.attempts_by_outcome.get("cancelled").copied().unwrap_or(0);
        self.attempts_by_outcome.values().sum::<u64>() - cancelled
    }

    /// answered / counted attempts; `None` before any counted attempt.
    pub fn ratio(&self) -> Option<f64> {
        let counted = self.counted_attempts();
        (counted > 0).then(|| self.answered as f64 / counted as f64)
    }
}
