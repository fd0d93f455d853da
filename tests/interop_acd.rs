//! The ACD end to end with real SIPp phones on loopback: an agent's phone registers with
//! digest authentication, SIPp callers dial the test tenant, wait in its queue, are
//! bridged to the agent, and hang up; the daemon tears down the agent's leg.
//!
//! Needs `sipp` (Debian package `sip-tester`); `tests/run` installs it.

mod support;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::sipp::Sipp;
use support::{repo_root, require_tool, Daemon, ScratchDir};

/// The test tenant: one queue, no menu (the daemon opens every tenant 24/7 in tests).
const TEST_NUMBER: &str = "14010";
const CALLS: u32 = 3;

/// A free UDP port on loopback for the agent's phone.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

#[test]
fn sipp_agent_registers_and_answers_queued_sipp_callers() {
    let sipp = require_tool("sipp");
    let daemon = Daemon::start(&[]);
    let agent_port = free_udp_port();
    let scratch = ScratchDir::new("acd-agent");

    // The agent's phone: answers each offered call, then takes the daemon's BYE.
    let mut agent = Command::new(&sipp)
        .current_dir(repo_root())
        .args(["-sf", "tests/sipp/agent_answer.xml", "-i", "127.0.0.1", "-p", &agent_port.to_string()])
        .args(["-m", &CALLS.to_string(), "-timeout", "40", "-nostdin", "-trace_err"])
        .arg("-error_file")
        .arg(scratch.path().join("agent_errors.log"))
        .arg(daemon.sip_addr().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");

    Sipp::scenario_file("agent_register.xml")
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
    assert!(
        daemon.wait_for_log_line(&["agent registered", "agent=tessa"], Duration::from_secs(5)).is_some(),
        "the daemon logs the agent in after a correct digest REGISTER"
    );

    // Callers one after the other (one agent), each talking for a second.
    Sipp::builtin("uac")
        .service(TEST_NUMBER)
        .calls(CALLS)
        .rate_cps(1)
        .arg("-rp")
        .arg("3000")
        .arg("-d")
        .arg("1000")
        .timeout_s(30)
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(CALLS.into());

    let deadline = Instant::now() + Duration::from_secs(15);
    let agent_status = loop {
        if let Some(status) = agent.try_wait().expect("agent sipp status") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = agent.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let errors = std::fs::read_to_string(scratch.path().join("agent_errors.log")).unwrap_or_default();
    assert_eq!(
        agent_status.and_then(|s| s.code()),
        Some(0),
        "the agent's SIPp answered all {CALLS} calls and got the daemon's BYE for each\n{errors}"
    );
    let stderr = daemon.stderr_text();
    let answered = stderr.lines().filter(|l| l.contains("disposition") && l.contains("outcome=answered")).count();
    assert_eq!(answered, CALLS as usize, "every caller was answered by the agent");
}

/// `GET path` over plain HTTP/1.1; the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("http connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("http write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("http read");
    response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

#[test]
fn wrong_password_is_refused_with_403_after_the_retry_limit() {
    require_tool("sipp");
    let daemon = Daemon::start(&[]);
    for _ in 0..3 {
        let report = Sipp::scenario_file("agent_register.xml")
            .service("tessa")
            .arg("-au")
            .arg("tessa")
            .arg("-ap")
            .arg("wrong-password")
            .arg("-set")
            .arg("contact_port")
            .arg("5999")
            .timeout_s(5)
            .run_against(daemon.sip_addr());
        assert_ne!(report.exit_code, Some(0), "a wrong password never registers");
    }
    let health = http_get(daemon.http_addr(), "/health");
    assert!(health.contains("\"auth_failures\":3"), "each wrong response is counted: {health}");
}

#[test]
fn baresip_registers_as_an_agent_and_answers_a_queued_caller() {
    require_tool("sipp");
    let daemon = Daemon::start(&[]);
    let account = format!(
        "<sip:tessa@127.0.0.1:{}>;auth_user=tessa;auth_pass=demo-tessa;regint=600;answermode=auto",
        daemon.sip_addr().port()
    );
    let mut phone = support::baresip::Baresip::start_with_account(&account, "");
    assert!(
        daemon.wait_for_log_line(&["agent registered", "agent=tessa"], Duration::from_secs(15)).is_some(),
        "baresip registers with digest and the daemon logs the agent in\n{}",
        phone.diagnostics()
    );
    Sipp::builtin("uac")
        .service(TEST_NUMBER)
        .calls(1)
        .arg("-d")
        .arg("2000")
        .timeout_s(20)
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(1);
    assert!(
        phone.wait_for_event("CALL_ESTABLISHED", Duration::from_secs(5)).is_some(),
        "baresip answered the daemon's INVITE\n{}",
        phone.diagnostics()
    );
    assert!(
        phone.wait_for_event("CALL_CLOSED", Duration::from_secs(10)).is_some(),
        "the caller's BYE ended baresip's leg too\n{}",
        phone.diagnostics()
    );
    assert!(
        daemon.wait_for_log_line(&["disposition", "outcome=answered"], Duration::from_secs(5)).is_some(),
        "the ACD records the call as answered by the agent"
    );
    phone.quit();
}
