//! An in-process daemon for the tests that drive the live tokio driver over real
//! 127.0.0.1 sockets: one place that knows how to start and stop it, so the UDP, media and
//! API tests cannot drift apart.
//!
//! The daemon runs on the given configuration file with port-0 listeners, the always-open
//! test tenant (`tests/data/dialplans`), the shipped prompts, a 1 s drain and a private RTP
//! range: the tests of one binary run in parallel, so each test names its own range.
//! `extra` settings (`VEERTIEN_*` names, as the environment would give them) override any
//! of it.

#![allow(dead_code)] // each test crate uses part of this module

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use veertien::live::{self, Listeners, LiveError};

/// A daemon running as a task of the test's runtime.
pub struct InProcessDaemon {
    /// Where it takes SIP over UDP.
    pub sip: SocketAddr,
    /// Where it serves HTTP (API, `/metrics`, `/health`).
    pub http: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// The daemon's task: ends after `shutdown` and the drain, or at once when start-up fails.
    pub task: JoinHandle<Result<(), LiveError>>,
}

/// The shipped configuration file.
pub fn shipped_config() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/veertien.toml")
}

/// Starts the daemon on `config_path` with RTP ports `rtp_port_min ..= rtp_port_min +
/// rtp_port_count` and the `extra` settings.
pub async fn start(config_path: &Path, rtp_port_min: u16, rtp_port_count: u16, extra: &[(&str, &str)]) -> InProcessDaemon {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut env = vec![
        ("VEERTIEN_SIP__LISTEN".to_string(), "127.0.0.1:0".to_string()),
        ("VEERTIEN_HTTP__LISTEN".to_string(), "127.0.0.1:0".to_string()),
        ("VEERTIEN_RTP__PORT_MIN".to_string(), rtp_port_min.to_string()),
        ("VEERTIEN_RTP__PORT_MAX".to_string(), (rtp_port_min + rtp_port_count).to_string()),
        ("VEERTIEN_RTP__PROMPT_DIRECTORY".to_string(), root.join("config/prompts/nl").display().to_string()),
        ("VEERTIEN_SHUTDOWN__DRAIN_S".to_string(), "1".to_string()),
        ("VEERTIEN_DIALPLAN__DIRECTORY".to_string(), root.join("tests/data/dialplans").display().to_string()),
        // A store of its own per daemon (tests of one binary run in parallel), never the
        // repository's data/ directory.
        ("VEERTIEN_STORE__PATH".to_string(), private_store_path(rtp_port_min).display().to_string()),
    ];
    // A leftover of an earlier process with the same pid is stale.
    if let Some(dir) = private_store_path(rtp_port_min).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    env.extend(extra.iter().map(|(key, value)| (key.to_string(), value.to_string())));
    let settings = veertien::config::load_with_env(config_path, env).expect("config loads");
    let plan = veertien::dialplan::load_dir(&settings.dialplan.directory).expect("dial plans load");
    let listeners = Listeners::bind(settings.sip.listen, settings.http.listen).await.expect("bind");
    let sip = listeners.sip_addr().expect("sip addr");
    let http = listeners.http_addr().expect("http addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(live::run(settings, plan, listeners, async {
        let _ = stopped.await;
    }));
    InProcessDaemon { sip, http, stop: Some(stop), task }
}

/// A fresh store file for the daemon whose RTP range starts at `rtp_port_min` (unique per
/// daemon of one test binary) in this process.
pub fn private_store_path(rtp_port_min: u16) -> std::path::PathBuf {
    std::env::temp_dir()
        // Words between the numbers: two numbers joined by a dash read as a phone number
        // to the privacy test, which checks the daemon's log lines (this path is one).
        .join(format!("veertien-in-process-store-pid{}-rtp{rtp_port_min}", std::process::id()))
        .join("veertien.sqlite3")
}

impl InProcessDaemon {
    /// Asks for a graceful shutdown (new calls refused, drain, BYE); does not wait.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits up to `wait` for the task to end after `shutdown`; panics when it does not
    /// end in time, panicked or returned an error.
    pub async fn stopped_within(&mut self, wait: Duration) {
        tokio::time::timeout(wait, &mut self.task)
            .await
            .expect("the daemon stops in time")
            .expect("the daemon task does not panic")
            .expect("the daemon ends without an error");
    }

    /// `GET path` over a plain HTTP/1.1 connection; returns the body.
    pub async fn get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.http).await.expect("http connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("http write");
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
            .await
            .expect("http answer in time")
            .expect("http read");
        response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
    }

    /// A media counter from `/health` (`media.NAME`).
    pub async fn media_counter(&self, name: &str) -> u64 {
        let health: serde_json::Value = serde_json::from_str(&self.get("/health").await).expect("health is JSON");
        health["media"][name].as_u64().unwrap_or_else(|| panic!("no media.{name} in {health}"))
    }

    /// Polls a media counter until it reaches `at_least` or `wait` passes; returns it.
    pub async fn wait_for_counter(&self, name: &str, at_least: u64, wait: Duration) -> u64 {
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            let value = self.media_counter(name).await;
            if value >= at_least || tokio::time::Instant::now() >= give_up {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends SIP text written with `\n` line ends (turned into CRLF) as one datagram.
pub async fn send(socket: &UdpSocket, to: SocketAddr, text: &str) {
    socket.send_to(text.replace('\n', "\r\n").as_bytes(), to).await.expect("send");
}

/// The next datagram as text, or `None` after `wait`.
pub async fn receive(socket: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await.ok()?.ok()?;
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// The `m=audio` port of the SDP in `message`.
pub fn sdp_audio_port(message: &str) -> Option<u16> {
    message.lines().find_map(|line| line.strip_prefix("m=audio "))?.split(' ').next()?.parse().ok()
}
