//! The one statistics aggregator, sans-IO: fed the engine's [`Notification`]s with the
//! time they happened, it reports per-queue, per-agent and per-target numbers. The live
//! `/metrics` exporter, the trace-replay report and the load generator all print its
//! [`StatsReport`] (the load generator feeds it the notifications it can observe from
//! outside), so every figure has this one definition and they agree for the same events.
//!
//! Definitions: the service level is the ACD's (see [`crate::acd::service_level`]):
//! answered within target / (answered + abandoned − short abandons). A queue's *offered*
//! count is the number of calls that left it with a disposition (one per queued call), so
//! offered = answered + abandoned + overflowed + closed + failed; callers still waiting
//! are in the ACD's live queue statistics instead.

mod histogram;
mod report;
mod window;

pub use histogram::{wait_edges_s, WaitDistribution, WaitHistogram, DEFAULT_WAIT_EDGES_S};
pub use report::{AgentReport, HandlingReport, QueueReport, ReachabilityReport, StatsReport, TenantReport};
pub use window::{ServiceLevelEvent, SlidingWindow};

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::NaiveDate;

use crate::acd::calendar::local_time;
use crate::acd::service_level::{is_short_abandon, is_within_target};
use crate::acd::{AcdConfig, Outcome, ServiceLevelCounts};
use crate::core::time::Now;
use crate::dialplan::{AgentId, DialPlan, QueueId, TenantId, TimeZone};
use crate::engine::{Notification, OfferOutcome, TransferOutcome};

/// The shorter sliding window.
pub const WINDOW_15M: Duration = Duration::from_secs(15 * 60);
/// The longer sliding window (also the longest kept in memory).
pub const WINDOW_1H: Duration = Duration::from_secs(60 * 60);
/// Target used for a queue the dial plan does not give one (the dial plan's default).
pub const DEFAULT_TARGET: Duration = Duration::from_secs(25);

/// Per-queue targets, per-tenant time zones and the short-abandon threshold.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// Service-level target per queue.
    pub targets: HashMap<(TenantId, QueueId), Duration>,
    /// Time zone per tenant, for "today".
    pub timezones: HashMap<TenantId, TimeZone>,
    /// Abandons up to this wait are short.
    pub short_abandon: Duration,
    /// Target of a queue `targets` does not name.
    pub default_target: Duration,
}

impl StatsConfig {
    /// The configuration matching `plan` and the ACD's default short-abandon threshold.
    pub fn from_plan(plan: &DialPlan) -> Self {
        let mut targets = HashMap::new();
        let mut timezones = HashMap::new();
        for tenant in plan.tenants() {
            timezones.insert(tenant.id.clone(), tenant.hours.timezone);
            for queue in &tenant.queues {
                targets.insert(
                    (tenant.id.clone(), queue.id.clone()),
                    Duration::from_secs(u64::from(queue.service_level_target_s)),
                );
            }
        }
        let short_abandon = Duration::from_secs(u64::from(AcdConfig::default().short_abandon_s));
        StatsConfig { targets, timezones, short_abandon, default_target: DEFAULT_TARGET }
    }

    /// One `target` for every queue, no tenant time zone (Amsterdam) and the ACD's default
    /// short-abandon threshold: for a driver that does not see the dial plan's queues
    /// (the load generator).
    pub fn uniform(target: Duration) -> Self {
        StatsConfig {
            targets: HashMap::new(),
            timezones: HashMap::new(),
            short_abandon: Duration::from_secs(u64::from(AcdConfig::default().short_abandon_s)),
            default_target: target,
        }
    }

    /// Every distinct wait-bucket edge over all queues (for an exporter that needs one
    /// bucket layout per metric).
    pub fn all_wait_edges_s(&self) -> Vec<u64> {
        let mut edges: Vec<u64> = DEFAULT_WAIT_EDGES_S.to_vec();
        for target in self.targets.values() {
            edges.extend(wait_edges_s(*target));
        }
        edges.sort_unstable();
        edges.dedup();
        edges
    }

    fn target(&self, tenant: &TenantId, queue: &QueueId) -> Duration {
        self.targets.get(&(tenant.clone(), queue.clone())).copied().unwrap_or(self.default_target)
    }

    fn local_date(&self, tenant: &TenantId, now: Now) -> Option<NaiveDate> {
        let timezone = self.timezones.get(tenant).copied().unwrap_or(TimeZone::EuropeAmsterdam);
        local_time(timezone, now.wall).map(|local| local.date())
    }
}

/// Running numbers of one queue.
#[derive(Debug, Clone)]
struct QueueAccumulator {
    target: Duration,
    answered: u64,
    answered_within_target: u64,
    abandoned_short: u64,
    abandoned_long: u64,
    overflowed: u64,
    closed: u64,
    failed: u64,
    window: SlidingWindow,
    today: Option<(NaiveDate, ServiceLevelCounts)>,
    waits: WaitHistogram,
}

impl QueueAccumulator {
    fn new(target: Duration) -> Self {
        QueueAccumulator {
            target,
            answered: 0,
            answered_within_target: 0,
            abandoned_short: 0,
            abandoned_long: 0,
            overflowed: 0,
            closed: 0,
            failed: 0,
            window: SlidingWindow::new(WINDOW_1H),
            today: None,
            waits: WaitHistogram::new(wait_edges_s(target)),
        }
    }

    fn record(&mut self, now: Now, date: Option<NaiveDate>, event: ServiceLevelEvent) {
        self.window.push(now.mono, event);
        self.window.prune(now.mono);
        if let Some(date) = date {
            let today = self.today.get_or_insert((date, ServiceLevelCounts::default()));
            if today.0 != date {
                *today = (date, ServiceLevelCounts::default());
            }
            event.add_to(&mut today.1);
        }
    }

    fn report(&self, tenant: &TenantId, queue: &QueueId, now: Now, date: Option<NaiveDate>) -> QueueReport {
        let today = match (self.today, date) {
            (Some((day, counts)), Some(date)) if day == date => counts,
            _ => ServiceLevelCounts::default(),
        };
        QueueReport {
            tenant: tenant.clone(),
            queue: queue.clone(),
            target: self.target,
            offered: self.answered
                + self.abandoned_short
                + self.abandoned_long
                + self.overflowed
                + self.closed
                + self.failed,
            answered: self.answered,
            answered_within_target: self.answered_within_target,
            abandoned_short: self.abandoned_short,
            abandoned_long: self.abandoned_long,
            overflowed: self.overflowed,
            closed: self.closed,
            failed: self.failed,
            last_15m: self.window.counts(now.mono, WINDOW_15M),
            last_1h: self.window.counts(now.mono, WINDOW_1H),
            today,
            wait: self.waits.distribution(),
        }
    }
}

/// The aggregator. Feed every notification in order with [`StatsAggregator::handle`].
#[derive(Debug, Clone)]
pub struct StatsAggregator {
    config: StatsConfig,
    tenants: BTreeMap<TenantId, TenantReport>,
    queues: BTreeMap<(TenantId, QueueId), QueueAccumulator>,
    agents: BTreeMap<(TenantId, AgentId), AgentReport>,
    reachability: BTreeMap<(TenantId, String), ReachabilityReport>,
    /// Ended calls by tenant, last queue (`-` for none) and handling.
    handling: BTreeMap<(TenantId, String, &'static str), u64>,
}

impl StatsAggregator {
    /// An empty aggregator.
    pub fn new(config: StatsConfig) -> Self {
        StatsAggregator {
            config,
            tenants: BTreeMap::new(),
            queues: BTreeMap::new(),
            agents: BTreeMap::new(),
            reachability: BTreeMap::new(),
            handling: BTreeMap::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    /// Takes one notification that happened at `now`.
    pub fn handle(&mut self, now: Now, notification: &Notification) {
        match notification {
            Notification::CallArrived { tenant, .. } => self.tenant(tenant).arrived += 1,
            Notification::CallEnded { tenant, reason, .. } => {
                *self.tenant(tenant).ended_by_reason.entry(reason.as_str()).or_insert(0) += 1;
            }
            Notification::OfferEnded { tenant, agent, outcome, ring_time, .. } => {
                self.on_offer_ended(tenant, agent, *outcome, *ring_time)
            }
            Notification::TransferEnded { tenant, target, outcome, ring_time, .. } => {
                // A backoffice group's reachability is that of the transfers to it: one
                // attempt per transfer, whichever members rang.
                let answered = *outcome == TransferOutcome::Answered;
                self.reach(tenant, format!("transfer:{target}"), outcome.as_str(), answered, *ring_time);
            }
            // A call queued again after a transfer was counted at its first visit.
            Notification::Disposition(disposition) if disposition.requeued => {}
            Notification::Disposition(disposition) => {
                self.on_disposition(now, &disposition.tenant, &disposition.queue, &disposition.outcome)
            }
            Notification::CallHandled { tenant, queue, handling, .. } => {
                let queue = queue.as_ref().map_or("-", |queue| queue.as_str()).to_string();
                *self.handling.entry((tenant.clone(), queue, handling)).or_insert(0) += 1;
            }
            Notification::CallEstablished { .. } | Notification::Drained => {}
        }
    }

    fn tenant(&mut self, tenant: &str) -> &mut TenantReport {
        let id = TenantId::new(tenant);
        self.tenants.entry(id.clone()).or_insert_with(|| TenantReport { tenant: id, arrived: 0, ended_by_reason: BTreeMap::new() })
    }

    fn on_offer_ended(&mut self, tenant: &TenantId, agent: &AgentId, outcome: OfferOutcome, ring_time: Duration) {
        let label = outcome.as_str();
        let report = self.agents.entry((tenant.clone(), agent.clone())).or_insert_with(|| AgentReport {
            tenant: tenant.clone(),
            agent: agent.clone(),
            offers_by_outcome: BTreeMap::new(),
            ring_time: Duration::ZERO,
        });
        *report.offers_by_outcome.entry(label).or_insert(0) += 1;
        report.ring_time += ring_time;
        self.reach(tenant, agent.as_str().to_owned(), label, outcome == OfferOutcome::Answered, ring_time);
    }

    /// One attempt to reach `target` ended with `outcome` after `ring_time`.
    fn reach(&mut self, tenant: &TenantId, target: String, outcome: &'static str, answered: bool, ring_time: Duration) {
        let reach = self.reachability.entry((tenant.clone(), target.clone())).or_insert_with(|| {
            ReachabilityReport {
                tenant: tenant.clone(),
                target,
                attempts_by_outcome: BTreeMap::new(),
                answered: 0,
                ring_time: Duration::ZERO,
            }
        });
        *reach.attempts_by_outcome.entry(outcome).or_insert(0) += 1;
        if answered {
            reach.answered += 1;
        }
        reach.ring_time += ring_time;
    }

    fn on_disposition(&mut self, now: Now, tenant: &TenantId, queue: &QueueId, outcome: &Outcome) {
        let date = self.config.local_date(tenant, now);
        let target = self.config.target(tenant, queue);
        let short_abandon = self.config.short_abandon;
        let accumulator =
            self.queues.entry((tenant.clone(), queue.clone())).or_insert_with(|| QueueAccumulator::new(target));
        match outcome {
            Outcome::Answered { wait, .. } => {
                accumulator.answered += 1;
                accumulator.waits.observe(*wait);
                let event = if is_within_target(*wait, target) {
                    accumulator.answered_within_target += 1;
                    ServiceLevelEvent::AnsweredWithinTarget
                } else {
                    ServiceLevelEvent::AnsweredLate
                };
                accumulator.record(now, date, event);
            }
            Outcome::Abandoned { wait } => {
                let event = if is_short_abandon(*wait, short_abandon) {
                    accumulator.abandoned_short += 1;
                    ServiceLevelEvent::AbandonedShort
                } else {
                    accumulator.abandoned_long += 1;
                    ServiceLevelEvent::AbandonedLong
                };
                accumulator.record(now, date, event);
            }
            Outcome::Overflowed { .. } => accumulator.overflowed += 1,
            Outcome::Closed => accumulator.closed += 1,
            Outcome::Failed { .. } => accumulator.failed += 1,
        }
    }

    /// The numbers at `now`.
    pub fn report(&self, now: Now) -> StatsReport {
        StatsReport {
            tenants: self.tenants.values().cloned().collect(),
            queues: self
                .queues
                .iter()
                .map(|((tenant, queue), accumulator)| {
                    accumulator.report(tenant, queue, now, self.config.local_date(tenant, now))
                })
                .collect(),
            agents: self.agents.values().cloned().collect(),
            reachability: self.reachability.values().cloned().collect(),
            handling: self
                .handling
                .iter()
                .map(|((tenant, queue, handling), calls)| HandlingReport { tenant: tenant.clone(), queue: queue.clone(), handling, calls: *calls })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
