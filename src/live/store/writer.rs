//! The store's writer: one thread owns the only writing connection and makes records
//! durable in group commits; the engine loop hands it records over a bounded channel and
//! gets answers back over a tokio channel, so the engine task never waits on the disk.
//!
//! Group commit: the thread takes everything waiting (up to [`MAX_GROUP_RECORDS`]),
//! writes it in one transaction and answers every ticket of the group only after COMMIT
//! returned (with `synchronous=FULL`, after the fsync). Each record is written under its
//! own savepoint, so one bad record fails alone and the rest of the group still commits.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self as std_mpsc, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;

use super::connection::open_for_writing;
use super::error::StoreError;
use super::meta::caller_hash_key;
use super::reader::recent_references;
use super::rows::upsert_call;
use super::schema::migrate;
use super::store_metrics::StoreMetrics;
use crate::acd::reference::DEFAULT_UNIQUENESS_WINDOW;
use crate::core::time::Now;
use crate::engine::{IssuedReference, Input, PersistTicket, Record};

/// Records waiting for the writer thread. At the bound (the disk has been slower than
/// arrivals for a while: about a second of peak traffic waits here), a new write is not
/// queued: the engine gets `PersistFailed` at once and the refusal is counted, so the
/// engine task never blocks and memory stays bounded.
pub const STORE_QUEUE_BOUND: usize = 1024;

/// Most records one transaction writes, so one commit (and the wait for its answers)
/// stays short however far behind the writer is.
pub const MAX_GROUP_RECORDS: usize = 256;

/// Answers waiting for the engine loop. Every answer belongs to a record that was
/// accepted into the queue, so at most the queue plus one group is ever outstanding;
/// should the engine loop fall behind anyway, the writer thread waits (never the engine).
const ANSWER_QUEUE_BOUND: usize = STORE_QUEUE_BOUND + MAX_GROUP_RECORDS;

/// The reason given to the engine when the queue is full.
const QUEUE_FULL_REASON: &str = "store queue full";

/// The store's answer to one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAnswer {
    /// The record is durable.
    Persisted(PersistTicket),
    /// The record was not written.
    Failed { ticket: PersistTicket, reason: String },
}

impl StoreAnswer {
    /// The engine input for this answer at `now`.
    pub fn into_input(self, now: Now) -> Input {
        match self {
            StoreAnswer::Persisted(ticket) => Input::Persisted { now, ticket },
            StoreAnswer::Failed { ticket, reason } => Input::PersistFailed { now, ticket, reason },
        }
    }
}

/// One record for the writer thread.
struct WriteRequest {
    ticket: PersistTicket,
    record: Record,
}

/// What opening the store gives the daemon.
pub struct OpenedStore {
    /// The engine loop's side of the writer.
    pub writer: StoreWriter,
    /// The key of caller hashes, stable across restarts.
    pub caller_hash_key: [u8; 32],
    /// The last [`DEFAULT_UNIQUENESS_WINDOW`] references of every tenant, for `Input::Restored`.
    pub recent_references: Vec<IssuedReference>,
}

/// The engine loop's handle on the writer thread; owns the thread.
pub struct StoreWriter {
    requests: Option<SyncSender<WriteRequest>>,
    answers: mpsc::Receiver<StoreAnswer>,
    /// Refusals (queue full) not yet given to the engine; one per refused output, so
    /// bounded by what the engine emitted in one step.
    refused: VecDeque<StoreAnswer>,
    thread: Option<JoinHandle<()>>,
    metrics: StoreMetrics,
}

impl StoreWriter {
    /// Opens (creating and migrating) the store at `path`, reads its key and recent
    /// references, and starts the writer thread.
    pub fn open(path: &Path, metrics: StoreMetrics) -> Result<OpenedStore, StoreError> {
        Self::open_with_bound(path, STORE_QUEUE_BOUND, metrics)
    }

    pub(super) fn open_with_bound(path: &Path, queue_bound: usize, metrics: StoreMetrics) -> Result<OpenedStore, StoreError> {
        let mut connection = open_for_writing(path)?;
        migrate(&mut connection, path)?;
        let key = caller_hash_key(&connection, path)?;
        let recent = recent_references(&connection, path, DEFAULT_UNIQUENESS_WINDOW)?;
        let (requests, queued) = std_mpsc::sync_channel(queue_bound);
        let (answer, answers) = mpsc::channel(ANSWER_QUEUE_BOUND);
        let thread_metrics = metrics.clone();
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("veertien-store".into())
            .spawn(move || write_loop(connection, thread_path, queued, answer, thread_metrics))
            .map_err(|error| StoreError::Open { path: path.to_path_buf(), reason: format!("cannot start the writer thread: {error}") })?;
        let writer = StoreWriter { requests: Some(requests), answers, refused: VecDeque::new(), thread: Some(thread), metrics };
        Ok(OpenedStore { writer, caller_hash_key: key, recent_references: recent })
    }

    /// Queues `record`; never blocks. A full queue (or a writer thread that is gone)
    /// answers `PersistFailed` through [`Self::next_answer`] at once.
    pub fn persist(&mut self, ticket: PersistTicket, record: Record) {
        let Some(requests) = &self.requests else {
            self.refuse(ticket, "store closed");
            return;
        };
        match requests.try_send(WriteRequest { ticket, record }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.metrics.refused_queue_full.increment(1);
                tracing::warn!(ticket = ticket.0, bound = STORE_QUEUE_BOUND, "store queue full; record not written");
                self.refuse(ticket, QUEUE_FULL_REASON);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.failed.increment(1);
                tracing::error!(ticket = ticket.0, "store writer thread is gone; record not written");
                self.refuse(ticket, "store writer stopped");
            }
        }
    }

    fn refuse(&mut self, ticket: PersistTicket, reason: &str) {
        self.refused.push_back(StoreAnswer::Failed { ticket, reason: reason.to_owned() });
    }

    /// The next answer: a refusal at once, else the writer's next. Pending forever once
    /// the writer has stopped and everything was answered (a `select!` branch that sleeps).
    pub async fn next_answer(&mut self) -> StoreAnswer {
        if let Some(refused) = self.refused.pop_front() {
            return refused;
        }
        match self.answers.recv().await {
            Some(answer) => answer,
            None => std::future::pending().await,
        }
    }

    /// Stops taking records and waits until the thread has written everything queued.
    /// Answers still unread are dropped (the records are durable; the engine is gone).
    pub fn finish(self) {
        let StoreWriter { requests, answers, thread, .. } = self;
        drop(requests);
        // Dropping the receiver lets a writer blocked on a full answer queue go on.
        drop(answers);
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

/// The writer thread: until every sender is gone and the queue is empty, write groups.
fn write_loop(
    mut connection: Connection,
    path: PathBuf,
    queued: Receiver<WriteRequest>,
    answers: mpsc::Sender<StoreAnswer>,
    metrics: StoreMetrics,
) {
    let mut group = Vec::with_capacity(MAX_GROUP_RECORDS);
    let mut engine_gone = false;
    while let Ok(first) = queued.recv() {
        group.push(first);
        while group.len() < MAX_GROUP_RECORDS {
            match queued.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let results = write_group(&mut connection, &group, &metrics);
        for (request, result) in group.drain(..).zip(results) {
            let answer = match result {
                Ok(()) => StoreAnswer::Persisted(request.ticket),
                Err(reason) => {
                    tracing::warn!(ticket = request.ticket.0, reference = request.record.reference(), store = %path.display(), %reason, "store write failed");
                    StoreAnswer::Failed { ticket: request.ticket, reason }
                }
            };
            if !engine_gone && answers.blocking_send(answer).is_err() {
                // Shutting down: the engine loop has ended; keep writing what is queued.
                engine_gone = true;
            }
        }
    }
}

/// Writes `group` in one transaction; one result per request, final only after COMMIT.
fn write_group(connection: &mut Connection, group: &[WriteRequest], metrics: &StoreMetrics) -> Vec<Result<(), String>> {
    let started = std::time::Instant::now();
    let results = match try_write_group(connection, group) {
        Ok(results) => results,
        Err(error) => {
            let reason = error.to_string();
            group.iter().map(|_| Err(reason.clone())).collect()
        }
    };
    metrics.commit_seconds.record(started.elapsed().as_secs_f64());
    let written = results.iter().filter(|result| result.is_ok()).count() as u64;
    metrics.writes.increment(written);
    metrics.failed.increment(results.len() as u64 - written);
    results
}

fn try_write_group(connection: &mut Connection, group: &[WriteRequest]) -> rusqlite::Result<Vec<Result<(), String>>> {
    let mut transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        let savepoint = transaction.savepoint()?;
        let written = match &request.record {
            Record::Call(call) => upsert_call(&savepoint, call),
        };
        // A failed record's savepoint rolls back when dropped; the others stay.
        results.push(match written.and_then(|()| savepoint.commit()) {
            Ok(()) => Ok(()),
            Err(error) => Err(error.to_string()),
        });
    }
    transaction.commit()?;
    Ok(results)
}
