//! Cost of the HTTP API while calls flow: requests/s and latency of
//! `GET /api/calls/{reference}` over keep-alive connections, with callers dialling and
//! hanging up in the background. A measurement, not a pass/fail test:
//! `cargo test --test api_bench -- --ignored --nocapture` (add `--release` for figures
//! comparable with the SIP load tests).

mod api_support;

use api_support::{start, Caller, READ_TOKEN};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLIENTS: usize = 4;
const MEASURE: Duration = Duration::from_secs(10);
/// Calls kept waiting at once by the background callers (the test RTP range holds 20).
const CALLS_IN_FLIGHT: usize = 10;

/// One GET over a kept-alive connection; returns the status and body.
async fn get(stream: &mut BufReader<TcpStream>, path: &str) -> (u16, Vec<u8>) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {READ_TOKEN}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await.expect("write");
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.expect("status line");
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).await.expect("header");
        if header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    stream.read_exact(&mut body).await.expect("body");
    (status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body)
}

/// References of the calls in progress, read over `stream`.
async fn current_references(stream: &mut BufReader<TcpStream>) -> Vec<String> {
    let (_, body) = get(stream, "/api/calls").await;
    let calls: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    calls
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|call| call["reference"].as_str().map(str::to_owned))
        .collect()
}

/// Lookups between two refreshes of the reference list (calls come and go meanwhile).
const REFRESH_EVERY: usize = 100;

/// Keeps `CALLS_IN_FLIGHT` callers waiting, replacing each after a short stay.
async fn keep_calls_flowing(sip: SocketAddr, running: Arc<AtomicBool>, placed: Arc<AtomicU64>) {
    let mut serial = 0u64;
    let mut waiting = std::collections::VecDeque::new();
    while running.load(Ordering::Relaxed) {
        serial += 1;
        waiting.push_back(Caller::dial(sip, &format!("bench-{serial}")).await);
        placed.fetch_add(1, Ordering::Relaxed);
        if waiting.len() > CALLS_IN_FLIGHT {
            if let Some(caller) = waiting.pop_front() {
                caller.hang_up().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for caller in waiting {
        caller.hang_up().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn call_lookup_by_reference_while_calls_flow() {
    let daemon = start(33000).await;
    let running = Arc::new(AtomicBool::new(true));
    let placed = Arc::new(AtomicU64::new(0));
    let callers = tokio::spawn(keep_calls_flowing(daemon.sip, running.clone(), placed.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let http = daemon.http;
        clients.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let mut statuses = [0u64; 2];
            let mut stream = BufReader::new(TcpStream::connect(http).await.expect("connect"));
            let mut references = current_references(&mut stream).await;
            assert!(!references.is_empty(), "calls are flowing");
            let mut index = client;
            while started.elapsed() < MEASURE {
                if index % REFRESH_EVERY == 0 || references.is_empty() {
                    references = current_references(&mut stream).await;
                    if references.is_empty() {
                        continue;
                    }
                }
                let path = format!("/api/calls/{}", references[index % references.len()]);
                index += 1;
                let sent = Instant::now();
                let (status, _) = get(&mut stream, &path).await;
                latencies.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX)).expect("record");
                statuses[usize::from(status != 200)] += 1;
            }
            (latencies, statuses)
        }));
    }
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    let mut statuses = [0u64; 2];
    for client in clients {
        let (client_latencies, client_statuses) = client.await.expect("client");
        latencies.add(client_latencies).expect("merge");
        statuses[0] += client_statuses[0];
        statuses[1] += client_statuses[1];
    }
    let elapsed = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let _ = callers.await;

    println!(
        "GET /api/calls/{{reference}}: {CLIENTS} keep-alive clients for {:.1} s: {:.0} requests/s, \
         p50 {} µs, p90 {} µs, p99 {} µs, max {} µs; {} answered 200, {} other (404 once a call ended); \
         {} calls placed meanwhile",
        elapsed,
        latencies.len() as f64 / elapsed,
        latencies.value_at_quantile(0.5),
        latencies.value_at_quantile(0.9),
        latencies.value_at_quantile(0.99),
        latencies.max(),
        statuses[0],
        statuses[1],
        placed.load(Ordering::Relaxed),
    );
    daemon.stop().await;
}
