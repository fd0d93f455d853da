//! The simulation harness: many seeds of short random traffic against the always-open
//! test tenant, every invariant checked after every step (one `CallEnded` per accepted
//! call, at most one `Disposition` per queue visit, no offer to an agent with a call up,
//! no deadline in the past, no caller dropped by a bounced transfer). A fifth of the calls
//! are transferred, cold or warm, to backoffice groups of desk phones that answer or not
//! as the trace line says. A failure prints the call that reproduces it.

use std::path::{Path, PathBuf};
use std::time::Duration;
use veertien::core::rng::SeededRng;
use veertien::sim::replay::{replay, ReplayConfig, ReplayOutcome};
use veertien::traffic::sample::{exponential, uniform};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, Transfer, TRACE_VERSION};

const SEEDS: u64 = 50;
const CALLS_PER_SEED: u64 = 200;

/// Backoffice groups of desk phones named by host name (reached through the replay's
/// outbound proxy): one rung together, one in turn.
const GROUPS: &str = r#"
[[group]]
id = "backoffice-loket"
name = "Loket backoffice"
members = ["sip:loket1@backoffice.proef.example", "sip:loket2@backoffice.proef.example"]
ring_timeout_s = 20

[[group]]
id = "backoffice-vergunningen"
name = "Vergunningen backoffice"
members = ["sip:vergunning1@backoffice.proef.example", "sip:vergunning2@backoffice.proef.example"]
ring = "in-turn"
ring_timeout_s = 30
"#;

/// The always-open test tenant with [`GROUPS`], written to a scratch directory.
fn plan() -> veertien::dialplan::DialPlan {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dialplans/proef.toml"))
        .expect("test plan");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sim_invariants_plans");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    std::fs::write(dir.join("proef.toml"), text + GROUPS).expect("plan written");
    veertien::dialplan::load_dir(&dir).expect("test dial plans load")
}

/// A tenth of the calls cold, a tenth warm transfers, to either group, answered or not.
fn random_action(rng: &mut SeededRng) -> AgentAction {
    let draw = uniform(rng);
    let transfer = |rng: &mut SeededRng| Transfer {
        group: if uniform(rng) < 0.5 { "backoffice-loket" } else { "backoffice-vergunningen" }.into(),
        backoffice_answers: uniform(rng) < 0.5,
    };
    if draw < 0.1 {
        AgentAction::ColdTransfer(transfer(rng))
    } else if draw < 0.2 {
        AgentAction::WarmTransfer(transfer(rng))
    } else {
        AgentAction::Handle
    }
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
                agent_action: random_action(&mut rng),
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
        // A caller whose cold transfer bounced after the agent left is queued again.
        assert!(dispositions >= CALLS_PER_SEED, "seed {seed}: every call left the queue at least once");
        let transfers: u64 = report
            .stats
            .reachability
            .iter()
            .filter(|r| r.target.starts_with("transfer:"))
            .map(|r| r.attempts_by_outcome.values().sum::<u64>())
            .sum();
        assert!(transfers > 0, "seed {seed}: transfers were carried out");
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
    assert!(dispositions >= outcome.report.accepted, "every accepted call reaches a disposition despite 2% loss");
}
