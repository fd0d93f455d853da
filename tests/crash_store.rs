//! The store survives a SIGKILL: the daemon binary takes calls through the queue to two
//! agents (the load generator over loopback), is killed without warning, and the file it
//! leaves holds a record of every call that had ended, passes SQLite's integrity check
//! and serves a restarted daemon, whose next call is recorded too. Killed in the middle
//! of load, the file is still intact and every record in it is whole.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use support::{send_signal, Daemon, ScratchDir};
use veertien::live::loadgen::{run_loadgen, AgentLogin, LoadgenOptions, LoadgenReport};
use veertien::traffic::trace::{sim_caller, AgentAction, TraceCall, TraceHeader, TRACE_VERSION};

/// How long a killed daemon may take to be reaped.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// `count` patient callers of the test tenant, `gap_ms` apart, each talking 300 ms.
fn trace(count: u64, gap_ms: u64, first_caller: u64) -> (TraceHeader, Vec<TraceCall>) {
    let header = TraceHeader {
        veertien_trace: TRACE_VERSION,
        tenant: "proef".into(),
        number: "14010".into(),
        start_wall: "2026-01-05T09:00:00+01:00".into(),
        seed: 1,
        calls: count,
        profile: "crash-store".into(),
    };
    let calls = (0..count)
        .map(|index| TraceCall {
            arrival_offset_ms: index * gap_ms,
            dialled: "14010".into(),
            caller: sim_caller(first_caller + index),
            department: "algemeen".into(),
            menu_digit: None,
            patience_ms: 600_000,
            talk_ms: 300,
            agent_action: AgentAction::Handle,
        })
        .collect();
    (header, calls)
}

fn loadgen(daemon_sip: std::net::SocketAddr, count: u64, gap_ms: u64, first_caller: u64, max_duration: Duration) -> LoadgenReport {
    let (header, calls) = trace(count, gap_ms, first_caller);
    let agents = ["tessa", "tim"]
        .iter()
        .map(|id| AgentLogin { id: id.to_string(), realm: "proef.veertien".into(), password: format!("demo-{id}") })
        .collect();
    let mut options = LoadgenOptions::new(header, calls, daemon_sip, agents);
    options.speed = 2.0;
    options.agent_ring = Duration::from_millis(100);
    options.max_duration = max_duration;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(run_loadgen(options)).expect("loadgen runs")
}

fn start_on(store: &Path) -> Daemon {
    let store = store.display().to_string();
    Daemon::start(&[("VEERTIEN_STORE__PATH", store.as_str()), ("VEERTIEN_SHUTDOWN__DRAIN_S", "1")])
}

fn kill(daemon: &mut Daemon) {
    assert!(send_signal(daemon.pid(), "KILL"), "SIGKILL sent");
    assert!(daemon.wait_for_exit(EXIT_TIMEOUT).is_some(), "the killed daemon is reaped");
}

fn read_only(store: &Path) -> Connection {
    Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("the store opens read-only")
}

fn integrity(store: &Path) -> String {
    read_only(store).query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("integrity_check runs")
}

fn count(store: &Path, sql: &str) -> i64 {
    read_only(store).query_row(sql, [], |row| row.get(0)).expect("count")
}

/// Polls until `sql` counts at least `at_least` or `wait` passes; returns the last count.
fn wait_for_count(store: &Path, sql: &str, at_least: i64, wait: Duration) -> i64 {
    let give_up = Instant::now() + wait;
    loop {
        let found = if store.exists() { count(store, sql) } else { 0 };
        if found >= at_least || Instant::now() >= give_up {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The daemon's `active_calls` from `/health`.
fn active_calls(daemon: &Daemon) -> Option<u64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&daemon.http_addr(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body = response.split("\r\n\r\n").nth(1)?;
    serde_json::from_str::<serde_json::Value>(body).ok()?["active_calls"].as_u64()
}

/// Waits (bounded) until the daemon holds no call: the loadgen reports a call when its
/// caller is done, the daemon ends it when its last transaction is over.
fn wait_until_idle(daemon: &Daemon, wait: Duration) -> Option<u64> {
    let give_up = Instant::now() + wait;
    loop {
        let active = active_calls(daemon);
        if active == Some(0) || Instant::now() >= give_up {
            return active;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every record is whole: its legs numbered 0.. without a gap, times in order, an answered
/// call with an answered leg and an agent. Returns the number of records.
fn assert_records_complete(store: &Path) -> i64 {
    let connection = read_only(store);
    let broken: i64 = connection
        .query_row(
            "SELECT count(*) FROM call_records c WHERE c.ended_at_ms < c.arrived_at_ms \
               OR c.disposition = '' OR c.end_reason = '' OR length(c.reference) != 8 \
               OR (SELECT count(*) FROM call_legs l WHERE l.call_id = c.id) != \
                  coalesce((SELECT max(position) + 1 FROM call_legs l WHERE l.call_id = c.id), 0) \
               OR (c.disposition = 'answered' AND (c.agent IS NULL OR NOT EXISTS \
                  (SELECT 1 FROM call_legs l WHERE l.call_id = c.id AND l.outcome = 'answered')))",
            [],
            |row| row.get(0),
        )
        .expect("the completeness query runs");
    assert_eq!(broken, 0, "incomplete records in {}", store.display());
    let orphans: i64 = connection
        .query_row("SELECT count(*) FROM call_legs WHERE call_id NOT IN (SELECT id FROM call_records)", [], |row| row.get(0))
        .expect("orphans");
    assert_eq!(orphans, 0, "legs without a call");
    connection.query_row("SELECT count(*) FROM call_records", [], |row| row.get(0)).expect("count")
}

#[test]
fn every_ended_call_survives_a_sigkill_and_the_restarted_daemon_records_its_next_call() {
    const CALLS: u64 = 12;
    let dir = ScratchDir::new("crash-store");
    let store = dir.path().join("data/veertien.sqlite3");
    let mut daemon = start_on(&store);
    let report = loadgen(daemon.sip_addr(), CALLS, 200, 1, Duration::from_secs(60));
    assert_eq!((report.placed, report.answered, report.failed), (CALLS, CALLS, 0), "{report}");
    assert_eq!(wait_until_idle(&daemon, Duration::from_secs(60)), Some(0), "every call ended");
    // Each record is written when its call ends and committed within milliseconds; give
    // the last call's record that long, not more.
    let records = wait_for_count(&store, "SELECT count(*) FROM call_records", CALLS as i64, Duration::from_secs(2));
    kill(&mut daemon);
    assert_eq!(records, CALLS as i64, "a record for every ended call before the kill");
    assert_eq!(integrity(&store), "ok");
    assert_eq!(assert_records_complete(&store), CALLS as i64);
    assert_eq!(count(&store, "SELECT count(*) FROM call_records WHERE disposition = 'answered' AND tenant = 'proef'"), CALLS as i64);
    assert_eq!(count(&store, "SELECT count(DISTINCT reference) FROM call_records"), CALLS as i64);
    let key_before: Vec<u8> =
        read_only(&store).query_row("SELECT value FROM meta WHERE key = 'caller_hash_key'", [], |row| row.get(0)).expect("key");

    let mut restarted = start_on(&store);
    let again = loadgen(restarted.sip_addr(), 1, 0, 100, Duration::from_secs(30));
    assert_eq!((again.placed, again.answered, again.failed), (1, 1, 0), "{again}");
    assert_eq!(wait_until_idle(&restarted, Duration::from_secs(60)), Some(0), "the call ended");
    let after = wait_for_count(&store, "SELECT count(*) FROM call_records", CALLS as i64 + 1, Duration::from_secs(5));
    assert_eq!(after, CALLS as i64 + 1, "the restarted daemon's call is recorded");
    assert_eq!(
        count(&store, "SELECT count(DISTINCT reference) FROM call_records"),
        CALLS as i64 + 1,
        "the restarted daemon did not hand out a reference again"
    );
    let key_after: Vec<u8> =
        read_only(&store).query_row("SELECT value FROM meta WHERE key = 'caller_hash_key'", [], |row| row.get(0)).expect("key");
    assert_eq!(key_before, key_after, "the caller-hash key survives the restart");
    restarted.stop();
    assert_eq!(integrity(&store), "ok");
}

#[test]
fn a_sigkill_in_the_middle_of_load_leaves_an_intact_store_of_whole_records() {
    let dir = ScratchDir::new("crash-store-load");
    let store = dir.path().join("data/veertien.sqlite3");
    let mut daemon = start_on(&store);
    let sip = daemon.sip_addr();
    // 60 calls 100 ms apart (50 ms at speed 2): still arriving when the kill comes.
    let load = std::thread::spawn(move || loadgen(sip, 60, 100, 1, Duration::from_secs(15)));
    let some = wait_for_count(&store, "SELECT count(*) FROM call_records", 5, Duration::from_secs(60));
    assert!(some >= 5, "records were being written before the kill ({some})");
    kill(&mut daemon);
    match load.join() {
        Ok(report) => assert!(report.placed > 0, "{report}"),
        Err(_) => panic!("the load generator thread panicked"),
    }
    assert_eq!(integrity(&store), "ok");
    let records = assert_records_complete(&store);
    assert!(records >= some, "no record lost after it was read ({records} < {some})");
}
