//! Privacy: a caller's number (the user part of the INVITE's From) never appears in a log
//! line at debug level, nor in a `/metrics` label, while calls run through the live
//! daemon (queued, answered by an agent, abandoned, and a malformed request).

mod api_support;

use api_support::{start, AgentPhone, Caller, CALLER_NUMBER};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use veertien::core::redact::contains_phone_like_digits;

/// Collects every formatted log line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// `line` without its `reference=1234 5678` fields: reference numbers are logged on
/// purpose (they name a call, not a person) and would look like a phone number.
fn without_references(line: &str) -> String {
    let mut kept = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("reference=") {
        kept.push_str(&rest[..at]);
        let after = &rest[at + "reference=".len()..];
        let value_len = after.char_indices().take(9).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0);
        rest = &after[value_len..];
    }
    kept.push_str(rest);
    kept
}

/// The label part (`{...}`) of every sample line.
fn label_sets(metrics: &str) -> Vec<&str> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| Some(&line[line.find('{')?..=line.rfind('}')?]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_phone_number_in_logs_or_metric_labels() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .without_time()
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let daemon = start(32300).await;
    let phone = AgentPhone::register(daemon.sip).await;
    let answered = Caller::dial(daemon.sip, "privacy-1").await;
    phone.answer().await;
    let abandoning = Caller::dial(daemon.sip, "privacy-2").await;
    abandoning.hang_up().await;
    answered.hang_up().await;
    phone.answer_byes(Duration::from_millis(300)).await;
    // A broken request carrying the number must be refused without echoing it in logs.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("socket");
    let broken = format!("INVITE sip:14010@127.0.0.1 SIP/2.0\r\nFrom: <sip:{CALLER_NUMBER}@x>\r\nBroken header\r\n\r\n");
    socket.send_to(broken.as_bytes(), daemon.sip).await.expect("send");
    let metrics = daemon.metrics().await;
    daemon.stop().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned();
    assert!(logs.lines().count() > 5, "logs were captured: {logs}");
    for line in logs.lines() {
        assert!(!line.contains(CALLER_NUMBER), "phone number in a log line: {line}");
        assert!(!contains_phone_like_digits(&without_references(line)), "phone-like digits in a log line: {line}");
    }
    let labels = label_sets(&metrics);
    assert!(labels.iter().any(|set| set.contains("tenant=\"proef\"")), "{metrics}");
    for set in labels {
        assert!(!contains_phone_like_digits(set), "phone-like digits in a metric label: {set}");
    }
}
