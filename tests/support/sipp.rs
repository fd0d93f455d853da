//! Running SIPp against the daemon, bounded in calls and time, and reading its statistics.
//!
//! SIPp's exit code says 0 = every call succeeded, 1 = at least one failed; the cumulative
//! counters of its `-trace_stat` CSV file say how many calls were created, succeeded and
//! failed, which the tests check against the number of calls they asked for.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{repo_root, require_tool, tail, ScratchDir};

/// How long SIPp waits for an expected message before it aborts that call (counted failed).
const RECV_TIMEOUT_MS: u32 = 5_000;

/// Extra wall time after SIPp's own `-timeout` before the test kills it.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// The transport SIPp uses towards the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SippTransport {
    /// UDP, one socket for all calls (`-t u1`).
    Udp,
    /// TCP, one connection for all calls (`-t t1`).
    Tcp,
}

impl SippTransport {
    fn flag(self) -> &'static str {
        match self {
            SippTransport::Udp => "u1",
            SippTransport::Tcp => "t1",
        }
    }
}

enum Scenario {
    /// A scenario built into SIPp (`-sn uac`).
    Builtin(String),
    /// One of our files under `tests/sipp/`.
    File(PathBuf),
}

/// One bounded SIPp run: a scenario, a number of calls at a rate, a global timeout.
pub struct Sipp {
    scenario: Scenario,
    service: Option<String>,
    transport: SippTransport,
    calls: u32,
    rate_cps: u32,
    timeout_s: u32,
    extra_args: Vec<String>,
}

impl Sipp {
    /// A run of SIPp's built-in scenario `name` (e.g. `uac`), 1 call over UDP by default.
    pub fn builtin(name: &str) -> Sipp {
        Sipp::with_scenario(Scenario::Builtin(name.to_string()))
    }

    /// A run of our scenario file `tests/sipp/<file_name>`, 1 call over UDP by default.
    pub fn scenario_file(file_name: &str) -> Sipp {
        let path = repo_root().join("tests").join("sipp").join(file_name);
        assert!(path.is_file(), "no SIPp scenario at {}", path.display());
        Sipp::with_scenario(Scenario::File(path))
    }

    fn with_scenario(scenario: Scenario) -> Sipp {
        Sipp {
            scenario,
            service: None,
            transport: SippTransport::Udp,
            calls: 1,
            rate_cps: 10,
            timeout_s: 25,
            extra_args: Vec::new(),
        }
    }

    /// The user part SIPp dials (`-s`, the `[service]` keyword in scenarios).
    pub fn service(mut self, user_part: &str) -> Sipp {
        self.service = Some(user_part.to_string());
        self
    }

    /// The transport towards the daemon.
    pub fn transport(mut self, transport: SippTransport) -> Sipp {
        self.transport = transport;
        self
    }

    /// How many calls SIPp places before it exits (`-m`).
    pub fn calls(mut self, calls: u32) -> Sipp {
        self.calls = calls;
        self
    }

    /// New calls per second (`-r`).
    pub fn rate_cps(mut self, rate_cps: u32) -> Sipp {
        self.rate_cps = rate_cps;
        self
    }

    /// SIPp's global timeout (`-timeout`); the run is killed shortly after it.
    pub fn timeout_s(mut self, timeout_s: u32) -> Sipp {
        self.timeout_s = timeout_s;
        self
    }

    /// One more raw SIPp argument (e.g. `-d`, `500` for the pause in the built-in uac).
    pub fn arg(mut self, arg: &str) -> Sipp {
        self.extra_args.push(arg.to_string());
        self
    }

    /// Runs SIPp against `target` and returns its report; never blocks longer than the
    /// configured timeout plus a few seconds.
    pub fn run_against(&self, target: SocketAddr) -> SippReport {
        let sipp = require_tool("sipp");
        let scratch = ScratchDir::new("sipp");
        let stats_path = scratch.path().join("stats.csv");
        let errors_path = scratch.path().join("errors.log");
        let messages_path = scratch.path().join("messages.log");
        let screen_path = scratch.path().join("screen.log");
        let stderr_path = scratch.path().join("stderr.log");

        let mut command = Command::new(sipp);
        command.current_dir(scratch.path()).arg(target.to_string());
        match &self.scenario {
            Scenario::Builtin(name) => command.arg("-sn").arg(name),
            Scenario::File(path) => command.arg("-sf").arg(path),
        };
        if let Some(service) = &self.service {
            command.arg("-s").arg(service);
        }
        command
            .args(["-t", self.transport.flag()])
            .args(["-i", &target.ip().to_string()])
            .args(["-m", &self.calls.to_string()])
            .args(["-r", &self.rate_cps.to_string()])
            .args(["-timeout", &format!("{}s", self.timeout_s)])
            .arg("-timeout_error")
            .args(["-recv_timeout", &RECV_TIMEOUT_MS.to_string()])
            .arg("-nostdin")
            .arg("-trace_stat")
            .arg("-stf")
            .arg(&stats_path)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors_path)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&messages_path)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(File::create(&screen_path).expect("scratch dir is writable"))
            .stderr(File::create(&stderr_path).expect("scratch dir is writable"));
        let command_line = format!("{command:?}");

        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start sipp: {error}"));
        let wall_bound = Duration::from_secs(u64::from(self.timeout_s)) + KILL_GRACE;
        let deadline = Instant::now() + wall_bound;
        let mut killed = false;
        let exit_code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) | Err(_) => {
                    killed = true;
                    let _ = child.kill();
                    break child.wait().ok().and_then(|status| status.code());
                }
            }
        };

        let read = |path: &PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        SippReport {
            command_line,
            exit_code,
            killed,
            stats: SippStats::from_csv(&read(&stats_path)),
            errors: read(&errors_path),
            messages: read(&messages_path),
            stderr: read(&stderr_path),
        }
    }
}

/// What one SIPp run did.
pub struct SippReport {
    /// The command that was run, for failure messages.
    pub command_line: String,
    /// SIPp's exit code: 0 all calls succeeded, 1 some failed, others are fatal errors.
    pub exit_code: Option<i32>,
    /// True when SIPp outlived its wall bound and was killed.
    pub killed: bool,
    /// The final cumulative counters, if SIPp wrote its statistics file.
    pub stats: Option<SippStats>,
    /// SIPp's error trace (unexpected messages, timeouts).
    pub errors: String,
    /// Every SIP message SIPp sent and received.
    pub messages: String,
    /// SIPp's own stderr (startup and fatal errors).
    pub stderr: String,
}

impl SippReport {
    /// Fails the test unless SIPp exited 0 with exactly `expected_calls` calls created and
    /// all of them successful; the failure message shows SIPp's errors and message trace.
    pub fn assert_all_calls_succeeded(&self, expected_calls: u64) {
        let verdict = match (&self.stats, self.exit_code) {
            (_, _) if self.killed => Some("sipp was killed after its wall-clock bound".to_string()),
            (None, code) => Some(format!("sipp wrote no statistics (exit code {code:?})")),
            (Some(stats), Some(0))
                if stats.calls_created == expected_calls
                    && stats.successful_calls == expected_calls
                    && stats.failed_calls == 0 =>
            {
                None
            }
            (Some(stats), code) => Some(format!(
                "expected {expected_calls} calls created and successful, 0 failed, exit 0; \
                 got {stats}, exit code {code:?}"
            )),
        };
        if let Some(verdict) = verdict {
            panic!("{verdict}\n{}", self.diagnostics());
        }
    }

    /// The command line, SIPp's stderr, error trace and the end of its message trace.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- command ---\n{}\n--- sipp stderr ---\n{}\n--- sipp errors ---\n{}\n\
             --- last SIP messages ---\n{}",
            self.command_line,
            tail(&self.stderr, 2000),
            tail(&self.errors, 4000),
            tail(&self.messages, 6000)
        )
    }
}

/// SIPp's cumulative call counters at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SippStats {
    /// Calls SIPp started (`TotalCallCreated`).
    pub calls_created: u64,
    /// Calls that reached the end of the scenario (`SuccessfulCall(C)`).
    pub successful_calls: u64,
    /// Calls aborted for any reason (`FailedCall(C)`).
    pub failed_calls: u64,
    /// Messages SIPp had to retransmit (`Retransmissions(C)`).
    pub retransmissions: u64,
    /// Messages that matched no call (`OutOfCallMsgs(C)`).
    pub out_of_call_messages: u64,
}

impl SippStats {
    /// Reads the last row of a `-trace_stat` CSV file (`;`-separated, header first).
    pub fn from_csv(csv: &str) -> Option<SippStats> {
        let mut lines = csv.lines().filter(|line| !line.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last_row: Vec<&str> = lines.next_back()?.split(';').collect();
        let columns: HashMap<&str, &str> = header.into_iter().zip(last_row).collect();
        let counter = |name: &str| columns.get(name)?.trim().parse::<u64>().ok();
        Some(SippStats {
            calls_created: counter("TotalCallCreated")?,
            successful_calls: counter("SuccessfulCall(C)")?,
            failed_calls: counter("FailedCall(C)")?,
            retransmissions: counter("Retransmissions(C)")?,
            out_of_call_messages: counter("OutOfCallMsgs(C)")?,
        })
    }
}

impl fmt::Display for SippStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} successful, {} failed, {} retransmissions, {} out-of-call messages",
            self.calls_created,
            self.successful_calls,
            self.failed_calls,
            self.retransmissions,
            self.out_of_call_messages
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "StartTime;TotalCallCreated;CurrentCall;SuccessfulCall(P);\
                          SuccessfulCall(C);FailedCall(P);FailedCall(C);Retransmissions(C);\
                          OutOfCallMsgs(C);";

    #[test]
    fn reads_the_last_row_of_the_statistics() {
        let csv = format!("{HEADER}\nt0;0;0;0;0;0;0;0;0;\nt1;20;0;5;18;0;2;3;1;\n");
        let stats = SippStats::from_csv(&csv).unwrap();
        assert_eq!(
            stats,
            SippStats {
                calls_created: 20,
                successful_calls: 18,
                failed_calls: 2,
                retransmissions: 3,
                out_of_call_messages: 1,
            }
        );
    }

    #[test]
    fn a_file_without_rows_has_no_statistics() {
        assert_eq!(SippStats::from_csv(HEADER), None);
        assert_eq!(SippStats::from_csv(""), None);
    }
}
