//! Store benchmark (ignored by default; prints figures, asserts no timings): durable call
//! records per second of the SQLite store (`live::store`: WAL, `synchronous=FULL`, one
//! writer thread with group commit), fed through its public API as the daemon feeds it
//! (`StoreWriter::persist`, answers from `StoreWriter::next_answer`), and the latency from
//! `persist` to `Persisted` (hdrhistogram). Three loads, each on a fresh store file:
//!
//! 1. serial: one record in flight at a time (every record its own commit and fsync);
//! 2. paced: records submitted at fixed rates, as ended calls arrive in the daemon;
//! 3. saturated: a fixed number of records kept in flight (below the queue bound), so the
//!    writer always finds a full group waiting.
//!
//! Run: `cargo test --release --test store_bench -- --ignored --nocapture`
//!
//! Environment (defaults in brackets):
//!   STORE_BENCH_DIR       directory of the store files [target/store-bench in the repository]
//!   STORE_BENCH_SERIAL    records in the serial load [1000]
//!   STORE_BENCH_RATES     records/s of the paced loads ["200 1000 2000 5000"]
//!   STORE_BENCH_SECONDS   seconds per paced and saturated load [5]
//!   STORE_BENCH_INFLIGHT  records kept in flight in the saturated load [1000]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use support::records::answered_call;
use veertien::engine::{CallRecord, PersistTicket, Record};
use veertien::live::store::{StoreAnswer, StoreMetrics, StoreWriter, STORE_QUEUE_BOUND};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bench_dir() -> PathBuf {
    match std::env::var("STORE_BENCH_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/store-bench"),
    }
}

/// A fresh, empty directory for one load's store file (removed when the load is done).
fn fresh_dir(load: &str) -> PathBuf {
    let dir = bench_dir().join(format!("store-bench-{load}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// An answered call with two agent legs, the shape of most records the daemon writes.
fn record(index: u64) -> CallRecord {
    answered_call(&format!("{:08}", 10_000_000 + index), 1_700_000_000_000 + index as i64 * 1_000)
}

/// What one load did.
struct Outcome {
    submitted: u64,
    persisted: u64,
    refused: u64,
    elapsed: Duration,
    /// persist → Persisted, microseconds.
    latency: Histogram<u64>,
}

/// The writer and the submit times of its tickets.
struct Bench {
    dir: PathBuf,
    writer: StoreWriter,
    submitted_at: Vec<Instant>,
    persisted: u64,
    refused: u64,
    other_failures: Vec<String>,
    latency: Histogram<u64>,
}

impl Bench {
    fn open(load: &str) -> Bench {
        let dir = fresh_dir(load);
        let opened = StoreWriter::open(&dir.join("veertien.sqlite3"), StoreMetrics::detached()).expect("store opens");
        Bench {
            dir,
            writer: opened.writer,
            submitted_at: Vec::new(),
            persisted: 0,
            refused: 0,
            other_failures: Vec::new(),
            latency: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
        }
    }

    fn submit(&mut self) {
        let index = self.submitted_at.len() as u64;
        self.submitted_at.push(Instant::now());
        self.writer.persist(PersistTicket(index), Record::Call(record(index)));
    }

    fn submitted(&self) -> u64 {
        self.submitted_at.len() as u64
    }

    fn answered(&self) -> u64 {
        self.persisted + self.refused + self.other_failures.len() as u64
    }

    fn take(&mut self, answer: StoreAnswer) {
        match answer {
            StoreAnswer::Persisted(ticket) => {
                let waited = self.submitted_at[ticket.0 as usize].elapsed();
                self.latency.saturating_record((waited.as_micros() as u64).max(1));
                self.persisted += 1;
            }
            StoreAnswer::Failed { reason, .. } if reason == "store queue full" => self.refused += 1,
            StoreAnswer::Failed { ticket, reason } => self.other_failures.push(format!("ticket {}: {reason}", ticket.0)),
        }
    }

    fn finish(self, started: Instant) -> Outcome {
        let elapsed = started.elapsed();
        assert!(self.other_failures.is_empty(), "writes failed: {:?}", self.other_failures);
        assert_eq!(self.answered(), self.submitted(), "every record answered");
        let outcome = Outcome {
            submitted: self.submitted(),
            persisted: self.persisted,
            refused: self.refused,
            elapsed,
            latency: self.latency,
        };
        self.writer.finish();
        let _ = std::fs::remove_dir_all(&self.dir);
        outcome
    }
}

/// One record in flight at a time.
async fn serial(records: u64) -> Outcome {
    let mut bench = Bench::open("serial");
    let started = Instant::now();
    for _ in 0..records {
        bench.submit();
        let answer = bench.writer.next_answer().await;
        bench.take(answer);
    }
    bench.finish(started)
}

/// `rate` records/s for `seconds`, on schedule (late submissions catch up at once).
async fn paced(rate: u64, seconds: u64) -> Outcome {
    let mut bench = Bench::open(&format!("paced-{rate}"));
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    while bench.answered() < total {
        let now = Instant::now();
        while bench.submitted() < total && started + interval * bench.submitted() as u32 <= now {
            bench.submit();
        }
        if bench.submitted() < total {
            let next = started + interval * bench.submitted() as u32;
            tokio::select! {
                answer = bench.writer.next_answer() => bench.take(answer),
                _ = tokio::time::sleep_until(next) => {}
            }
        } else {
            let answer = bench.writer.next_answer().await;
            bench.take(answer);
        }
    }
    bench.finish(started)
}

/// `in_flight` records outstanding at all times for `seconds`.
async fn saturated(in_flight: u64, seconds: u64) -> Outcome {
    let mut bench = Bench::open("saturated");
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    while bench.submitted() < in_flight {
        bench.submit();
    }
    while bench.answered() < bench.submitted() {
        let answer = bench.writer.next_answer().await;
        bench.take(answer);
        if Instant::now() < until {
            while bench.submitted() - bench.answered() < in_flight {
                bench.submit();
            }
        }
    }
    bench.finish(started)
}

fn row(load: &str, outcome: &Outcome) {
    let us = |q: f64| outcome.latency.value_at_quantile(q);
    let ms = |v: u64| format!("{:.2}", v as f64 / 1000.0);
    println!(
        "| {load} | {} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {} |",
        outcome.submitted,
        outcome.persisted,
        outcome.refused,
        outcome.elapsed.as_secs_f64(),
        outcome.persisted as f64 / outcome.elapsed.as_secs_f64(),
        ms(us(0.5)),
        ms(us(0.99)),
        ms(us(0.999)),
        ms(outcome.latency.max()),
    );
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn durable_record_writes_per_second() {
    let serial_records = env_number("STORE_BENCH_SERIAL", 1_000);
    let rates: Vec<u64> = env_or("STORE_BENCH_RATES", "200 1000 2000 5000")
        .split_whitespace()
        .map(|rate| rate.parse().expect("STORE_BENCH_RATES: numbers"))
        .collect();
    let seconds = env_number("STORE_BENCH_SECONDS", 5);
    let in_flight = env_number("STORE_BENCH_INFLIGHT", 1_000).min(STORE_QUEUE_BOUND as u64);
    println!("store bench: files under {}", bench_dir().display());
    println!();
    println!("| load | submitted | persisted | refused (queue full) | seconds | records/s | p50 ms | p99 ms | p99.9 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        row("serial, 1 in flight", &serial(serial_records).await);
        for &rate in &rates {
            row(&format!("paced {rate}/s"), &paced(rate, seconds).await);
        }
        row(&format!("saturated, {in_flight} in flight"), &saturated(in_flight, seconds).await);
    });
}
