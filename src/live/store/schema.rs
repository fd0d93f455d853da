//! The schema, as a list of migration steps applied in order and recorded in
//! `PRAGMA user_version` (step N done = version N). Reopening a current store runs
//! nothing; an older store gets the missing steps, each in its own transaction; a newer
//! store is refused, so an old binary never writes rows it does not understand.
//!
//! Append steps, never edit one that has shipped: a store in the field has run it.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::StoreError;

/// Migration steps; index 0 takes a store from version 0 to 1.
pub const MIGRATIONS: &[&str] = &[
    // 1: the tables. One column per CallRecord field, so `sqlite3` shows a call without
    // decoding JSON; only the list of previous references is a JSON array.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    );
    CREATE TABLE call_records (
        id                  INTEGER PRIMARY KEY,
        reference           TEXT NOT NULL,
        tenant              TEXT NOT NULL,
        dialled             TEXT NOT NULL,
        caller_hash         TEXT,
        arrived_at_ms       INTEGER NOT NULL,
        established_at_ms   INTEGER,
        menu_choice         TEXT,
        queue               TEXT,
        queued_at_ms        INTEGER,
        answered_at_ms      INTEGER,
        agent               TEXT,
        ended_at_ms         INTEGER NOT NULL,
        wait_ms             INTEGER NOT NULL,
        talk_ms             INTEGER NOT NULL,
        hold_ms             INTEGER NOT NULL,
        wrap_up_ms          INTEGER NOT NULL,
        disposition         TEXT NOT NULL,
        end_reason          TEXT NOT NULL,
        subject             TEXT,
        notes               TEXT,
        previous_references TEXT NOT NULL DEFAULT '[]',
        UNIQUE (tenant, reference, arrived_at_ms)
    );
    CREATE INDEX call_records_by_arrival ON call_records (arrived_at_ms, id);
    CREATE TABLE call_legs (
        call_id      INTEGER NOT NULL REFERENCES call_records (id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        party        TEXT NOT NULL,
        target       TEXT NOT NULL,
        rung_at_ms   INTEGER NOT NULL,
        ring_ms      INTEGER NOT NULL,
        final_status INTEGER,
        outcome      TEXT NOT NULL,
        ended_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (call_id, position)
    );",
    // 2: look-ups by reference alone (the API and a caller quoting their number).
    "CREATE INDEX call_records_by_reference ON call_records (reference, arrived_at_ms);",
    // 3: transfers. How the call was handled (the 80 % norm), and one row per transfer in
    // order. Records written before have an empty handling and no transfers.
    "ALTER TABLE call_records ADD COLUMN handling TEXT NOT NULL DEFAULT '';
    CREATE TABLE call_transfers (
        call_id         INTEGER NOT NULL REFERENCES call_records (id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        mode            TEXT NOT NULL,
        target          TEXT NOT NULL,
        requested_at_ms INTEGER NOT NULL,
        outcome         TEXT NOT NULL,
        answered_by     TEXT,
        ended_at_ms     INTEGER,
        PRIMARY KEY (call_id, position)
    );",
];

/// The schema version this binary writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies the missing steps to `connection` (the store at `path`).
pub fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrate_to(connection, path, MIGRATIONS.len())
}

/// Applies steps up to `target` (tests build old stores with it).
pub(super) fn migrate_to(connection: &mut Connection, path: &Path, target: usize) -> Result<(), StoreError> {
    let query_error = |error: rusqlite::Error| StoreError::Query { path: path.to_path_buf(), reason: format!("migrating: {error}") };
    loop {
        // The version is read under the write lock: two processes opening one new file at
        // once must not both run a step (the second would find its tables already there).
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(query_error)?;
        let found = version(&transaction, path)?;
        if found > current_version() {
            return Err(StoreError::NewerSchema { path: path.to_path_buf(), found, known: current_version() });
        }
        let Some(step) = MIGRATIONS.get(found as usize).filter(|_| (found as usize) < target) else {
            return Ok(());
        };
        transaction.execute_batch(step).map_err(query_error)?;
        // user_version lives in the file header and is part of the transaction.
        transaction.pragma_update(None, "user_version", found + 1).map_err(query_error)?;
        transaction.commit().map_err(query_error)?;
    }
}

/// The store's schema version.
pub fn version(connection: &Connection, path: &Path) -> Result<i64, StoreError> {
    connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|error| StoreError::Open { path: path.to_path_buf(), reason: error.to_string() })
}

/// For readers: the schema must be one this binary can read (present, not newer).
pub fn check_readable(connection: &Connection, path: &Path) -> Result<(), StoreError> {
    match version(connection, path)? {
        0 => Err(StoreError::NoSchema { path: path.to_path_buf() }),
        found if found > current_version() => {
            Err(StoreError::NewerSchema { path: path.to_path_buf(), found, known: current_version() })
        }
        _ => Ok(()),
    }
}
