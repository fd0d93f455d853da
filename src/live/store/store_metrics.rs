//! What the store reports to `/metrics`: handles the writer thread and the engine loop
//! increment directly (metrics handles are cheap, thread-safe atomics).

use metrics::{Counter, Histogram};

/// The store's metric handles.
#[derive(Clone)]
pub struct StoreMetrics {
    /// Records made durable (`veertien_store_writes_total`).
    pub writes: Counter,
    /// Writes refused at once because the store's queue was full
    /// (`veertien_store_write_failures_total{outcome="queue_full"}`).
    pub refused_queue_full: Counter,
    /// Writes SQLite failed: full disk, file locked past the busy timeout, I/O error
    /// (`veertien_store_write_failures_total{outcome="error"}`).
    pub failed: Counter,
    /// Seconds from BEGIN to the end of COMMIT of one group (`veertien_store_commit_seconds`).
    pub commit_seconds: Histogram,
}

impl StoreMetrics {
    /// Handles that count nowhere (tests, and tools that run no exporter).
    pub fn detached() -> Self {
        StoreMetrics {
            writes: Counter::noop(),
            refused_queue_full: Counter::noop(),
            failed: Counter::noop(),
            commit_seconds: Histogram::noop(),
        }
    }
}
