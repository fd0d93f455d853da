//! The store against real SQLite files in a temp directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::schema::{current_version, migrate_to, version};
use super::*;
use crate::engine::{CallRecord, LegRecord, PersistTicket, Record, TransferRecord};

/// A fresh directory per test, removed when the test passes.
struct TempDir(PathBuf);

impl TempDir {
    fn new(purpose: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("veertien-store-unit-{purpose}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn store(&self) -> PathBuf {
        self.0.join("nested/veertien.sqlite3")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn record(reference: &str, arrived_at_ms: i64) -> CallRecord {
    CallRecord {
        reference: reference.into(),
        tenant: "proef".into(),
        dialled: "14010".into(),
        caller_hash: Some("ab".repeat(32)),
        arrived_at_ms,
        established_at_ms: Some(arrived_at_ms + 20),
        menu_choice: Some("1".into()),
        queue: Some("algemeen".into()),
        queued_at_ms: Some(arrived_at_ms + 4_000),
        answered_at_ms: Some(arrived_at_ms + 9_000),
        agent: Some("tessa".into()),
        ended_at_ms: arrived_at_ms + 60_000,
        wait_ms: 5_000,
        talk_ms: 51_000,
        hold_ms: 0,
        wrap_up_ms: 1_000,
        disposition: "answered".into(),
        end_reason: "caller_hung_up".into(),
        subject: None,
        notes: Some("notitie".into()),
        previous_references: vec!["12345678".into()],
        handling: "transferred_cold".into(),
        transfers: vec![TransferRecord {
            mode: "cold".into(),
            target: "vth".into(),
            requested_at_ms: arrived_at_ms + 30_000,
            outcome: "answered".into(),
            answered_by: Some("sip:balie@192.0.2.10".into()),
            ended_at_ms: Some(arrived_at_ms + 36_000),
        }],
        legs: vec![
            LegRecord {
                party: "agent".into(),
                target: "tim".into(),
                rung_at_ms: arrived_at_ms + 4_100,
                ring_ms: 10_000,
                final_status: None,
                outcome: "no_answer".into(),
                ended_at_ms: arrived_at_ms + 14_100,
            },
            LegRecord {
                party: "agent".into(),
                target: "tessa".into(),
                rung_at_ms: arrived_at_ms + 4_200,
                ring_ms: 4_800,
                final_status: Some(200),
                outcome: "answered".into(),
                ended_at_ms: arrived_at_ms + 60_000,
            },
        ],
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Persists `records` with tickets 1.. and waits for every answer.
fn write_all(writer: &mut StoreWriter, records: &[CallRecord]) -> Vec<StoreAnswer> {
    for (index, record) in records.iter().enumerate() {
        writer.persist(PersistTicket(index as u64 + 1), Record::Call(record.clone()));
    }
    runtime().block_on(async {
        let mut answers = Vec::new();
        for _ in records {
            let answer = tokio::time::timeout(Duration::from_secs(10), writer.next_answer()).await.expect("answer in time");
            answers.push(answer);
        }
        answers
    })
}

#[test]
fn a_record_written_is_read_back_field_for_field_with_its_legs() {
    let dir = TempDir::new("roundtrip");
    let mut opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    let written = record("10000009", 1_700_000_000_000);
    let answers = write_all(&mut opened.writer, std::slice::from_ref(&written));
    assert_eq!(answers, vec![StoreAnswer::Persisted(PersistTicket(1))]);
    let reader = StoreReader::open(&dir.store()).expect("reader opens");
    assert_eq!(reader.by_reference("10000009").expect("reads"), Some(written.clone()));
    assert_eq!(reader.by_reference("20000004").expect("reads"), None);
    opened.writer.finish();
}

#[test]
fn opening_creates_the_schema_and_reopening_migrates_nothing_and_keeps_the_key() {
    let dir = TempDir::new("reopen");
    let first = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    let key = first.caller_hash_key;
    assert_ne!(key, [0u8; 32], "a key from OS randomness");
    first.writer.finish();
    let second = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("reopens");
    assert_eq!(second.caller_hash_key, key, "the key survives a restart");
    second.writer.finish();
    let connection = rusqlite::Connection::open(dir.store()).expect("open");
    assert_eq!(version(&connection, &dir.store()).expect("version"), current_version());
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .expect("tables");
    assert_eq!(tables, ["call_legs", "call_records", "call_transfers", "meta"]);
    let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    let other = TempDir::new("other-key");
    let elsewhere = StoreWriter::open(&other.store(), StoreMetrics::detached()).expect("opens");
    assert_ne!(elsewhere.caller_hash_key, key, "each store makes its own key");
    elsewhere.writer.finish();
}

#[test]
fn an_old_store_gets_the_missing_steps_and_a_newer_one_is_refused() {
    let dir = TempDir::new("migrate");
    std::fs::create_dir_all(dir.store().parent().expect("parent")).expect("dir");
    {
        let mut connection = rusqlite::Connection::open(dir.store()).expect("open");
        migrate_to(&mut connection, &dir.store(), 1).expect("step 1");
        assert_eq!(version(&connection, &dir.store()).expect("version"), 1);
    }
    let opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("migrates");
    opened.writer.finish();
    let connection = rusqlite::Connection::open(dir.store()).expect("open");
    assert_eq!(version(&connection, &dir.store()).expect("version"), current_version());
    let index: i64 = connection
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'call_records_by_reference'", [], |row| row.get(0))
        .expect("index");
    assert_eq!(index, 1, "step 2 ran");
    connection.pragma_update(None, "user_version", current_version() + 1).expect("bump");
    drop(connection);
    match StoreWriter::open(&dir.store(), StoreMetrics::detached()) {
        Err(StoreError::NewerSchema { found, .. }) => assert_eq!(found, current_version() + 1),
        Err(other) => panic!("expected NewerSchema, got {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
    assert!(matches!(StoreReader::open(&dir.store()), Err(StoreError::NewerSchema { .. })));
}

#[test]
fn a_second_write_of_the_same_call_replaces_it_and_its_legs() {
    let dir = TempDir::new("upsert");
    let mut opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    let first = record("10000009", 1_000);
    let mut second = first.clone();
    second.disposition = "abandoned".into();
    second.legs.truncate(1);
    second.agent = None;
    let answers = write_all(&mut opened.writer, &[first, second.clone()]);
    assert!(answers.iter().all(|answer| matches!(answer, StoreAnswer::Persisted(_))), "{answers:?}");
    opened.writer.finish();
    let reader = StoreReader::open(&dir.store()).expect("reader");
    assert_eq!(reader.by_reference("10000009").expect("reads"), Some(second));
    let connection = rusqlite::Connection::open(dir.store()).expect("open");
    let counts: (i64, i64) = connection
        .query_row("SELECT (SELECT count(*) FROM call_records), (SELECT count(*) FROM call_legs)", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .expect("counts");
    assert_eq!(counts, (1, 1));
}

#[test]
fn a_repeated_reference_reads_as_the_latest_arrival_and_listing_pages_in_arrival_order() {
    let dir = TempDir::new("list");
    let mut opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    // Five calls, two in the same millisecond, one reference used twice.
    let records = vec![
        record("10000009", 5_000),
        record("20000004", 1_000),
        record("30000007", 3_000),
        record("40000002", 3_000),
        record("10000009", 9_000),
    ];
    write_all(&mut opened.writer, &records);
    opened.writer.finish();
    let reader = StoreReader::open(&dir.store()).expect("reader");
    assert_eq!(reader.by_reference("10000009").expect("reads").map(|r| r.arrived_at_ms), Some(9_000));

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = reader.list(TimeRange::default(), 2, cursor).expect("page");
        pages += 1;
        seen.extend(page.records.iter().map(|r| (r.arrived_at_ms, r.reference.clone())));
        let Some(next) = page.next_cursor else { break };
        let parsed: RecordCursor = next.to_string().parse().expect("the cursor round-trips as text");
        cursor = Some(parsed);
    }
    assert_eq!(pages, 3);
    let arrivals: Vec<i64> = seen.iter().map(|(at, _)| *at).collect();
    assert_eq!(arrivals, [1_000, 3_000, 3_000, 5_000, 9_000]);

    let range = TimeRange { from_ms: Some(3_000), to_ms: Some(9_000) };
    let page = reader.list(range, 100, None).expect("range");
    assert_eq!(page.records.iter().map(|r| r.arrived_at_ms).collect::<Vec<_>>(), [3_000, 3_000, 5_000]);
    assert_eq!(page.next_cursor, None);
    assert!("12".parse::<RecordCursor>().is_err());
}

#[test]
fn reopening_restores_the_recent_references_per_tenant_oldest_first() {
    let dir = TempDir::new("recent");
    let mut opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    assert!(opened.recent_references.is_empty());
    let mut other = record("30000007", 500);
    other.tenant = "almere".into();
    write_all(&mut opened.writer, &[record("20000004", 2_000), record("10000009", 1_000), other]);
    opened.writer.finish();
    let connection = rusqlite::Connection::open(dir.store()).expect("open");
    let recent = recent_references(&connection, &dir.store(), 1).expect("recent");
    let pairs: Vec<(String, String)> = recent.into_iter().map(|r| (r.tenant, r.reference)).collect();
    assert_eq!(pairs, [("almere".to_owned(), "30000007".to_owned()), ("proef".to_owned(), "20000004".to_owned())]);
    let reopened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("reopens");
    let references: Vec<&str> = reopened.recent_references.iter().map(|r| r.reference.as_str()).collect();
    assert_eq!(references, ["30000007", "10000009", "20000004"]);
    reopened.writer.finish();
}

#[test]
fn a_full_queue_answers_persist_failed_at_once_and_a_locked_file_fails_the_write() {
    let dir = TempDir::new("full");
    let mut opened = StoreWriter::open_with_bound(&dir.store(), 2, StoreMetrics::detached()).expect("opens");
    // Another connection holds the write lock: the writer thread blocks on its first group.
    let blocker = rusqlite::Connection::open(dir.store()).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    opened.writer.persist(PersistTicket(1), Record::Call(record("10000009", 1)));
    std::thread::sleep(Duration::from_millis(300));
    opened.writer.persist(PersistTicket(2), Record::Call(record("20000004", 2)));
    opened.writer.persist(PersistTicket(3), Record::Call(record("30000007", 3)));
    opened.writer.persist(PersistTicket(4), Record::Call(record("40000002", 4)));
    let rt = runtime();
    let first = rt.block_on(async { tokio::time::timeout(Duration::from_millis(100), opened.writer.next_answer()).await }).expect("at once");
    assert_eq!(first, StoreAnswer::Failed { ticket: PersistTicket(4), reason: "store queue full".into() });
    // Held past the busy timeout: the first group fails; then the lock goes and the rest commit.
    let timeout = Duration::from_millis(BUSY_TIMEOUT_MS + 5_000);
    let second = rt.block_on(async { tokio::time::timeout(timeout, opened.writer.next_answer()).await }).expect("answer");
    assert!(matches!(&second, StoreAnswer::Failed { ticket: PersistTicket(1), reason } if reason.contains("locked")), "{second:?}");
    blocker.execute_batch("COMMIT").expect("unlock");
    let rest: Vec<StoreAnswer> = rt.block_on(async {
        let mut rest = Vec::new();
        for _ in 0..2 {
            rest.push(tokio::time::timeout(timeout, opened.writer.next_answer()).await.expect("answer"));
        }
        rest
    });
    assert_eq!(rest, [StoreAnswer::Persisted(PersistTicket(2)), StoreAnswer::Persisted(PersistTicket(3))]);
    opened.writer.finish();
}

#[test]
fn finishing_writes_everything_queued_before_it_returns() {
    let dir = TempDir::new("finish");
    let mut opened = StoreWriter::open(&dir.store(), StoreMetrics::detached()).expect("opens");
    for index in 0..500u64 {
        let mut call = record("10000009", index as i64);
        call.reference = format!("{:08}", 10_000_000 + index);
        opened.writer.persist(PersistTicket(index), Record::Call(call));
    }
    opened.writer.finish();
    let reader = StoreReader::open(&dir.store()).expect("reader");
    assert_eq!(reader.list(TimeRange::default(), 1000, None).expect("list").records.len(), 500);
}

#[test]
fn a_reader_refuses_a_missing_file_without_creating_it() {
    let dir = TempDir::new("missing");
    let path: &Path = &dir.store();
    assert!(matches!(StoreReader::open(path), Err(StoreError::Missing { .. })));
    assert!(!path.exists());
}
