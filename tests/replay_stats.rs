//! The replay report's figures are the aggregator's: the same run's notifications fed to
//! a fresh `stats::StatsAggregator` give the same service level, counts and waits as the
//! report prints. The traffic mixes answers within and after the target with short and
//! long abandons, so a report that counted by another definition (for example answered
//! within target / offered) would differ and fail here.

use std::path::Path;
use std::time::Duration;
use veertien::core::rng::SeededRng;
use veertien::dialplan::DialPlan;
use veertien::sim::media_sim::PromptDurations;
use veertien::sim::replay::{replay, ReplayConfig};
use veertien::stats::{StatsAggregator, StatsConfig};
use veertien::traffic::sample::{exponential, uniform};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

const CALLS: u64 = 300;

fn plan() -> DialPlan {
    veertien::dialplan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dialplans"))
        .expect("test dial plans load")
}

/// Calls to 14010 every 20 s on average, patience 1 s to 2 min, talk 10 s to 1 min, two
/// agents: some callers are answered at once, some after the target, some give up within
/// the short-abandon threshold and some after it.
fn trace(seed: u64) -> (TraceHeader, Vec<TraceCall>) {
    let mut rng = SeededRng::fork(seed, "replay-stats");
    let mut offset_ms = 0u64;
    let calls = (1..=CALLS)
        .map(|index| {
            offset_ms += exponential(&mut rng, 20_000.0) as u64;
            TraceCall {
                arrival_offset_ms: offset_ms,
                dialled: "14010".into(),
                caller: sim_caller(index),
                department: "algemeen".into(),
                menu_digit: None,
                patience_ms: 1_000 + (uniform(&mut rng) * 119_000.0) as u64,
                talk_ms: 10_000 + (uniform(&mut rng) * 50_000.0) as u64,
                agent_action: AgentAction::Handle,
            }
        })
        .collect();
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "proef".into(),
        number: "14010".into(),
        start_wall: "2026-03-02T10:00:00+01:00".into(),
        seed,
        calls: CALLS,
        profile: "replay-stats".into(),
    };
    (header, calls)
}

#[test]
fn the_replay_reports_the_aggregators_service_level() {
    let seed = 11;
    let (header, calls) = trace(seed);
    let mut config = ReplayConfig::new(seed);
    config.keep_notifications = true;
    config.prompts = PromptDurations::uniform(Duration::from_secs(3));
    let outcome = replay(plan(), &header, calls.into_iter().map(Ok), &config).expect("replay runs");
    assert_eq!(outcome.violation_count, 0, "{:?}", outcome.violations);

    let mut aggregator = StatsAggregator::new(StatsConfig::from_plan(&plan()));
    for (now, notification) in &outcome.notifications {
        aggregator.handle(*now, notification);
    }
    let last = outcome.notifications.last().expect("the run notified").0;
    let fresh = aggregator.report(last);

    let reported = outcome.report.stats.queue("proef", "algemeen").expect("the replay reports the queue");
    let expected = fresh.queue("proef", "algemeen").expect("the aggregator saw the queue");
    // The traffic must tell the definitions apart, or this test could not fail.
    let target = reported.target;
    assert!(reported.answered_within_target > 0 && reported.answered > reported.answered_within_target, "{reported:?}");
    assert!(reported.abandoned_short > 0 && reported.abandoned_long > 0, "{reported:?}");
    assert_eq!(target, Duration::from_secs(25), "the test tenant's queue has the Dutch target");
    let within_over_offered = reported.answered_within_target as f64 / reported.offered as f64;
    let service_level = reported.service_level().expect("calls counted");
    assert!((service_level - within_over_offered).abs() > 1e-6, "the traffic must separate the definitions");

    assert_eq!(reported.service_level(), expected.service_level(), "service level");
    assert_eq!(reported.counts(), expected.counts(), "service-level counts");
    assert_eq!(
        (reported.offered, reported.overflowed, reported.closed, reported.failed),
        (expected.offered, expected.overflowed, expected.closed, expected.failed),
        "counts"
    );
    assert_eq!(reported.wait, expected.wait, "waits");
    assert_eq!(outcome.report.accepted, fresh.arrived(), "accepted calls");
    assert_eq!(outcome.report.stats.queues.len(), fresh.queues.len(), "the same queues");
}
