//! Records as text for `veertien records`: JSON lines (the whole record, legs included,
//! each line with its `"reference"`) or CSV with a header row. CSV has one row per call
//! and the legs as a count (`legs`), so a spreadsheet opens it without nested data; the
//! legs themselves are in the JSON lines and the `call_legs` table.

use std::io::{self, Write};

use crate::engine::CallRecord;

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "reference", "tenant", "dialled", "caller_hash", "arrived_at_ms", "established_at_ms", "menu_choice", "queue",
    "queued_at_ms", "answered_at_ms", "agent", "ended_at_ms", "wait_ms", "talk_ms", "hold_ms", "wrap_up_ms",
    "disposition", "end_reason", "subject", "notes", "previous_references", "legs",
];

/// Writes `record` as one JSON line.
pub fn write_json_line(out: &mut impl Write, record: &CallRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Writes the CSV header row.
pub fn write_csv_header(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", CSV_COLUMNS.join(","))
}

/// Writes `record` as one CSV row (RFC 4180 quoting; previous references separated by
/// spaces; absent values empty).
pub fn write_csv_row(out: &mut impl Write, record: &CallRecord) -> io::Result<()> {
    let optional = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let fields = [
        record.reference.clone(),
        record.tenant.clone(),
        record.dialled.clone(),
        text(&record.caller_hash),
        record.arrived_at_ms.to_string(),
        optional(record.established_at_ms),
        text(&record.menu_choice),
        text(&record.queue),
        optional(record.queued_at_ms),
        optional(record.answered_at_ms),
        text(&record.agent),
        record.ended_at_ms.to_string(),
        record.wait_ms.to_string(),
        record.talk_ms.to_string(),
        record.hold_ms.to_string(),
        record.wrap_up_ms.to_string(),
        record.disposition.clone(),
        record.end_reason.clone(),
        text(&record.subject),
        text(&record.notes),
        record.previous_references.join(" "),
        record.legs.len().to_string(),
    ];
    let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
    writeln!(out, "{}", line.join(","))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_newlines_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("zei \"hallo\"\n"), "\"zei \"\"hallo\"\"\n\"");
    }
}
