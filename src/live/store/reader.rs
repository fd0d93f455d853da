//! Reading records back: one by reference, a time range page by page, and the recent
//! references a restarted engine must not hand out again. A [`StoreReader`] has its own
//! read-only connection, so the API and `veertien records` never pass through the engine
//! or wait for the writer (WAL lets readers and the writer run side by side).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rusqlite::{params, Connection, OptionalExtension};

use super::connection::open_read_only;
use super::error::StoreError;
use super::rows::{call_from_row, legs_of, transfers_of, CALL_COLUMNS};
use super::schema::check_readable;
use crate::engine::{CallRecord, IssuedReference};

/// Most records one listing page may hold (the API's `limit` bound).
pub const MAX_PAGE_RECORDS: usize = 1000;

/// Where a listing continues: after the record that arrived at `arrived_at_ms` with row
/// id `id` (the id breaks ties between calls that arrived in the same millisecond).
/// Written as `<arrived_at_ms>.<id>`; clients treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCursor {
    arrived_at_ms: i64,
    id: i64,
}

impl fmt::Display for RecordCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.arrived_at_ms, self.id)
    }
}

/// A cursor that is not one we handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor from an earlier page")]
pub struct BadCursor;

impl FromStr for RecordCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<Self, BadCursor> {
        let (arrived, id) = text.split_once('.').ok_or(BadCursor)?;
        Ok(RecordCursor { arrived_at_ms: arrived.parse().map_err(|_| BadCursor)?, id: id.parse().map_err(|_| BadCursor)? })
    }
}

/// Which records a listing covers: arrival in `[from_ms, to_ms)`, each end open when `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// One page of a listing, oldest arrival first.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    pub records: Vec<CallRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<RecordCursor>,
}

/// A read-only connection to the store.
pub struct StoreReader {
    connection: Connection,
    path: PathBuf,
}

impl StoreReader {
    /// Opens the existing store at `path` read-only; refuses a missing file or a schema
    /// this binary cannot read.
    pub fn open(path: &Path) -> Result<StoreReader, StoreError> {
        let connection = open_read_only(path)?;
        check_readable(&connection, path)?;
        Ok(StoreReader { connection, path: path.to_path_buf() })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record filed under `reference` (8 digits); when a reference repeats (another
    /// tenant, or reused after the uniqueness window), the latest arrival.
    pub fn by_reference(&self, reference: &str) -> Result<Option<CallRecord>, StoreError> {
        let query = format!(
            "SELECT {CALL_COLUMNS} FROM call_records WHERE reference = ?1 ORDER BY arrived_at_ms DESC, id DESC LIMIT 1"
        );
        let found = self
            .connection
            .query_row(&query, [reference], call_from_row)
            .optional()
            .map_err(|error| self.query_error(error))?;
        match found {
            None => Ok(None),
            Some((id, mut record)) => {
                record.legs = legs_of(&self.connection, id).map_err(|error| self.query_error(error))?;
            record.transfers = transfers_of(&self.connection, id).map_err(|error| self.query_error(error))?;
                record.transfers = transfers_of(&self.connection, id).map_err(|error| self.query_error(error))?;
                Ok(Some(record))
            }
        }
    }

    /// Up to `limit` (at most [`MAX_PAGE_RECORDS`]) records of `range`, after `cursor`.
    pub fn list(&self, range: TimeRange, limit: usize, cursor: Option<RecordCursor>) -> Result<RecordPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_RECORDS);
        let (after_ms, after_id) = cursor.map_or((i64::MIN, i64::MIN), |cursor| (cursor.arrived_at_ms, cursor.id));
        let query = format!(
            "SELECT {CALL_COLUMNS} FROM call_records \
             WHERE arrived_at_ms >= ?1 AND arrived_at_ms < ?2 AND (arrived_at_ms, id) > (?3, ?4) \
             ORDER BY arrived_at_ms, id LIMIT ?5"
        );
        let mut statement = self.connection.prepare_cached(&query).map_err(|error| self.query_error(error))?;
        // One more than asked tells whether another page follows.
        let rows = statement
            .query_map(
                params![
                    range.from_ms.unwrap_or(i64::MIN),
                    range.to_ms.unwrap_or(i64::MAX),
                    after_ms,
                    after_id,
                    limit as i64 + 1
                ],
                call_from_row,
            )
            .map_err(|error| self.query_error(error))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|error| self.query_error(error))?;
        let more = rows.len() > limit;
        let mut records = Vec::with_capacity(rows.len().min(limit));
        let mut last = None;
        for (id, mut record) in rows.into_iter().take(limit) {
            record.legs = legs_of(&self.connection, id).map_err(|error| self.query_error(error))?;
            record.transfers = transfers_of(&self.connection, id).map_err(|error| self.query_error(error))?;
            last = Some(RecordCursor { arrived_at_ms: record.arrived_at_ms, id });
            records.push(record);
        }
        Ok(RecordPage { records, next_cursor: if more { last } else { None } })
    }

    fn query_error(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Query { path: self.path.clone(), reason: error.to_string() }
    }
}

/// The last `per_tenant` references each tenant issued, oldest first within a tenant
/// (the order they were handed out, so the engine's window forgets the oldest first).
pub fn recent_references(connection: &Connection, path: &Path, per_tenant: usize) -> Result<Vec<IssuedReference>, StoreError> {
    let query_error = |error: rusqlite::Error| StoreError::Query { path: path.to_path_buf(), reason: format!("recent references: {error}") };
    let mut statement = connection
        .prepare(
            "SELECT tenant, reference FROM ( \
               SELECT tenant, reference, arrived_at_ms, id, \
                 ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY arrived_at_ms DESC, id DESC) AS recency \
               FROM call_records) \
             WHERE recency <= ?1 ORDER BY tenant, arrived_at_ms, id",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map([per_tenant as i64], |row| Ok(IssuedReference { tenant: row.get(0)?, reference: row.get(1)? }))
        .map_err(query_error)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(query_error)
}
