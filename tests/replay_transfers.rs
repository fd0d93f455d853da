//! Transfers in a replayed trace are carried out: cold ones by REFER from the agent's
//! phone, warm ones over the engine's commands, to backoffice groups whose desk phones
//! are named by host name (so they are reached through the replay's outbound proxy, the
//! simulated backoffice). The trace says whether the backoffice answers; the report's
//! reachability per group and its handling counts must match it exactly, with no
//! invariant broken (no caller dropped by a bounce), and the same seed gives the same
//! output hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use veertien::dialplan::DialPlan;
use veertien::sim::media_sim::PromptDurations;
use veertien::sim::replay::{replay, ReplayConfig, ReplayOutcome};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, Transfer, TRACE_VERSION};

/// Two backoffice groups of desk phones named by host name: three rung together, two in
/// turn (each rings 15 s of the 30 s).
const GROUPS: &str = r#"
[[group]]
id = "backoffice-loket"
name = "Loket backoffice"
members = ["sip:loket1@backoffice.proef.example", "sip:loket2@backoffice.proef.example", "sip:loket3@backoffice.proef.example"]
ring = "together"
ring_timeout_s = 20

[[group]]
id = "backoffice-vergunningen"
name = "Vergunningen backoffice"
members = ["sip:vergunning1@backoffice.proef.example", "sip:vergunning2@backoffice.proef.example"]
ring = "in-turn"
ring_timeout_s = 30
"#;

/// The always-open test tenant with the groups above, written once to a scratch
/// directory (tests run in parallel: a second write could be read half done).
fn plan() -> DialPlan {
    static PLAN: OnceLock<DialPlan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("tests/data/dialplans/proef.toml")).expect("test plan");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay_transfers_plans");
        std::fs::create_dir_all(&dir).expect("scratch directory");
        std::fs::write(dir.join("proef.toml"), text + GROUPS).expect("plan written");
        veertien::dialplan::load_dir(&dir).expect("plan with groups loads")
    })
    .clone()
}

/// The action of the `index`-th call: a cycle over handled, cold and warm transfers to
/// both groups, answered and not.
fn action(index: u64) -> AgentAction {
    let transfer = |group: &str, backoffice_answers| Transfer { group: group.into(), backoffice_answers };
    match index % 7 {
        0 => AgentAction::Handle,
        1 => AgentAction::ColdTransfer(transfer("backoffice-loket", true)),
        2 => AgentAction::ColdTransfer(transfer("backoffice-loket", false)),
        3 => AgentAction::WarmTransfer(transfer("backoffice-vergunningen", true)),
        4 => AgentAction::WarmTransfer(transfer("backoffice-vergunningen", false)),
        5 => AgentAction::ColdTransfer(transfer("backoffice-vergunningen", true)),
        _ => AgentAction::WarmTransfer(transfer("backoffice-loket", false)),
    }
}

/// 42 calls, one every 10 minutes, patient, talking 90 s: each is answered by an agent
/// who is free, so every transfer the trace asks for is attempted.
fn trace() -> (TraceHeader, Vec<TraceCall>) {
    let calls: Vec<TraceCall> = (0..42)
        .map(|index| TraceCall {
            arrival_offset_ms: index * 600_000,
            dialled: "14010".into(),
            caller: sim_caller(index + 1),
            department: "algemeen".into(),
            menu_digit: None,
            patience_ms: 600_000,
            talk_ms: 90_000,
            agent_action: action(index),
        })
        .collect();
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "proef".into(),
        number: "14010".into(),
        start_wall: "2026-03-02T10:00:00+01:00".into(),
        seed: 5,
        calls: calls.len() as u64,
        profile: "replay-transfers".into(),
    };
    (header, calls)
}

fn run(seed: u64) -> (Vec<TraceCall>, ReplayOutcome) {
    let (header, calls) = trace();
    let mut config = ReplayConfig::new(seed);
    config.prompts = PromptDurations::uniform(Duration::from_secs(3));
    let outcome = replay(plan(), &header, calls.clone().into_iter().map(Ok), &config).expect("replay runs");
    (calls, outcome)
}

#[test]
fn reachability_and_bounces_per_group_are_what_the_trace_asked() {
    let (calls, outcome) = run(5);
    assert_eq!(outcome.violation_count, 0, "{:?}", outcome.violations);
    let report = &outcome.report;
    println!("{report}");
    assert_eq!(report.caller_abandoned, 0, "every caller is answered");

    // What the trace asked, per group: (transfers, answered).
    let mut asked: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut cold_answered, mut warm_answered, mut bounced, mut handled) = (0, 0, 0, 0);
    for call in &calls {
        match &call.agent_action {
            AgentAction::Handle => handled += 1,
            AgentAction::ColdTransfer(transfer) | AgentAction::WarmTransfer(transfer) => {
                let entry = asked.entry(format!("transfer:{}", transfer.group)).or_default();
                entry.0 += 1;
                if transfer.backoffice_answers {
                    entry.1 += 1;
                    if matches!(call.agent_action, AgentAction::ColdTransfer(_)) {
                        cold_answered += 1;
                    } else {
                        warm_answered += 1;
                    }
                } else {
                    bounced += 1;
                }
            }
        }
    }
    assert_eq!(report.transfers_requested, asked.values().map(|(transfers, _)| transfers).sum::<u64>());
    for (target, (transfers, answered)) in &asked {
        let reach = report.stats.reachability.iter().find(|r| &r.target == target).unwrap_or_else(|| panic!("{target} reported"));
        let attempts: u64 = reach.attempts_by_outcome.values().sum();
        assert_eq!(attempts, *transfers, "{target}: transfers");
        assert_eq!(reach.answered, *answered, "{target}: answered");
        assert_eq!(reach.attempts_by_outcome.get("no_answer").copied().unwrap_or(0), transfers - answered, "{target}: bounced unanswered");
        assert_eq!(reach.ratio(), Some(*answered as f64 / *transfers as f64), "{target}: reachability");
    }
    let handling = |name: &str| report.stats.handling.iter().filter(|h| h.handling == name).map(|h| h.calls).sum::<u64>();
    assert_eq!(handling("transferred_cold"), cold_answered, "transferred cold");
    assert_eq!(handling("transferred_warm"), warm_answered, "transferred warm");
    assert_eq!(handling("bounced"), bounced, "bounced");
    assert_eq!(handling("handled"), handled, "handled");
    let text = report.to_string();
    assert!(text.contains("proef/backoffice-loket") && text.contains("handling of 42 ended calls"), "{text}");
}

#[test]
fn the_same_seed_gives_the_same_hash() {
    let a = run(9).1.report.output_hash;
    let b = run(9).1.report.output_hash;
    assert_eq!(a, b);
}
