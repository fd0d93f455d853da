//! The durable store of call records: one SQLite file (WAL, `synchronous=FULL`), written
//! by one thread behind a bounded channel, read through separate read-only connections.
//! Everything that knows SQL sits in this module, so a server database can take its place
//! for a multi-node deployment without touching the engine or the API.
//!
//! Tables, readable with the `sqlite3` shell: `call_records` (one row per call, one column
//! per [`crate::engine::CallRecord`] field, unique on tenant + reference + arrival),
//! `call_legs` (one row per leg, `call_id` referencing `call_records.id`) and `meta` (the
//! caller-hash key). Schema migrations are in [`schema`].

mod connection;
mod error;
pub mod export;
mod meta;
mod reader;
mod rows;
pub mod schema;
mod store_metrics;
mod writer;
#[cfg(test)]
mod tests;

pub use connection::BUSY_TIMEOUT_MS;
pub use error::StoreError;
pub use reader::{recent_references, BadCursor, RecordCursor, RecordPage, StoreReader, TimeRange, MAX_PAGE_RECORDS};
pub use store_metrics::StoreMetrics;
pub use writer::{OpenedStore, StoreAnswer, StoreWriter, MAX_GROUP_RECORDS, STORE_QUEUE_BOUND};
