//! A blind transfer end to end with real SIPp phones on loopback: a SIPp caller waits in
//! the test tenant's queue, the SIPp agent answers and REFERs the caller to a backoffice
//! group, whose member is a SIPp desk phone. The desk phone's scenario fails unless its
//! INVITE carries the call's context (reference, User-to-User, Call-Info, Referred-By);
//! the agent's fails unless it gets 200 to the REFER, the NOTIFYs 100 and 200, and the
//! daemon's BYE. The caller talks on to the desk phone and hangs up.
//!
//! Needs `sipp` (Debian package `sip-tester`); `tests/run` installs it.

mod support;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::sipp::Sipp;
use support::{repo_root, require_tool, Daemon, ScratchDir};

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A SIPp UAS running `scenario` for one call on `port`, against the daemon.
fn sipp_phone(sipp: &std::path::Path, scenario: &str, port: u16, daemon: &Daemon, scratch: &ScratchDir, extra: &[&str]) -> Child {
    Command::new(sipp)
        .current_dir(repo_root())
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", "1", "-timeout", "40", "-nostdin", "-trace_err"])
        .args(extra)
        .arg("-error_file")
        .arg(scratch.path().join(format!("{port}_errors.log")))
        .arg(daemon.sip_addr().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts")
}

/// Waits (bounded) for a SIPp phone to finish; its exit code and error log.
fn finish(mut phone: Child, scratch: &ScratchDir, port: u16) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = phone.try_wait().expect("sipp status") {
            break status.code();
        }
        if Instant::now() > deadline {
            if let Err(error) = phone.kill() {
                eprintln!("could not kill sipp: {error}");
            }
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, std::fs::read_to_string(scratch.path().join(format!("{port}_errors.log"))).unwrap_or_default())
}

/// The test tenant with a backoffice group `balie` whose one member is a desk phone on
/// `desk_port`, in a dial-plan directory of its own; the daemon started on it.
fn daemon_with_group(scratch: &ScratchDir, desk_port: u16) -> Daemon {
    let plan = std::fs::read_to_string(repo_root().join("tests/data/dialplans/proef.toml")).expect("test plan");
    let plans = scratch.path().join("dialplans");
    std::fs::create_dir_all(&plans).expect("scratch dir");
    let group = format!("\n[[group]]\nid = \"balie\"\nname = \"Balie\"\nmembers = [\"sip:desk@127.0.0.1:{desk_port}\"]\nring_timeout_s = 10\n");
    std::fs::write(plans.join("proef.toml"), plan + &group).expect("plan written");
    let plans_dir = plans.to_string_lossy().into_owned();
    Daemon::start(&[("VEERTIEN_DIALPLAN__DIRECTORY", &plans_dir)])
}

#[test]
fn a_sipp_agent_refers_a_caller_to_a_group_and_the_desk_phone_gets_the_context() {
    let sipp = require_tool("sipp");
    let scratch = ScratchDir::new("transfer");
    let (agent_port, desk_port) = (free_udp_port(), free_udp_port());
    let daemon = daemon_with_group(&scratch, desk_port);

    let agent = sipp_phone(&sipp, "tests/sipp/agent_refer.xml", agent_port, &daemon, &scratch, &["-set", "group", "balie"]);
    let desk = sipp_phone(&sipp, "tests/sipp/desk_answer.xml", desk_port, &daemon, &scratch, &[]);
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

    // The caller talks for 8 s: to the agent, holds during the transfer, then to the desk.
    Sipp::builtin("uac")
        .service("14010")
        .arg("-d")
        .arg("8000")
        .timeout_s(30)
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(1);

    let (agent_status, agent_errors) = finish(agent, &scratch, agent_port);
    assert_eq!(agent_status, Some(0), "the agent's REFER was accepted and reported by NOTIFY 100 and 200\n{agent_errors}");
    let (desk_status, desk_errors) = finish(desk, &scratch, desk_port);
    assert_eq!(desk_status, Some(0), "the desk phone got the call with its context\n{desk_errors}");
    let answered = daemon.wait_for_log_line(&["transfer answered", "target=balie"], Duration::from_secs(5));
    assert!(answered.is_some(), "the daemon logs the answered transfer\n{}", support::tail(&daemon.stderr_text(), 4000));
    assert!(
        daemon.wait_for_log_line(&["call ended", "reason=caller_hung_up"], Duration::from_secs(5)).is_some(),
        "the caller, not the transfer, ended the call"
    );
}

/// The case the transfer issue was filed for: Debian's baresip (1.0, blind transfer only)
/// as the agent's phone does `/transfer sip:balie@daemon` and hangs up; the caller must
/// reach the desk phone, not be cut off.
#[test]
fn a_baresip_agent_blind_transfers_a_caller_to_a_group() {
    let sipp = require_tool("sipp");
    let scratch = ScratchDir::new("transfer-baresip");
    let desk_port = free_udp_port();
    let daemon = daemon_with_group(&scratch, desk_port);
    let desk = sipp_phone(&sipp, "tests/sipp/desk_answer.xml", desk_port, &daemon, &scratch, &[]);
    let account = format!(
        "<sip:tessa@127.0.0.1:{}>;auth_user=tessa;auth_pass=demo-tessa;regint=600;answermode=auto",
        daemon.sip_addr().port()
    );
    let mut phone = support::baresip::Baresip::start_with_account(&account, "");
    assert!(
        daemon.wait_for_log_line(&["agent registered", "agent=tessa"], Duration::from_secs(15)).is_some(),
        "baresip registers\n{}",
        phone.diagnostics()
    );
    let daemon_addr = daemon.sip_addr();
    let caller = std::thread::spawn(move || {
        Sipp::builtin("uac").service("14010").arg("-d").arg("10000").timeout_s(30).run_against(daemon_addr)
    });
    assert!(
        phone.wait_for_event("CALL_ESTABLISHED", Duration::from_secs(10)).is_some(),
        "baresip answered the queued caller\n{}",
        phone.diagnostics()
    );
    std::thread::sleep(Duration::from_millis(500));
    phone.transfer(&format!("sip:balie@{daemon_addr}"));
    assert!(
        daemon.wait_for_log_line(&["transfer answered", "target=balie"], Duration::from_secs(10)).is_some(),
        "the desk phone took the call\n{}\n{}",
        phone.diagnostics(),
        support::tail(&daemon.stderr_text(), 4000)
    );
    caller.join().expect("the caller's sipp ran").assert_all_calls_succeeded(1);
    let (desk_status, desk_errors) = finish(desk, &scratch, desk_port);
    assert_eq!(desk_status, Some(0), "the desk phone got the call with its context and the caller's hang-up\n{desk_errors}");
    assert!(
        daemon.wait_for_log_line(&["call ended", "reason=caller_hung_up"], Duration::from_secs(5)).is_some(),
        "the caller, not the transfer, ended the call"
    );
    phone.quit();
}
