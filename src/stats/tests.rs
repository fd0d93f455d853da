//! Exact numbers for the aggregator: the 25 s boundary, short abandons, sliding windows
//! and the local day.

use super::*;
use crate::acd::{Disposition, OverflowDestination};
use crate::core::ids::CallId;
use crate::core::time::{Instant, WallTime};
use crate::engine::EndReason;

/// 2026-11-28 10:00:00 UTC (11:00 in Amsterdam).
const MORNING_UNIX_MS: i64 = 1_795_860_000_000;

fn at_s(seconds: u64) -> Now {
    Now::new(
        Instant::ZERO + Duration::from_secs(seconds),
        WallTime(MORNING_UNIX_MS + i64::try_from(seconds).expect("small") * 1000),
    )
}

fn aggregator() -> StatsAggregator {
    let mut targets = HashMap::new();
    targets.insert((TenantId::new("proef"), QueueId::new("algemeen")), Duration::from_secs(25));
    StatsAggregator::new(StatsConfig { targets, timezones: HashMap::new(), short_abandon: Duration::from_secs(5), default_target: DEFAULT_TARGET })
}

fn disposition(outcome: Outcome) -> Notification {
    Notification::Disposition(Disposition {
        call: CallId(1),
        tenant: TenantId::new("proef"),
        queue: QueueId::new("algemeen"),
        outcome,
        requeued: false,
    })
}

fn answered_after_ms(wait_ms: u64) -> Notification {
    disposition(Outcome::Answered { agent: AgentId::new("anouk"), wait: Duration::from_millis(wait_ms) })
}

fn abandoned_after_ms(wait_ms: u64) -> Notification {
    disposition(Outcome::Abandoned { wait: Duration::from_millis(wait_ms) })
}

fn only_queue(report: &StatsReport) -> &QueueReport {
    assert_eq!(report.queues.len(), 1);
    &report.queues[0]
}

#[test]
fn the_target_boundary_counts_in_and_short_abandons_leave_the_denominator() {
    let mut stats = aggregator();
    stats.handle(at_s(10), &answered_after_ms(25_000));
    stats.handle(at_s(20), &answered_after_ms(25_001));
    stats.handle(at_s(30), &abandoned_after_ms(5_000));
    stats.handle(at_s(40), &abandoned_after_ms(5_001));
    stats.handle(
        at_s(50),
        &disposition(Outcome::Overflowed { destination: OverflowDestination::PromptThenHangup("vol".into()), wait: Duration::from_secs(300) }),
    );
    stats.handle(at_s(60), &disposition(Outcome::Closed));
    let report = stats.report(at_s(61));
    let queue = only_queue(&report);
    assert_eq!(
        (queue.offered, queue.answered, queue.answered_within_target, queue.abandoned_short, queue.abandoned_long),
        (6, 2, 1, 1, 1)
    );
    assert_eq!((queue.overflowed, queue.closed, queue.failed), (1, 1, 0));
    // 1 within target / (2 answered + 2 abandoned − 1 short) = 1/3.
    assert_eq!(queue.last_15m.service_level(), Some(1.0 / 3.0));
    assert_eq!(queue.today.service_level(), Some(1.0 / 3.0));
    assert_eq!(queue.wait.count, 2);
}

#[test]
fn windows_slide_and_the_day_restarts_at_local_midnight() {
    let mut stats = aggregator();
    stats.handle(at_s(0), &answered_after_ms(40_000));
    stats.handle(at_s(1_000), &answered_after_ms(1_000));
    let report = stats.report(at_s(1_000));
    let queue = only_queue(&report);
    assert_eq!(queue.last_15m.answered, 1);
    assert_eq!(queue.last_15m.service_level(), Some(1.0));
    assert_eq!(queue.last_1h.service_level(), Some(0.5));

    let report = stats.report(at_s(3_600));
    let queue = only_queue(&report);
    assert_eq!(queue.last_1h.answered, 1, "the first call is exactly an hour old");
    assert_eq!(queue.today.answered, 2);
    assert_eq!(queue.answered, 2);

    // 11:00 local + 13 h = 00:00 the next day in Amsterdam.
    let next_day = 13 * 3_600;
    assert_eq!(only_queue(&stats.report(at_s(next_day - 1))).today.answered, 2);
    assert_eq!(only_queue(&stats.report(at_s(next_day))).today.answered, 0);
    stats.handle(at_s(next_day + 5), &abandoned_after_ms(30_000));
    let report = stats.report(at_s(next_day + 5));
    let queue = only_queue(&report);
    assert_eq!((queue.today.abandoned, queue.today.answered), (1, 0));
    assert_eq!(queue.today.service_level(), Some(0.0));
    assert_eq!(queue.answered + queue.abandoned(), 3);
}

#[test]
fn offers_feed_agents_and_reachability() {
    let mut stats = aggregator();
    let offer = |outcome, ring_s| Notification::OfferEnded {
        call: CallId(1),
        tenant: TenantId::new("proef"),
        agent: AgentId::new("bram"),
        outcome,
        ring_time: Duration::from_secs(ring_s),
    };
    stats.handle(at_s(1), &offer(OfferOutcome::NoAnswer, 10));
    stats.handle(at_s(2), &offer(OfferOutcome::Cancelled, 2));
    stats.handle(at_s(3), &offer(OfferOutcome::Answered, 3));
    let report = stats.report(at_s(4));
    assert_eq!(report.agents.len(), 1);
    assert_eq!(report.agents[0].offers_by_outcome.get("no_answer"), Some(&1));
    assert_eq!(report.agents[0].ring_time, Duration::from_secs(15));
    let reach = &report.reachability[0];
    assert_eq!((reach.target.as_str(), reach.answered, reach.counted_attempts()), ("bram", 1, 2));
    assert_eq!(reach.ratio(), Some(0.5));
}

#[test]
fn tenants_count_arrivals_and_end_reasons() {
    let mut stats = aggregator();
    let tenant = "proef".to_owned();
    stats.handle(at_s(1), &Notification::CallArrived { call: CallId(1), tenant: tenant.clone() });
    stats.handle(at_s(1), &Notification::CallArrived { call: CallId(2), tenant: tenant.clone() });
    stats.handle(
        at_s(9),
        &Notification::CallEnded { call: CallId(1), tenant, reason: EndReason::CallerHungUp, duration: Duration::from_secs(8) },
    );
    let report = stats.report(at_s(10));
    assert_eq!(report.tenants[0].arrived, 2);
    assert_eq!(report.tenants[0].ended_by_reason.get("caller_hung_up"), Some(&1));
    assert!(report.queues.is_empty());
}
