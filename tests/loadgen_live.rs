//! `veertien loadgen` against the daemon binary over real loopback UDP: a small trace to
//! the test tenant (14010, two agents) ends with every call answered or abandoned as the
//! trace intended, none failed, every offer attributed by its reference and media flowing
//! both ways; and callers of the Almere menu (14036) pressing a key over RTP reach the
//! queue that key names.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::Daemon;
use veertien::live::loadgen::{run_loadgen, AgentLogin, LoadgenOptions};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

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
    assert_eq!(report.offers_unknown_reference, 0, "every offer names a caller's reference: {report}");
    assert!(report.offers_attributed >= report.answered, "{report}");
    assert_eq!(report.answered_with_media, report.answered, "every connected caller heard the agent's RTP: {report}");
    assert!(report.rtp_received_by_agents > 0, "the callers' RTP was relayed to the agents: {report}");
    assert!(report.rtp_sent > 0, "{report}");
}

/// Almere's menu: key 1 is Burgerzaken, 2 Belastingen (timeout: Algemeen).
const MENU_CALLS: [char; 4] = ['1', '2', '1', '2'];

#[test]
fn a_key_pressed_over_rtp_routes_the_caller_to_the_queue_it_names() {
    let daemon = Daemon::start(&[("VEERTIEN_SHUTDOWN__DRAIN_S", "1")]);
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "almere".into(),
        number: "14036".into(),
        start_wall: "2026-01-05T09:00:00+01:00".into(),
        seed: 1,
        calls: MENU_CALLS.len() as u64,
        profile: "loadgen-live-menu".into(),
    };
    let calls = MENU_CALLS
        .iter()
        .enumerate()
        .map(|(index, digit)| TraceCall {
            arrival_offset_ms: index as u64 * 100,
            dialled: "14036".into(),
            caller: sim_caller(index as u64 + 1),
            department: "menu".into(),
            menu_digit: Some(*digit),
            patience_ms: 600_000,
            talk_ms: 300,
            agent_action: AgentAction::Handle,
        })
        .collect();
    // Anouk and Fatima take Burgerzaken, Bram and Jeroen Belastingen: one call each, so
    // no caller waits for a wrap-up.
    let agents = ["anouk", "fatima", "bram", "jeroen"]
        .iter()
        .map(|id| AgentLogin { id: id.to_string(), realm: "almere.veertien".into(), password: format!("demo-{id}") })
        .collect();
    let mut options = LoadgenOptions::new(header, calls, daemon.sip_addr(), agents);
    options.agent_ring = Duration::from_millis(200);
    options.max_duration = Duration::from_secs(60);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let report = runtime.block_on(run_loadgen(options)).expect("loadgen runs");
    println!("{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.answered, MENU_CALLS.len() as u64, "{report}");
    assert_eq!(report.key_presses, MENU_CALLS.len() as u64, "{report}");
    assert_eq!(report.offers_unknown_reference, 0, "{report}");
    assert!(report.rtp_received_by_callers > 0, "callers heard the menu prompt: {report}");
    let metrics = http_get(daemon.http_addr(), "/metrics");
    for (queue, key) in [("burgerzaken", '1'), ("belastingen", '2')] {
        let pressed = MENU_CALLS.iter().filter(|digit| **digit == key).count() as f64;
        assert_eq!(answered_in(&metrics, queue), pressed, "key {key} leads to {queue}: {report}\n{metrics}");
    }
    assert_eq!(answered_in(&metrics, "algemeen"), 0.0, "no caller fell through to the menu's default");
}

/// Answered calls of Almere's `queue`: the count of its wait histogram.
fn answered_in(metrics: &str, queue: &str) -> f64 {
    let label = format!("queue=\"{queue}\"");
    metrics
        .lines()
        .filter(|line| line.starts_with("veertien_wait_seconds_count{") && line.contains(&label) && line.contains("tenant=\"almere\""))
        .filter_map(|line| line.rsplit_once(' ').and_then(|(_, value)| value.trim().parse::<f64>().ok()))
        .sum()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the daemon's HTTP port");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    answer
}
