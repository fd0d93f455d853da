//! The simulation harness: many seeds of short random traffic against the always-open
//! test tenant, every invariant checked after every step (one `CallEnded` per accepted
//! call, at most one `Disposition` per call, no offer to an agent with a call up, no
//! deadline in the past). A failure prints the call that reproduces it.

use std::path::Path;
use std::time::Duration;
use veertien::core::rng::SeededRng;
use veertien::sim::replay::{replay, ReplayConfig, ReplayOutcome};
use veertien::traffic::sample::{exponential, uniform};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

const SEEDS: u64 = 50;
const CALLS_PER_SEED: u64 = 200;

fn plan() -> veertien::dialplan::DialPlan {
    veertien::dialplan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dialplans"))
        .expect("test dial plans load")
}

/// Random calls to 14010: a call every 40 s on average, patience 5 s to 3 min, talk
/// 10 s to 5 min; two agents, so queues form, callers abandon and agents stay busy.
fn random_trace(seed: u64, calls: u64) -> (TraceHeader, Vec<TraceCall>) {
    let mut rng = SeededRng::fork(seed, "sim-invariants");
    let mut offset_ms = 0u64;
    let lines = (1..=calls)
        .map(|index| {
            offset_ms += exponential(&mut rng, 40_000.0) as u64;
            TraceCall {
                arrival_offset_ms: offset_ms,
                dialled: "14010".into(),
                caller: sim_caller(index),
                department: "algemeen".into(),
                menu_digit: None,
                patience_ms: 5_000 + (uniform(&mut rng) * 175_000.0) as u64,
                talk_ms: 10_000 + (uniform(&mut rng) * 290_000.0) as u64,
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
        calls,
        profile: "sim-invariants".into(),
    };
    (header, lines)
}

/// Replays seed `seed` of the harness; call this from a test to reproduce a failure.
fn run_seed(seed: u64, loss_probability: f64) -> ReplayOutcome {
    let (header, calls) = random_trace(seed, CALLS_PER_SEED);
    let mut config = ReplayConfig::new(seed);
    config.network.loss_probability = loss_probability;
    config.agent_answer_delay = Duration::from_millis(500 + seed % 5 * 1000);
    config.prompts = veertien::sim::media_sim::PromptDurations::uniform(Duration::from_secs(3));
    replay(plan(), &header, calls.into_iter().map(Ok), &config).expect("replay runs")
}

fn assert_clean(seed: u64, loss_probability: f64, outcome: &ReplayOutcome) {
    assert!(
        outcome.violation_count == 0,
        "seed {seed}: {} violations, first: {:?}\nREPRODUCE: run_seed({seed}, {loss_probability}) in tests/sim_invariants.rs",
        outcome.violation_count,
        outcome.violations
    );
}

#[test]
fn invariants_hold_over_many_seeds() {
    for seed in 1..=SEEDS {
        let outcome = run_seed(seed, 0.0);
        assert_clean(seed, 0.0, &outcome);
        let report = &outcome.report;
        assert_eq!(report.accepted, CALLS_PER_SEED, "seed {seed}: every call is accepted by the open tenant");
        let dispositions: u64 = report.stats.queues.iter().map(|q| q.offered).sum();
        assert_eq!(dispositions, CALLS_PER_SEED, "seed {seed}: every call left the queue once");
        let answered: u64 = report.stats.queues.iter().map(|q| q.answered).sum();
        let agent_answers: u64 = report.agents.iter().map(|a| a.answered).sum();
        assert!(answered > 0 && answered <= agent_answers, "seed {seed}: {answered} answered vs phones {agent_answers}");
    }
}

#[test]
fn same_seed_same_hash_and_another_seed_differs() {
    let a = run_seed(7, 0.0).report.output_hash;
    let b = run_seed(7, 0.0).report.output_hash;
    let c = run_seed(8, 0.0).report.output_hash;
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn calls_survive_packet_loss_through_retransmissions() {
    let outcome = run_seed(3, 0.02);
    let dispositions: u64 = outcome.report.stats.queues.iter().map(|q| q.offered).sum();
    assert!(outcome.report.accepted >= CALLS_PER_SEED - 2, "accepted {}", outcome.report.accepted);
    assert_eq!(dispositions, outcome.report.accepted, "every accepted call reaches a disposition despite 2% loss");
}
