//! The `veertien` daemon as a child process: started on free ports, stopped on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{repo_root, send_signal, tail};

/// How long the daemon may take to print its ready line (a cold debug build on a busy
/// 2-core machine loads its configuration slowly, but never this slowly).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a SIGTERM'd daemon may take to drain and exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// RTP ports given to each daemon, so daemons of parallel tests do not compete for them.
const RTP_PORTS_PER_DAEMON: u32 = 200;

/// Number of distinct RTP port slots between 20000 and 50000.
const RTP_SLOTS: u32 = 150;

/// The first line the daemon prints on stdout once its sockets are bound.
const READY_PREFIX: &str = "veertien ready ";

/// A running `veertien run` child process with SIP and HTTP on free loopback ports.
///
/// Dropping it sends SIGTERM (graceful shutdown) and, after a bound, SIGKILL. When the
/// test is failing, the daemon's stderr is printed so the failure can be diagnosed.
pub struct Daemon {
    child: Child,
    sip_addr: SocketAddr,
    http_addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
    exit_status: Option<ExitStatus>,
}

impl Daemon {
    /// Starts the daemon from the repository root with the shipped configuration, SIP and
    /// HTTP on `127.0.0.1:0`, a private RTP port range and the dial plans of
    /// [`super::dialplans::always_open`]; `extra_env` is applied last,
    /// so it can override any of these. Panics (failing the test) if the daemon does not
    /// print its ready line within 20 s, showing what it wrote to stderr.
    pub fn start(extra_env: &[(&str, &str)]) -> Daemon {
        let (rtp_port_min, rtp_port_max) = private_rtp_port_range();
        let mut command = Command::new(env!("CARGO_BIN_EXE_veertien"));
        command
            .arg("run")
            .current_dir(repo_root())
            .env("VEERTIEN_SIP__LISTEN", "127.0.0.1:0")
            .env("VEERTIEN_HTTP__LISTEN", "127.0.0.1:0")
            .env("VEERTIEN_RTP__PORT_MIN", rtp_port_min.to_string())
            .env("VEERTIEN_RTP__PORT_MAX", rtp_port_max.to_string())
            // Every tenant open 24/7, so call tests do not depend on the hour CI runs.
            .env("VEERTIEN_DIALPLAN__DIRECTORY", super::dialplans::always_open())
            // A store of its own, never the repository's data/ directory; a test that
            // restarts on one store passes its own VEERTIEN_STORE__PATH in `extra_env`.
            .env("VEERTIEN_STORE__PATH", private_store_path())
            // Plain log lines, so tests can search them for `key=value` fields.
            .env("NO_COLOR", "1")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the veertien binary: {error}"));

        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().expect("stderr was piped");
        let stderr_reader = Some(spawn_stderr_collector(stderr_pipe, Arc::clone(&stderr)));
        let stdout_pipe = child.stdout.take().expect("stdout was piped");
        let stdout_lines = spawn_line_reader(stdout_pipe);

        let mut daemon = Daemon {
            child,
            sip_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            stderr_reader,
            exit_status: None,
        };
        match wait_for_ready_line(&stdout_lines) {
            Ok(ready) => {
                daemon.sip_addr = ready.sip_addr;
                daemon.http_addr = ready.http_addr;
                daemon
            }
            Err(reason) => {
                let exit = match daemon.stop() {
                    Some(status) => format!("; it exited with {status}"),
                    None => String::new(),
                };
                panic!(
                    "veertien did not become ready: {reason}{exit}\n--- daemon stderr ---\n{}",
                    tail(&daemon.stderr_text(), 8000)
                );
            }
        }
    }

    /// The address SIP listens on, for both UDP and TCP.
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// The address of the HTTP API and `/metrics`.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The daemon's process id (for `/proc/PID/status` or signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the daemon has written to stderr (its log) so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .expect("stderr collector never panics")
            .clone()
    }

    /// Waits until the daemon's log contains every one of `needles` on one line, or the
    /// timeout passes; returns that line. Bounded so a missing log line fails a test
    /// instead of hanging it.
    pub fn wait_for_log_line(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.stderr_text();
            let found = log
                .lines()
                .find(|line| needles.iter().all(|needle| line.contains(needle)));
            if let Some(line) = found {
                return Some(line.to_string());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the daemon to exit by itself (after a SIGTERM the test sent
    /// and its drain) and returns how it exited; `None` if it is still running.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.exit_status.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit_status = Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) | Err(_) => break,
            }
        }
        self.exit_status
    }

    /// Stops the daemon gracefully (SIGTERM), kills it if it has not exited within 20 s,
    /// and returns how it exited (`None` if it could not be reaped). Idempotent.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = terminate(&mut self.child);
        }
        if let Some(reader) = self.stderr_reader.take() {
            // The pipe closes when the process exits, so this join is bounded.
            let _ = reader.join();
        }
        self.exit_status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- veertien stderr (pid {}) ---\n{}",
                self.child.id(),
                tail(&self.stderr_text(), 8000)
            );
        }
    }
}

/// The addresses announced on the ready line.
struct ReadyLine {
    sip_addr: SocketAddr,
    http_addr: SocketAddr,
}

/// Parses `veertien ready sip=127.0.0.1:PORT http=127.0.0.1:PORT`.
fn parse_ready_line(line: &str) -> Result<ReadyLine, String> {
    let fields = line
        .strip_prefix(READY_PREFIX)
        .ok_or_else(|| format!("not a ready line: {line:?}"))?;
    let mut sip_addr = None;
    let mut http_addr = None;
    for field in fields.split_whitespace() {
        if let Some(value) = field.strip_prefix("sip=") {
            sip_addr = value.parse::<SocketAddr>().ok();
        } else if let Some(value) = field.strip_prefix("http=") {
            http_addr = value.parse::<SocketAddr>().ok();
        }
    }
    match (sip_addr, http_addr) {
        (Some(sip_addr), Some(http_addr)) => Ok(ReadyLine {
            sip_addr,
            http_addr,
        }),
        _ => Err(format!(
            "ready line without sip= and http= addresses: {line:?}"
        )),
    }
}

fn wait_for_ready_line(lines: &mpsc::Receiver<String>) -> Result<ReadyLine, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining) {
            Ok(line) if line.starts_with(READY_PREFIX) => return parse_ready_line(&line),
            Ok(_other_output) => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("no ready line within {READY_TIMEOUT:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("it closed stdout (exited?) before printing its ready line".into())
            }
        }
    }
}

/// Forwards each stdout line to a channel; keeps draining after the ready line so the
/// daemon never blocks on a full pipe.
fn spawn_line_reader(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            // The receiver is gone once the test stops listening; keep draining anyway.
            let _ = sender.send(line);
        }
    });
    receiver
}

fn spawn_stderr_collector(
    pipe: impl Read + Send + 'static,
    buffer: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = strip_ansi_escapes(&String::from_utf8_lossy(&line));
                    if let Ok(mut buffer) = buffer.lock() {
                        buffer.push_str(&text);
                    }
                }
            }
        }
    })
}

/// Removes terminal colour sequences (`ESC [ ... letter`), should the log writer add them
/// despite `NO_COLOR`.
fn strip_ansi_escapes(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for sequence_char in chars.by_ref() {
                if sequence_char.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The value of the `key=value` field in a log line (up to the next space), if present.
pub fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("{key}=");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(pattern.as_str()))
}

/// SIGTERM, wait up to `STOP_TIMEOUT`, then SIGKILL.
fn terminate(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    send_signal(child.id(), "TERM");
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    child.wait().ok()
}

/// A fresh store file in the temp directory, one per daemon this test process starts.
fn private_store_path() -> std::path::PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("veertien-daemon-store-pid{}-n{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("veertien.sqlite3")
}

/// A slot of RTP ports no other daemon of this test process uses, spread by process id
/// so that test binaries of parallel checkouts on one machine rarely collide either.
fn private_rtp_port_range() -> (u32, u32) {
    static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);
    let slot = (std::process::id() + NEXT_SLOT.fetch_add(1, Ordering::Relaxed)) % RTP_SLOTS;
    let port_min = 20_000 + slot * RTP_PORTS_PER_DAEMON;
    (port_min, port_min + RTP_PORTS_PER_DAEMON - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ready_line() {
        let ready =
            parse_ready_line("veertien ready sip=127.0.0.1:40123 http=127.0.0.1:40124").unwrap();
        assert_eq!(ready.sip_addr, "127.0.0.1:40123".parse().unwrap());
        assert_eq!(ready.http_addr, "127.0.0.1:40124".parse().unwrap());
    }

    #[test]
    fn strips_colour_sequences() {
        let coloured =
            "\u{1b}[32m INFO\u{1b}[0m call ended \u{1b}[3mcall\u{1b}[0m\u{1b}[2m=\u{1b}[0mc7";
        assert_eq!(strip_ansi_escapes(coloured), " INFO call ended call=c7");
    }

    #[test]
    fn finds_a_field_of_a_log_line() {
        let line =
            "INFO veertien::engine: call ended call=c7 reason=caller_hung_up duration_ms=1500";
        assert_eq!(log_field(line, "call"), Some("c7"));
        assert_eq!(log_field(line, "reason"), Some("caller_hung_up"));
        assert_eq!(log_field(line, "tenant"), None);
    }

    #[test]
    fn rejects_a_ready_line_without_addresses() {
        assert!(parse_ready_line("veertien ready sip=127.0.0.1:40123").is_err());
        assert!(parse_ready_line("veertien starting").is_err());
    }
}
