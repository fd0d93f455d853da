//! Call records built by hand and a store filled with them, for tests of the store's
//! readers (the CLI, the API) that must not depend on placing real calls.

#![allow(dead_code)]

use std::path::Path;

use veertien::acd::reference::ReferenceAllocator;
use veertien::engine::{CallRecord, LegRecord, PersistTicket, Record};
use veertien::live::store::{StoreMetrics, StoreWriter};

/// `count` valid (Damm-checked) reference numbers of tenant `proef`.
pub fn references(count: usize) -> Vec<String> {
    let mut allocator = ReferenceAllocator::for_tenant(7, "proef", 1000);
    (0..count).map(|_| format!("{:08}", allocator.allocate().value())).collect()
}

/// An answered call of `proef` with two legs, arrived at `arrived_at_ms`.
pub fn answered_call(reference: &str, arrived_at_ms: i64) -> CallRecord {
    CallRecord {
        reference: reference.into(),
        tenant: "proef".into(),
        dialled: "14010".into(),
        caller_hash: Some("c0ffee".repeat(10) + "c0ff"),
        arrived_at_ms,
        established_at_ms: Some(arrived_at_ms + 30),
        menu_choice: None,
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
        subject: Some("paspoort, verlenging".into()),
        notes: None,
        previous_references: Vec::new(),
        handling: "handled".into(),
        transfers: Vec::new(),
        legs: vec![
            LegRecord {
                party: "agent".into(),
                target: "tim".into(),
                rung_at_ms: arrived_at_ms + 4_000,
                ring_ms: 3_000,
                final_status: Some(486),
                outcome: "busy".into(),
                ended_at_ms: arrived_at_ms + 7_000,
            },
            LegRecord {
                party: "agent".into(),
                target: "tessa".into(),
                rung_at_ms: arrived_at_ms + 7_000,
                ring_ms: 2_000,
                final_status: Some(200),
                outcome: "answered".into(),
                ended_at_ms: arrived_at_ms + 60_000,
            },
        ],
    }
}

/// Writes `records` into the store at `path` (created if missing) and waits until all
/// are durable.
pub fn fill_store(path: &Path, records: &[CallRecord]) {
    let mut opened = StoreWriter::open(path, StoreMetrics::detached()).expect("the store opens");
    for (index, record) in records.iter().enumerate() {
        opened.writer.persist(PersistTicket(index as u64), Record::Call(record.clone()));
    }
    opened.writer.finish();
}
