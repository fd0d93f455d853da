//! The trace format: JSON lines, version 1. A trace is what a replay or a load generator
//! plays against the daemon, so it must be stable, readable and diffable.
//!
//! The first line is a [`TraceHeader`]:
//!
//! ```text
//! {"veertien_trace":1,"tenant":"almere","number":"14036","start_wall":"2010-01-11T08:00:00+01:00","seed":7,"calls":31874,"profile":"almere-2010"}
//! ```
//!
//! Then one [`TraceCall`] per line, in arrival order:
//!
//! ```text
//! {"arrival_offset_ms":1520,"dialled":"14036","caller":"sim-caller-1","department":"burgerzaken","menu_digit":"1","patience_ms":84211,"talk_ms":201377,"agent_action":{"warm_transfer":{"group":"backoffice-burgerzaken","backoffice_answers":false}}}
//! ```
//!
//! `agent_action` is `"handle"`, `{"cold_transfer":{...}}` or `{"warm_transfer":{...}}`;
//! a transfer says whether the backoffice will answer, so a replay is fully determined
//! by its trace. `menu_digit` is `null` when the caller presses no key and the menu's
//! default applies.
//!
//! Callers are never real people: their number is the SIP user part `sim-caller-<n>`,
//! which no phone network can route and which has too few digits to look like a phone
//! number (see `core::redact::contains_phone_like_digits`). Unknown fields are errors, so
//! a typo in a hand-written trace does not pass silently.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// The trace format version this code reads and writes.
pub const TRACE_VERSION: u32 = 1;

/// Prefix of every synthetic caller's SIP user part.
pub const SIM_CALLER_PREFIX: &str = "sim-caller-";

/// The synthetic caller user part for the `index`-th call of a trace.
pub fn sim_caller(index: u64) -> String {
    format!("{SIM_CALLER_PREFIX}{index}")
}

/// The first line of a trace: where and when it plays, and how it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceHeader {
    /// Format version; [`TRACE_VERSION`].
    pub veertien_trace: u32,
    /// Tenant id the calls are for.
    pub tenant: String,
    /// The tenant's number callers dial.
    pub number: String,
    /// Wall time of offset 0, RFC 3339 with the local offset.
    pub start_wall: String,
    /// Seed the trace was generated from (and the replay's seed).
    pub seed: u64,
    /// Number of call lines that follow.
    pub calls: u64,
    /// Name of the profile the trace was generated from.
    pub profile: String,
}

/// What the agent who answers will do with the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentAction {
    /// The contact centre answers the question itself.
    Handle,
    /// The agent hands the call to a backoffice group and leaves it (blind transfer).
    ColdTransfer(Transfer),
    /// The agent consults the backoffice group first, then connects the caller.
    WarmTransfer(Transfer),
}

/// The target of a transfer and whether it will be answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Backoffice group id in the tenant's dial plan.
    pub group: String,
    /// Whether someone in the group picks up (the published reachability was 27 of 68).
    pub backoffice_answers: bool,
}

/// One call of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceCall {
    /// Arrival, in milliseconds after the header's `start_wall`.
    pub arrival_offset_ms: u64,
    /// The number dialled.
    pub dialled: String,
    /// Synthetic caller user part, see [`sim_caller`].
    pub caller: String,
    /// Department the caller's question belongs to (profile department id).
    pub department: String,
    /// Menu key the caller presses, `None` to let the menu time out.
    pub menu_digit: Option<char>,
    /// How long the caller waits for an answer before hanging up.
    pub patience_ms: u64,
    /// Conversation time with the agent once answered.
    pub talk_ms: u64,
    /// What the agent does with the call.
    pub agent_action: AgentAction,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The underlying reader failed.
    #[error("line {line}: read failed: {source}")]
    Io {
        /// 1-based line number.
        line: u64,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// The input ended before a header line.
    #[error("empty trace: no header line")]
    MissingHeader,
    /// A line is not valid JSON of the expected shape.
    #[error("line {line}: {source}")]
    Syntax {
        /// 1-based line number.
        line: u64,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The header names a version this code does not read.
    #[error("line 1: unsupported trace version {found} (this build reads {TRACE_VERSION})")]
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
    },
    /// A call arrives before the call on the line above it.
    #[error(
        "line {line}: arrival_offset_ms {offset_ms} is before the previous call's {previous_ms}"
    )]
    OutOfOrder {
        /// 1-based line number.
        line: u64,
        /// This call's offset.
        offset_ms: u64,
        /// The previous call's offset.
        previous_ms: u64,
    },
    /// The header promised another number of calls than the trace holds.
    #[error("header says {expected} calls, trace has {found}")]
    CountMismatch {
        /// The header's `calls`.
        expected: u64,
        /// Call lines read.
        found: u64,
    },
}

/// Reads a trace line by line from any buffered reader; never panics on bad input.
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    header: TraceHeader,
    line_number: u64,
    calls_read: u64,
    previous_offset_ms: u64,
    buffer: String,
    finished: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header line; the calls follow through [`Iterator`].
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut buffer = String::new();
        let mut line_number = 0;
        loop {
            buffer.clear();
            line_number += 1;
            let read = input
                .read_line(&mut buffer)
                .map_err(|source| TraceError::Io { line: line_number, source })?;
            if read == 0 {
                return Err(TraceError::MissingHeader);
            }
            if !buffer.trim().is_empty() {
                break;
            }
        }
        let header: TraceHeader = serde_json::from_str(buffer.trim())
            .map_err(|source| TraceError::Syntax { line: line_number, source })?;
        if header.veertien_trace != TRACE_VERSION {
            return Err(TraceError::UnsupportedVersion { found: header.veertien_trace });
        }
        Ok(TraceReader {
            input,
            header,
            line_number,
            calls_read: 0,
            previous_offset_ms: 0,
            buffer,
            finished: false,
        })
    }

    /// The trace's header.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    fn next_call(&mut self) -> Option<Result<TraceCall, TraceError>> {
        loop {
            self.buffer.clear();
            self.line_number += 1;
            let line = self.line_number;
            match self.input.read_line(&mut self.buffer) {
                Err(source) => return Some(Err(TraceError::Io { line, source })),
                Ok(0) => {
                    if self.calls_read != self.header.calls {
                        return Some(Err(TraceError::CountMismatch {
                            expected: self.header.calls,
                            found: self.calls_read,
                        }));
                    }
                    return None;
                }
                Ok(_) if self.buffer.trim().is_empty() => continue,
                Ok(_) => {}
            }
            let call: TraceCall = match serde_json::from_str(self.buffer.trim()) {
                Ok(call) => call,
                Err(source) => return Some(Err(TraceError::Syntax { line, source })),
            };
            if call.arrival_offset_ms < self.previous_offset_ms {
                return Some(Err(TraceError::OutOfOrder {
                    line,
                    offset_ms: call.arrival_offset_ms,
                    previous_ms: self.previous_offset_ms,
                }));
            }
            self.previous_offset_ms = call.arrival_offset_ms;
            self.calls_read += 1;
            return Some(Ok(call));
        }
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceCall, TraceError>;

    /// The next call; after the first error the reader stops.
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = self.next_call();
        if !matches!(item, Some(Ok(_))) {
            self.finished = true;
        }
        item
    }
}

/// Writes a trace: the header on creation, then one line per call.
#[derive(Debug)]
pub struct TraceWriter<W> {
    output: W,
}

impl<W: Write> TraceWriter<W> {
    /// Writes `header` as the first line.
    pub fn new(mut output: W, header: &TraceHeader) -> std::io::Result<Self> {
        write_line(&mut output, header)?;
        Ok(TraceWriter { output })
    }

    /// Appends `call` as one line.
    pub fn write_call(&mut self, call: &TraceCall) -> std::io::Result<()> {
        write_line(&mut self.output, call)
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.output.flush()?;
        Ok(self.output)
    }
}

fn write_line<W: Write, T: Serialize>(output: &mut W, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *output, value)?;
    output.write_all(b"\n")
}
