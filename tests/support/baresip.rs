//! baresip (Debian's 1.0 package) as a scripted SIP phone: its own config directory, no
//! registration, no sound card, driven over its `ctrl_tcp` JSON control socket.
//!
//! The control socket speaks netstrings (`LEN:JSON,`) both ways: we send commands
//! (`dial`, `hangup`, `quit`) and read baresip's events (`CALL_ESTABLISHED`, `CALL_CLOSED`).
//! `dial` and `hangup` come from the `menu` module, so it is loaded too.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{require_tool, tail, ScratchDir};

/// Where Debian's package installs baresip's modules.
const MODULE_PATH: &str = "/usr/lib/baresip/modules";

/// baresip quits by itself after this long, whatever the test does (`-t`).
const SELF_QUIT_S: u32 = 60;

/// How long baresip may take to open its control socket.
const CONTROL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long baresip may take to exit after `quit` before it is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running baresip with one local account (`sip:veertien-test@127.0.0.1`, no
/// registration) whose audio is a loop-back bridge instead of a sound card.
pub struct Baresip {
    child: Child,
    control: TcpStream,
    received: Vec<u8>,
    messages: Vec<String>,
    stdout_path: PathBuf,
    exit_status: Option<ExitStatus>,
    _scratch: ScratchDir,
}

impl Baresip {
    /// Writes a private config directory and starts baresip on 127.0.0.1; panics (failing
    /// the test) if its control socket does not open.
    pub fn start() -> Baresip {
        Baresip::start_with_config("")
    }

    /// Like [`Baresip::start`], with `extra_config` lines appended to the config file
    /// (e.g. more modules).
    pub fn start_with_config(extra_config: &str) -> Baresip {
        Baresip::start_with_account("<sip:veertien-test@127.0.0.1>;regint=0", extra_config)
    }

    /// Like [`Baresip::start_with_config`], with `account` as the one line of its
    /// `accounts` file (e.g. a registering agent with `auth_pass` and `answermode=auto`).
    pub fn start_with_account(account: &str, extra_config: &str) -> Baresip {
        let baresip = require_tool("baresip");
        assert!(
            PathBuf::from(MODULE_PATH).join("ctrl_tcp.so").is_file(),
            "baresip's modules are not in {MODULE_PATH}: run tests/run, which installs them"
        );
        let scratch = ScratchDir::new("baresip");
        let control_port = free_tcp_port();
        std::fs::write(scratch.path().join("config"), config_file(control_port) + extra_config)
            .expect("scratch dir is writable");
        std::fs::write(scratch.path().join("accounts"), format!("{account}\n"))
            .expect("scratch dir is writable");
        let stdout_path = scratch.path().join("stdout.log");

        let child = Command::new(baresip)
            .arg("-f")
            .arg(scratch.path())
            .args(["-t", &SELF_QUIT_S.to_string()])
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("scratch dir is writable"))
            // stderr only carries a per-second audio status line; discard it.
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start baresip: {error}"));

        let mut child = child;
        let control = match connect_with_retry(control_port, &mut child) {
            Some(control) => control,
            None => {
                let output = std::fs::read_to_string(&stdout_path).unwrap_or_default();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "baresip did not open its control socket on 127.0.0.1:{control_port}\n\
                     --- baresip output ---\n{output}"
                );
            }
        };
        control
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout can be set on a connected socket");
        Baresip {
            child,
            control,
            received: Vec::new(),
            messages: Vec::new(),
            stdout_path,
            exit_status: None,
            _scratch: scratch,
        }
    }

    /// Places a call to `uri` (e.g. `sip:14036@127.0.0.1:5060`).
    pub fn dial(&mut self, uri: &str) {
        self.send_command("dial", uri);
    }

    /// Sends DTMF `digits` in the current call (RFC 4733, the menu's `sndcode`).
    pub fn send_digits(&mut self, digits: &str) {
        self.send_command("sndcode", digits);
    }

    /// Blind-transfers the current call to `uri` (REFER, the menu's `transfer`).
    pub fn transfer(&mut self, uri: &str) {
        self.send_command("transfer", uri);
    }

    /// Hangs up the current call.
    pub fn hangup(&mut self) {
        self.send_command("hangup", "");
    }

    /// Waits for an event of `event_type` (e.g. `CALL_ESTABLISHED`) and returns its JSON
    /// text, or `None` after `timeout`.
    pub fn wait_for_event(&mut self, event_type: &str, timeout: Duration) -> Option<String> {
        let needle = format!("\"type\":\"{event_type}\"");
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .messages
                .iter()
                .find(|message| message.contains("\"event\":true") && message.contains(&needle));
            if let Some(found) = found {
                return Some(found.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.read_control();
        }
    }

    /// Every control message (events and command responses) received so far.
    pub fn control_messages(&self) -> &[String] {
        &self.messages
    }

    /// What baresip printed on stdout so far (its human-readable log).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// A failure report: baresip's control messages and the end of its output.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- baresip control messages ---\n{}\n--- baresip output ---\n{}",
            self.messages.join("\n"),
            tail(&self.output(), 4000)
        )
    }

    /// Asks baresip to quit, kills it if it has not exited within 5 s; idempotent.
    pub fn quit(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_some() {
            return self.exit_status;
        }
        self.send_command("quit", "");
        let deadline = Instant::now() + QUIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit_status = Some(status);
                return self.exit_status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.exit_status = self.child.wait().ok();
        self.exit_status
    }

    fn send_command(&mut self, command: &str, params: &str) {
        let json = format!(
            "{{\"command\":\"{}\",\"params\":\"{}\",\"token\":\"{}\"}}",
            json_escape(command),
            json_escape(params),
            json_escape(command)
        );
        let netstring = format!("{}:{},", json.len(), json);
        // A dead baresip shows up as a missing event; the test reports that.
        let _ = self.control.write_all(netstring.as_bytes());
    }

    /// Reads what is available (up to the socket's 100 ms timeout) and splits netstrings.
    fn read_control(&mut self) {
        let mut chunk = [0_u8; 4096];
        match self.control.read(&mut chunk) {
            Ok(0) => std::thread::sleep(Duration::from_millis(50)),
            Ok(n) => self.received.extend_from_slice(&chunk[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
        while let Some((message, consumed)) = split_netstring(&self.received) {
            self.messages.push(message);
            self.received.drain(..consumed);
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.quit();
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
    }
}

/// baresip's configuration: SIP on loopback only, G.711 only (what the daemon offers),
/// audio through the `aubridge` loop (no sound card), control over `ctrl_tcp`.
fn config_file(control_port: u16) -> String {
    format!(
        "poll_method epoll\n\
         sip_listen 127.0.0.1:0\n\
         net_interface 127.0.0.1\n\
         call_local_timeout 30\n\
         call_max_calls 4\n\
         audio_player aubridge,veertien\n\
         audio_source aubridge,veertien\n\
         audio_alert aubridge,veertien\n\
         module_path {MODULE_PATH}\n\
         module g711.so\n\
         module aubridge.so\n\
         module account.so\n\
         module_app menu.so\n\
         module_app ctrl_tcp.so\n\
         ctrl_tcp_listen 127.0.0.1:{control_port}\n"
    )
}

/// Splits one complete netstring `LEN:DATA,` off the front of `buffer`.
fn split_netstring(buffer: &[u8]) -> Option<(String, usize)> {
    let colon = buffer.iter().position(|&byte| byte == b':')?;
    let length: usize = std::str::from_utf8(&buffer[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + length;
    if buffer.len() <= end {
        return None;
    }
    let data = String::from_utf8_lossy(&buffer[colon + 1..end]).into_owned();
    Some((data, end + 1))
}

fn json_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A TCP port that was free a moment ago (baresip needs a fixed control port).
fn free_tcp_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback can bind port 0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Connects to baresip's control socket; gives up early if baresip has exited.
fn connect_with_retry(port: u16, baresip: &mut Child) -> Option<TcpStream> {
    let deadline = Instant::now() + CONTROL_CONNECT_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            return Some(stream);
        }
        if !matches!(baresip.try_wait(), Ok(None)) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_netstrings_only() {
        let buffer = b"5:hello,3:ab";
        let (first, consumed) = split_netstring(buffer).unwrap();
        assert_eq!(first, "hello");
        assert_eq!(consumed, 8);
        assert_eq!(split_netstring(&buffer[consumed..]), None);
    }
}
