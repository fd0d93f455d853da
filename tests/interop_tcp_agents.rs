//! Agents over TCP end to end with SIPp on loopback, callers over UDP:
//! - a SIPp agent registers on one TCP connection (`-t t1`) and answers a queued caller
//!   over that same connection (the daemon's INVITE carries a new Call-ID, so SIPp runs
//!   it through its out-of-call scenario, `-oocsf`);
//! - an agent whose registration connection is closed before the call is rung over a new
//!   connection the daemon opens to its Contact, where a SIPp UAS listens on TCP.
//!
//! Bounded: one call each, SIPp timeouts, and the daemon's logs read with deadlines.
//! Needs `sipp` (Debian package `sip-tester`); `tests/run` installs it.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::sipp::{Sipp, SippTransport};
use support::{repo_root, require_tool, Daemon, ScratchDir};

/// The test tenant: one queue, no menu (open 24/7 in tests).
const TEST_NUMBER: &str = "14010";

/// A free TCP port on loopback for the agent's phone to listen on.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Waits (bounded) for a background SIPp to exit; kills it at the deadline. Its exit code.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("sipp status") {
            return status.code();
        }
        if Instant::now() > deadline {
            if let Err(error) = child.kill() {
                eprintln!("could not kill sipp: {error}");
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn errors(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One UDP caller, talking for two seconds once answered.
fn one_udp_caller(daemon: &Daemon) {
    Sipp::builtin("uac")
        .service(TEST_NUMBER)
        .calls(1)
        .arg("-d")
        .arg("2000")
        .timeout_s(20)
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(1);
}

#[test]
fn sipp_agent_registered_over_one_tcp_connection_answers_a_queued_udp_caller() {
    let sipp = require_tool("sipp");
    let daemon = Daemon::start(&[]);
    let scratch = ScratchDir::new("tcp-agent");
    let error_file = scratch.path().join("agent_errors.log");
    let mut agent = Command::new(&sipp)
        .current_dir(repo_root())
        .args(["-sf", "tests/sipp/agent_register_tcp.xml", "-oocsf", "tests/sipp/agent_answer.xml"])
        .args(["-t", "t1", "-i", "127.0.0.1", "-p", &free_tcp_port().to_string()])
        .args(["-s", "tessa", "-au", "tessa", "-ap", "demo-tessa"])
        .args(["-m", "1", "-timeout", "30", "-nostdin", "-trace_err"])
        .arg("-error_file")
        .arg(&error_file)
        .arg(daemon.sip_addr().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");
    let registered = daemon.wait_for_log_line(&["agent registered", "agent=tessa"], Duration::from_secs(10));
    assert!(registered.is_some(), "the agent registers over TCP\n{}", errors(&error_file));

    one_udp_caller(&daemon);
    assert!(
        daemon.wait_for_log_line(&["disposition", "outcome=answered"], Duration::from_secs(5)).is_some(),
        "the agent answered over its registration connection (SIPp in t1 mode has no other socket)\n{}",
        errors(&error_file)
    );
    assert!(
        !daemon.stderr_text().contains("opening tcp connection"),
        "no new connection was needed: the registration connection was reused"
    );
    let code = wait_for_exit(&mut agent, Duration::from_secs(20));
    assert_eq!(code, Some(0), "the agent's SIPp stayed registered and ended cleanly\n{}", errors(&error_file));
}

#[test]
fn agent_whose_registration_connection_closed_is_rung_over_a_new_connection_to_its_contact() {
    let sipp = require_tool("sipp");
    let daemon = Daemon::start(&[]);
    let scratch = ScratchDir::new("tcp-agent-reconnect");
    let agent_port = free_tcp_port();
    let error_file = scratch.path().join("agent_errors.log");

    // The phone's UAS listens on TCP at its Contact; it answers one call and takes the BYE.
    let mut agent = Command::new(&sipp)
        .current_dir(repo_root())
        .args(["-sf", "tests/sipp/agent_answer.xml", "-t", "t1", "-i", "127.0.0.1", "-p", &agent_port.to_string()])
        .args(["-m", "1", "-timeout", "30", "-nostdin", "-trace_err"])
        .arg("-error_file")
        .arg(&error_file)
        .arg(daemon.sip_addr().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");

    // It registered over a TCP connection of its own, which closes when that SIPp exits.
    Sipp::scenario_file("agent_register.xml")
        .transport(SippTransport::Tcp)
        .service("tessa")
        .arg("-au")
        .arg("tessa")
        .arg("-ap")
        .arg("demo-tessa")
        .arg("-set")
        .arg("contact_port")
        .arg(&agent_port.to_string())
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(1);
    assert!(daemon.wait_for_log_line(&["agent registered", "agent=tessa"], Duration::from_secs(5)).is_some());
    assert!(
        daemon.wait_for_log_line(&["registration connection closed"], Duration::from_secs(5)).is_some(),
        "the daemon forgets the closed registration connection"
    );

    one_udp_caller(&daemon);
    assert!(
        daemon.wait_for_log_line(&["opening tcp connection"], Duration::from_secs(5)).is_some(),
        "the daemon opens a connection to the agent's Contact"
    );
    assert!(
        daemon.wait_for_log_line(&["disposition", "outcome=answered"], Duration::from_secs(5)).is_some(),
        "the agent answered over the new connection\n{}",
        errors(&error_file)
    );
    let code = wait_for_exit(&mut agent, Duration::from_secs(20));
    assert_eq!(code, Some(0), "the agent's UAS got the INVITE on its TCP port, answered and took the BYE\n{}", errors(&error_file));
}
