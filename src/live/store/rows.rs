//! One call record as rows: `call_records` (one column per field), `call_legs` (one row
//! per leg, in the order rung) and `call_transfers` (one row per transfer, in order). The
//! only file that knows the column list.

use rusqlite::{params, Connection, Row};

use crate::engine::{CallRecord, LegRecord, TransferRecord};

/// The columns of `call_records` a reader selects, in the order [`call_from_row`] reads.
pub const CALL_COLUMNS: &str = "id, reference, tenant, dialled, caller_hash, arrived_at_ms, established_at_ms, \
     menu_choice, queue, queued_at_ms, answered_at_ms, agent, ended_at_ms, wait_ms, talk_ms, hold_ms, wrap_up_ms, \
     disposition, end_reason, subject, notes, previous_references, handling";

/// Writes `record`, replacing an earlier write of the same call (tenant, reference and
/// arrival) together with its legs. Run inside the caller's transaction.
pub fn upsert_call(connection: &Connection, record: &CallRecord) -> rusqlite::Result<()> {
    let previous = serde_json::to_string(&record.previous_references)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
    let id: i64 = connection
        .prepare_cached(
            "INSERT INTO call_records (reference, tenant, dialled, caller_hash, arrived_at_ms, established_at_ms, \
             menu_choice, queue, queued_at_ms, answered_at_ms, agent, ended_at_ms, wait_ms, talk_ms, hold_ms, \
             wrap_up_ms, disposition, end_reason, subject, notes, previous_references, handling) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
             ON CONFLICT (tenant, reference, arrived_at_ms) DO UPDATE SET \
             dialled = excluded.dialled, caller_hash = excluded.caller_hash, \
             established_at_ms = excluded.established_at_ms, menu_choice = excluded.menu_choice, \
             queue = excluded.queue, queued_at_ms = excluded.queued_at_ms, answered_at_ms = excluded.answered_at_ms, \
             agent = excluded.agent, ended_at_ms = excluded.ended_at_ms, wait_ms = excluded.wait_ms, \
             talk_ms = excluded.talk_ms, hold_ms = excluded.hold_ms, wrap_up_ms = excluded.wrap_up_ms, \
             disposition = excluded.disposition, end_reason = excluded.end_reason, subject = excluded.subject, \
             notes = excluded.notes, previous_references = excluded.previous_references, handling = excluded.handling \
             RETURNING id",
        )?
        .query_row(
            params![
                record.reference,
                record.tenant,
                record.dialled,
                record.caller_hash,
                record.arrived_at_ms,
                record.established_at_ms,
                record.menu_choice,
                record.queue,
                record.queued_at_ms,
                record.answered_at_ms,
                record.agent,
                record.ended_at_ms,
                duration_column(record.wait_ms),
                duration_column(record.talk_ms),
                duration_column(record.hold_ms),
                duration_column(record.wrap_up_ms),
                record.disposition,
                record.end_reason,
                record.subject,
                record.notes,
                previous,
                record.handling,
            ],
            |row| row.get(0),
        )?;
    connection.prepare_cached("DELETE FROM call_legs WHERE call_id = ?1")?.execute([id])?;
    let mut insert_leg = connection.prepare_cached(
        "INSERT INTO call_legs (call_id, position, party, target, rung_at_ms, ring_ms, final_status, outcome, ended_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (position, leg) in record.legs.iter().enumerate() {
        insert_leg.execute(params![
            id,
            position as i64,
            leg.party,
            leg.target,
            leg.rung_at_ms,
            duration_column(leg.ring_ms),
            leg.final_status,
            leg.outcome,
            leg.ended_at_ms,
        ])?;
    }
    connection.prepare_cached("DELETE FROM call_transfers WHERE call_id = ?1")?.execute([id])?;
    let mut insert_transfer = connection.prepare_cached(
        "INSERT INTO call_transfers (call_id, position, mode, target, requested_at_ms, outcome, answered_by, ended_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (position, transfer) in record.transfers.iter().enumerate() {
        insert_transfer.execute(params![
            id,
            position as i64,
            transfer.mode,
            transfer.target,
            transfer.requested_at_ms,
            transfer.outcome,
            transfer.answered_by,
            transfer.ended_at_ms,
        ])?;
    }
    Ok(())
}

/// SQLite integers are signed 64-bit; a duration in milliseconds beyond `i64::MAX` (292
/// million years) cannot occur, so saturating loses nothing real.
fn duration_column(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn duration_value(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(index)?;
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, value))
}

/// A call row (selected with [`CALL_COLUMNS`]) without its legs, and its row id.
pub fn call_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, CallRecord)> {
    let previous: String = row.get(21)?;
    let previous_references = serde_json::from_str(&previous)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(21, rusqlite::types::Type::Text, Box::new(error)))?;
    let record = CallRecord {
        reference: row.get(1)?,
        tenant: row.get(2)?,
        dialled: row.get(3)?,
        caller_hash: row.get(4)?,
        arrived_at_ms: row.get(5)?,
        established_at_ms: row.get(6)?,
        menu_choice: row.get(7)?,
        queue: row.get(8)?,
        queued_at_ms: row.get(9)?,
        answered_at_ms: row.get(10)?,
        agent: row.get(11)?,
        ended_at_ms: row.get(12)?,
        wait_ms: duration_value(row, 13)?,
        talk_ms: duration_value(row, 14)?,
        hold_ms: duration_value(row, 15)?,
        wrap_up_ms: duration_value(row, 16)?,
        disposition: row.get(17)?,
        end_reason: row.get(18)?,
        subject: row.get(19)?,
        notes: row.get(20)?,
        previous_references,
        legs: Vec::new(),
        handling: row.get(22)?,
        transfers: Vec::new(),
    };
    Ok((row.get(0)?, record))
}

/// The legs of call `id`, in the order rung.
pub fn legs_of(connection: &Connection, id: i64) -> rusqlite::Result<Vec<LegRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT party, target, rung_at_ms, ring_ms, final_status, outcome, ended_at_ms \
         FROM call_legs WHERE call_id = ?1 ORDER BY position",
    )?;
    let legs = statement.query_map([id], |row| {
        Ok(LegRecord {
            party: row.get(0)?,
            target: row.get(1)?,
            rung_at_ms: row.get(2)?,
            ring_ms: duration_value(row, 3)?,
            final_status: row.get(4)?,
            outcome: row.get(5)?,
            ended_at_ms: row.get(6)?,
        })
    })?;
    legs.collect()
}

/// The transfers of call `id`, in order.
pub fn transfers_of(connection: &Connection, id: i64) -> rusqlite::Result<Vec<TransferRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT mode, target, requested_at_ms, outcome, answered_by, ended_at_ms \
         FROM call_transfers WHERE call_id = ?1 ORDER BY position",
    )?;
    let transfers = statement.query_map([id], |row| {
        Ok(TransferRecord {
            mode: row.get(0)?,
            target: row.get(1)?,
            requested_at_ms: row.get(2)?,
            outcome: row.get(3)?,
            answered_by: row.get(4)?,
            ended_at_ms: row.get(5)?,
        })
    })?;
    transfers.collect()
}
