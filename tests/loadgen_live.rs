//! `veertien loadgen` against the daemon binary over real loopback UDP: a small trace to
//! the test tenant (14010, two agents) ends with every call answered or abandoned as the
//! trace intended, none failed.

mod support;

use std::time::Duration;

use support::Daemon;
use veertien::live::loadgen::{run_loadgen, AgentLogin, LoadgenOptions};
use veertien::sim::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

/// Calls in the trace.
const CALLS: u64 = 40;
/// Every this-many-th call has a patience too short to reach an agent.
const IMPATIENT_EVERY: u64 = 8;
/// Trace time between arrivals (40 calls over about 10 s).
const ARRIVAL_GAP_MS: u64 = 250;
/// Trace speed-up.
const SPEED: f64 = 2.0;

fn trace() -> (TraceHeader, Vec<TraceCall>) {
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "proef".into(),
        number: "14010".into(),
        start_wall: "2026-01-05T09:00:00+01:00".into(),
        seed: 1,
        calls: CALLS,
        profile: "loadgen-live".into(),
    };
    let calls = (0..CALLS)
        .map(|index| TraceCall {
            arrival_offset_ms: index * ARRIVAL_GAP_MS,
            dialled: "14010".into(),
            caller: sim_caller(index + 1),
            department: "algemeen".into(),
            menu_digit: None,
            // Impatient callers give up 50 ms (real) after the daemon answers them:
            // before any agent phone, which rings 200 ms, can answer. The others wait up to ten minutes of trace time.
            patience_ms: if index % IMPATIENT_EVERY == 0 { 100 } else { 600_000 },
            talk_ms: 400,
            agent_action: AgentAction::Handle,
        })
        .collect();
    (header, calls)
}

#[test]
fn every_call_is_answered_or_abandoned_as_the_trace_intended() {
    let daemon = Daemon::start(&[("VEERTIEN_SHUTDOWN__DRAIN_S", "1")]);
    let (header, calls) = trace();
    let impatient = calls.iter().filter(|call| call.patience_ms < 1000).count() as u64;
    let agents = ["tessa", "tim"]
        .iter()
        .map(|id| AgentLogin { id: id.to_string(), realm: "proef.veertien".into(), password: format!("demo-{id}") })
        .collect();
    let mut options = LoadgenOptions::new(header, calls, daemon.sip_addr(), agents);
    options.speed = SPEED;
    options.agent_ring = Duration::from_millis(200);
    options.max_duration = Duration::from_secs(120);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let report = runtime.block_on(run_loadgen(options)).expect("loadgen runs");
    println!("{report}");
    assert_eq!(report.placed, CALLS, "{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.abandoned, impatient, "{report}");
    assert_eq!(report.answered, CALLS - impatient, "{report}");
    assert_eq!(report.invite_to_ok_us.len(), CALLS, "every call was answered by the daemon: {report}");
    // An impatient caller may be offered in the moment before it gives up.
    let offered = report.wait_to_agent_us.len();
    assert!((CALLS - impatient..=CALLS).contains(&offered), "{offered} callers offered: {report}");
}
