//! The replay against Erlang C: an M/M/c queue without abandonment (10 agents, 3-minute
//! mean exponential handle time, no wrap-up, 8 Erlang offered, patience far beyond any
//! wait). Agents answer at once over a zero-latency network, so ring time does not add
//! to the wait. The replayed service level at 25 s must agree with the formula within
//! `replay_tolerance`.

use std::time::Duration;
use veertien::core::rng::SeededRng;
use veertien::dialplan::{parse_tenant, DialPlan};
use veertien::sim::erlang::{replay_tolerance, ErlangC};
use veertien::sim::network::NetworkConditions;
use veertien::sim::replay::{replay, ReplayConfig};
use veertien::traffic::sample::exponential;
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};
use veertien::sip::auth::DigestAlgorithm;

const AGENTS: u32 = 10;
const MEAN_HANDLE_S: f64 = 180.0;
const OFFERED_ERLANG: f64 = 8.0;
const CALLS: u64 = 20_000;
const TARGET: Duration = Duration::from_secs(25);

/// One always-open queue with `AGENTS` agents, no wrap-up (the validator allows 0).
fn plan() -> DialPlan {
    let realm = "erlang.veertien";
    let mut text = String::from(
        "[tenant]\nid = \"erlang\"\nname = \"Erlang C\"\nrealm = \"erlang.veertien\"\nnumbers = [\"14099\"]\n\n[hours]\ntimezone = \"Europe/Amsterdam\"\n",
    );
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        text.push_str(&format!("{day} = [\"00:00-24:00\"]\n"));
    }
    text.push_str("close_on_public_holidays = false\n\n[[queue]]\nid = \"mmc\"\nname = \"M/M/c\"\nservice_level_target_s = 25\nmax_wait_s = 7200\nmax_length = 10000\nannounce_interval_s = 0\nstrategy = \"longest-idle\"\nring_timeout_s = 30\nwrap_up_s = 0\n\n");
    for n in 0..AGENTS {
        let id = format!("agent{n}");
        let password = format!("demo-{id}");
        let md5 = DigestAlgorithm::Md5.ha1(&id, realm, &password);
        let sha256 = DigestAlgorithm::Sha256.ha1(&id, realm, &password);
        text.push_str(&format!(
            "[[agent]]\nid = \"{id}\"\nname = \"Agent {n}\"\nha1_md5 = \"{md5}\"\nha1_sha256 = \"{sha256}\"\nqueues = [\"mmc\"]\n\n"
        ));
    }
    let tenant = parse_tenant("erlang.toml", &text).expect("the test dial plan is valid");
    DialPlan::new(vec![("erlang.toml".to_string(), tenant)]).expect("one tenant")
}

/// Poisson arrivals at `OFFERED_ERLANG / MEAN_HANDLE_S` per second, exponential talk.
fn trace(seed: u64) -> (TraceHeader, Vec<TraceCall>) {
    let mut rng = SeededRng::fork(seed, "replay-erlang");
    let mean_gap_ms = MEAN_HANDLE_S / OFFERED_ERLANG * 1000.0;
    let mut offset_ms = 0u64;
    let calls = (1..=CALLS)
        .map(|index| {
            offset_ms += exponential(&mut rng, mean_gap_ms).round() as u64;
            TraceCall {
                arrival_offset_ms: offset_ms,
                dialled: "14099".into(),
                caller: sim_caller(index),
                department: "mmc".into(),
                menu_digit: None,
                patience_ms: 1_000_000_000,
                talk_ms: exponential(&mut rng, MEAN_HANDLE_S * 1000.0).round().max(1.0) as u64,
                agent_action: AgentAction::Handle,
            }
        })
        .collect();
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "erlang".into(),
        number: "14099".into(),
        start_wall: "2026-03-02T00:00:00+01:00".into(),
        seed,
        calls: CALLS,
        profile: "mmc".into(),
    };
    (header, calls)
}

#[test]
fn replayed_service_level_matches_erlang_c() {
    let seed = 2026;
    let (header, calls) = trace(seed);
    let mut config = ReplayConfig::new(seed);
    config.network = NetworkConditions { base_latency: Duration::ZERO, jitter: Duration::ZERO, loss_probability: 0.0 };
    config.agent_answer_delay = Duration::ZERO;
    config.check_invariants = false;
    let outcome = replay(plan(), &header, calls.into_iter().map(Ok), &config).expect("replay runs");
    let queue = outcome.report.stats.queue("erlang", "mmc").expect("the queue has a report");
    assert_eq!(queue.offered, CALLS, "every call left the queue");
    assert_eq!(queue.abandoned(), 0, "patience is beyond any wait");
    let replayed = queue.service_level().expect("calls were offered");
    let expected = ErlangC::new(AGENTS, OFFERED_ERLANG, Duration::from_secs_f64(MEAN_HANDLE_S)).service_level(TARGET);
    let tolerance = replay_tolerance(expected, CALLS);
    println!("service level at 25 s: replayed {replayed:.4}, Erlang C {expected:.4}, tolerance {tolerance:.4}");
    assert!(
        (replayed - expected).abs() <= tolerance,
        "replayed SL {replayed:.4} vs Erlang C {expected:.4} (tolerance {tolerance:.4})"
    );
}
