//! RTP relay benchmark (issue 3), ignored by default; run it with
//! `loadtest/relay-bench.sh` (`cargo test --release --test relay_bench -- --ignored --nocapture`).
//!
//! In one process: the media plane on its own two-thread runtime ("relay-plane"), and fake
//! phones on another ("fake-phone"). For each call two legs are opened and bridged
//! directly through [`MediaPlane`] (no SIP); both phones of a call send 20 ms PCMA frames
//! (50 packets/s each way) whose payload starts with the send time, and the receiving
//! phone records the added latency. Phones share a few sockets, but each leg always hears
//! from one source address, which is what symmetric RTP latches. CPU is each runtime's
//! threads' on-CPU time from procfs. Prints a Markdown table.
//!
//! Environment: `RELAY_BENCH_CALLS` (default "500 1000 2000"), `RELAY_BENCH_SECONDS` (10),
//! `RELAY_BENCH_PORT_MIN` (first RTP port, 33000).

use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use veertien::core::ids::{CallId, MediaSessionId};
use veertien::engine::{MediaCommand, MediaFormat};
use veertien::live::media::{MediaCounters, MediaPlane, MediaPlaneConfig, PromptCache};
use veertien::live::LiveClock;
use veertien::media::rtp::{write_rtp, RtpHeader, RtpHeaderView};
use veertien::media::sdp::Codec;

/// Sockets the fake phones share.
const PHONE_SOCKETS: usize = 64;
const FRAME: Duration = Duration::from_millis(20);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// On-CPU seconds of this process's threads whose name starts with `prefix`.
fn thread_cpu_s(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut total_ns = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total_ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total_ns as f64 / 1e9
}

/// The kernel's count of UDP datagrams dropped for full receive buffers (all processes).
fn udp_receive_buffer_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// One leg as the fake phones see it: which phone socket sends for it, and where to.
struct PhoneLeg {
    socket: usize,
    daemon: SocketAddr,
}

struct PhoneTotals {
    sent: AtomicU64,
    send_failed: AtomicU64,
    received: AtomicU64,
}

struct Outcome {
    calls: usize,
    open_failures: usize,
    /// How long the phones sent; the packet rates are over this window.
    seconds: f64,
    sent: u64,
    send_failed: u64,
    received: u64,
    relayed: u64,
    relay_dropped: u64,
    kernel_drops: u64,
    plane_cpu: f64,
    phone_cpu: f64,
    latency: Histogram<u64>,
}

fn run(calls: usize, seconds: u64, port_min: u16) -> Outcome {
    let plane_rt = runtime("relay-plane");
    let phone_rt = runtime("fake-phone");
    let sockets: Vec<Arc<UdpSocket>> = phone_rt.block_on(async {
        let mut sockets = Vec::new();
        for _ in 0..PHONE_SOCKETS {
            sockets.push(Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("phone socket")));
        }
        sockets
    });
    let prompts = Arc::new(PromptCache::default());
    let config = MediaPlaneConfig {
        bind_ip: [127, 0, 0, 1].into(),
        inactivity_timeout: Duration::from_secs(3600),
        prompts,
        // Sessions open on the ports the bench names; the plane binds no spare ports.
        rtp_port_min: 0,
        rtp_port_max: 0,
    };
    let (events, mut events_rx) = mpsc::channel(1024);
    let format = Some(MediaFormat {
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event_pt: Some(101),
    });

    // Open and bridge the legs; a port someone else holds is skipped.
    let (mut plane, legs, open_failures) = plane_rt.block_on(async {
        let mut plane = MediaPlane::new(config, LiveClock::start(), 14, events);
        let mut legs = Vec::new();
        let mut port = port_min;
        let mut open_failures = 0;
        let mut next_id = 0u64;
        for call in 0..calls {
            let mut pair = Vec::new();
            for side in 0..2 {
                let socket = (call * 2 + side) % PHONE_SOCKETS;
                let remote = sockets[socket].local_addr().ok();
                loop {
                    next_id += 1;
                    let session = MediaSessionId(next_id);
                    let open = MediaCommand::Open {
                        session,
                        call: CallId(call as u64),
                        rtp_port: port,
                        remote,
                        format,
                    };
                    plane.handle(open).await;
                    port = port.checked_add(2).expect("port range fits below 65535");
                    if let Some(daemon) = plane.rtp_addr(session) {
                        pair.push((session, PhoneLeg { socket, daemon }));
                        break;
                    }
                    open_failures += 1;
                }
            }
            let b = pair.pop().expect("two legs");
            let a = pair.pop().expect("two legs");
            plane.handle(MediaCommand::Bridge { a: a.0, b: b.0 }).await;
            legs.push(a);
            legs.push(b);
        }
        while events_rx.try_recv().is_ok() {}
        (plane, legs, open_failures)
    });
    let counters = plane.counters();

    let epoch = Instant::now();
    let totals = Arc::new(PhoneTotals {
        sent: AtomicU64::new(0),
        send_failed: AtomicU64::new(0),
        received: AtomicU64::new(0),
    });
    let sending = Arc::new(AtomicBool::new(true));
    let receiving = Arc::new(AtomicBool::new(true));
    let daemon_addrs: Vec<Vec<SocketAddr>> = (0..PHONE_SOCKETS)
        .map(|socket| {
            legs.iter()
                .filter(|(_, leg)| leg.socket == socket)
                .map(|(_, leg)| leg.daemon)
                .collect()
        })
        .collect();

    let before = (
        thread_cpu_s("relay-plane"),
        thread_cpu_s("fake-phone"),
        udp_receive_buffer_errors(),
    );
    let relayed_before = MediaCounters::get(&counters.rtp_packets_relayed);
    let dropped_before = MediaCounters::get(&counters.rtp_relay_dropped);
    let started = Instant::now();
    let mut send_window_s = 0.0;
    let latency = phone_rt.block_on(async {
        let mut receivers = Vec::new();
        for socket in &sockets {
            receivers.push(tokio::spawn(receive_loop(
                socket.clone(),
                epoch,
                totals.clone(),
                receiving.clone(),
            )));
        }
        let mut senders = Vec::new();
        for (index, (socket, targets)) in sockets.iter().zip(daemon_addrs).enumerate() {
            // Phones do not all speak on the same millisecond: spread the sockets over the frame.
            let start = tokio::time::Instant::now() + FRAME * index as u32 / PHONE_SOCKETS as u32;
            let sender = send_loop(socket.clone(), targets, start, epoch, totals.clone(), sending.clone());
            senders.push(tokio::spawn(sender));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        sending.store(false, Ordering::Relaxed);
        for sender in senders {
            sender.await.expect("sender ends");
        }
        send_window_s = started.elapsed().as_secs_f64();
        // Let what is in flight arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        receiving.store(false, Ordering::Relaxed);
        let mut latency = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("histogram bounds");
        for receiver in receivers {
            latency
                .add(receiver.await.expect("receiver ends"))
                .expect("same bounds");
        }
        latency
    });
    let elapsed = started.elapsed().as_secs_f64();
    let outcome = Outcome {
        calls,
        open_failures,
        seconds: send_window_s,
        sent: totals.sent.load(Ordering::Relaxed),
        send_failed: totals.send_failed.load(Ordering::Relaxed),
        received: totals.received.load(Ordering::Relaxed),
        relayed: MediaCounters::get(&counters.rtp_packets_relayed) - relayed_before,
        relay_dropped: MediaCounters::get(&counters.rtp_relay_dropped) - dropped_before,
        kernel_drops: udp_receive_buffer_errors().saturating_sub(before.2),
        plane_cpu: (thread_cpu_s("relay-plane") - before.0) / elapsed,
        phone_cpu: (thread_cpu_s("fake-phone") - before.1) / elapsed,
        latency,
    };
    plane_rt.block_on(async {
        for (session, leg) in legs {
            plane
                .handle(MediaCommand::Close {
                    session,
                    rtp_port: leg.daemon.port(),
                })
                .await;
        }
    });
    outcome
}

/// Sends one frame per leg every 20 ms from `start`: sequence and timestamp advance, and the payload
/// starts with the send time in microseconds since `epoch`.
async fn send_loop(
    socket: Arc<UdpSocket>,
    targets: Vec<SocketAddr>,
    start: tokio::time::Instant,
    epoch: Instant,
    totals: Arc<PhoneTotals>,
    sending: Arc<AtomicBool>,
) {
    let mut ticker = tokio::time::interval_at(start, FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = Vec::with_capacity(12 + 160);
    let mut sequence = 0u16;
    let ssrc = socket.local_addr().map(|a| u32::from(a.port())).unwrap_or(1);
    while sending.load(Ordering::Relaxed) {
        ticker.tick().await;
        let (mut sent, mut failed) = (0, 0);
        for target in &targets {
            let mut payload = [0xd5u8; 160];
            let sent_at_us = epoch.elapsed().as_micros() as u64;
            payload[..8].copy_from_slice(&sent_at_us.to_be_bytes());
            packet.clear();
            let header = RtpHeader {
                marker: false,
                payload_type: 8,
                sequence,
                timestamp: u32::from(sequence) * 160,
                ssrc,
            };
            write_rtp(&mut packet, &header, &payload);
            match socket.try_send_to(&packet, *target) {
                Ok(_) => sent += 1,
                Err(_) => failed += 1,
            }
        }
        sequence = sequence.wrapping_add(1);
        totals.sent.fetch_add(sent, Ordering::Relaxed);
        totals.send_failed.fetch_add(failed, Ordering::Relaxed);
    }
}

/// Counts relayed frames and records their latency until `receiving` is cleared.
async fn receive_loop(
    socket: Arc<UdpSocket>,
    epoch: Instant,
    totals: Arc<PhoneTotals>,
    receiving: Arc<AtomicBool>,
) -> Histogram<u64> {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("histogram bounds");
    let mut buf = [0u8; 2048];
    let mut received = 0;
    while receiving.load(Ordering::Relaxed) {
        let Ok(Ok((len, _))) = tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await
        else {
            continue;
        };
        let Ok(view) = RtpHeaderView::parse(&buf[..len]) else {
            continue;
        };
        let Some(stamp) = view.payload().get(..8) else { continue };
        let sent_at_us = u64::from_be_bytes(stamp.try_into().expect("eight bytes"));
        let now_us = epoch.elapsed().as_micros() as u64;
        latency.saturating_record(now_us.saturating_sub(sent_at_us).max(1));
        received += 1;
    }
    totals.received.fetch_add(received, Ordering::Relaxed);
    latency
}

fn row(outcome: &Outcome) -> String {
    let loss = 1.0 - outcome.received as f64 / outcome.sent.max(1) as f64;
    let us = |q: f64| outcome.latency.value_at_quantile(q);
    format!(
        "| {} | {:.0} | {:.0} | {:.3} % | {} | {} | {} | {:.2} | {:.2} | {} / {} / {} / {} |",
        outcome.calls,
        outcome.sent as f64 / outcome.seconds,
        outcome.relayed as f64 / outcome.seconds,
        loss * 100.0,
        outcome.relay_dropped,
        outcome.kernel_drops,
        outcome.send_failed,
        outcome.plane_cpu,
        outcome.phone_cpu,
        us(0.5),
        us(0.99),
        us(0.999),
        outcome.latency.max(),
    )
}

#[test]
#[ignore = "benchmark: run with loadtest/relay-bench.sh"]
fn relay_bench() {
    let calls: Vec<usize> = env_or("RELAY_BENCH_CALLS", "500 1000 2000")
        .split_whitespace()
        .map(|n| n.parse().expect("a number of calls"))
        .collect();
    let seconds: u64 = env_or("RELAY_BENCH_SECONDS", "10").parse().expect("seconds");
    let port_min: u16 = env_or("RELAY_BENCH_PORT_MIN", "33000").parse().expect("a port");
    println!("\n{seconds} s per step, PCMA both legs, 50 packets/s per leg each way\n");
    println!("| bridged calls | sent pkt/s | relayed pkt/s | loss | relay drops | kernel rcvbuf drops | phone send fails | plane CPU (cores) | phones CPU (cores) | latency µs p50 / p99 / p99.9 / max |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for calls in calls {
        let outcome = run(calls, seconds, port_min);
        if outcome.open_failures > 0 {
            println!("<!-- {} ports were taken and skipped -->", outcome.open_failures);
        }
        println!("{}", row(&outcome));
    }
}
