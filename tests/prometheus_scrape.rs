//! A real Prometheus scrapes an in-process daemon every second while a caller is answered
//! by an agent's phone and another abandons after 5.5 s; PromQL over Prometheus' HTTP API
//! then returns the service level the definition gives: 1 within target / (1 answered +
//! 1 counted abandon) = 0.5; `promtool check metrics` accepts the exposition. Skipped (with a note) where no `prometheus` binary exists.

mod api_support;

use api_support::{sample, start, AgentPhone, Caller};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Kills and reaps the Prometheus process however the test ends.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_binary(name: &str) -> Option<String> {
    let output = Command::new("which").arg(name).output().ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !path.is_empty()).then_some(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn start_prometheus(binary: &str, target: SocketAddr) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("veertien-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).expect("temp dir");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: veertien\n    \
         static_configs:\n      - targets: [\"{target}\"]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    Prometheus { child, addr, dir }
}

/// What `promtool check metrics` says about an exposition (empty when it is clean).
fn promtool_lint(promtool: &str, metrics: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child.stdin.take().expect("stdin").write_all(metrics.as_bytes()).expect("write metrics");
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { String::new() } else { said }
}

/// The single value of an instant PromQL query, or `None` (no data yet, or not up).
async fn query(prometheus: SocketAddr, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"_.-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let mut stream = tokio::net::TcpStream::connect(prometheus).await.ok()?;
    let request = format!("GET /api/v1/query?query={encoded} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await.ok()?.ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_computes_the_service_level_we_expect() {
    let Some(binary) = find_binary("prometheus") else {
        eprintln!("no prometheus binary; skipping (tests/run installs it)");
        return;
    };
    let test_deadline = tokio::time::Instant::now() + Duration::from_secs(55);
    let daemon = start(32200).await;
    let prometheus = start_prometheus(&binary, daemon.http);

    let phone = AgentPhone::register(daemon.sip).await;
    let answered = Caller::dial(daemon.sip, "prom-1").await;
    phone.answer().await;
    let abandoning = Caller::dial(daemon.sip, "prom-2").await;
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    abandoning.hang_up().await;
    answered.hang_up().await;
    phone.answer_byes(Duration::from_millis(300)).await;

    let metrics = daemon.metrics().await;
    let series = "veertien_service_level_ratio{queue=\"algemeen\",tenant=\"proef\",window=\"15m\"}";
    assert_eq!(sample(&metrics, series), Some(0.5), "{metrics}");
    if let Some(promtool) = find_binary("promtool") {
        assert_eq!(promtool_lint(&promtool, &metrics), "", "promtool check metrics finds nothing to complain about");
    }

    let promql = "veertien_service_level_ratio{tenant=\"proef\",queue=\"algemeen\",window=\"15m\"}";
    let mut seen = None;
    while tokio::time::Instant::now() < test_deadline {
        seen = query(prometheus.addr, promql).await;
        if seen == Some(0.5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(seen, Some(0.5), "Prometheus' view of the 15-minute service level");
    let answered_total = query(prometheus.addr, "sum(veertien_calls_answered_total)").await;
    assert_eq!(answered_total, Some(1.0));
    drop(prometheus);
    daemon.stop().await;
}
