//! Interop with SIPp: the real daemon on loopback, driven by SIPp's built-in UAC and by our
//! scenarios in `tests/sipp/`, over UDP and TCP. Each test is bounded by SIPp's timeout.
//!
//! Needs `sipp` (Debian package `sip-tester`); `tests/run` installs it.

mod support;

use std::time::Duration;

use support::sipp::{Sipp, SippTransport};
use support::{require_tool, send_signal, Daemon};

/// Calls per SIPp run: enough to see a lost or reordered message, few enough to stay fast.
const CALLS: u32 = 20;

/// New calls per second in the interop runs (the load test goes far higher).
const RATE_CPS: u32 = 20;

/// The Almere demo tenant's 14-number in the shipped configuration.
const ALMERE_14_NUMBER: &str = "14036";

/// Almere's regular number, routed to the same tenant.
const ALMERE_REGULAR_NUMBER: &str = "0365399911";

/// A 14-number no municipality uses (there is no area code 0999), so no tenant serves it.
const UNSERVED_NUMBER: &str = "14999";

/// How long the daemon rings before it answers in the CANCEL test: far longer than SIPp
/// needs to send its CANCEL after the 180, so the CANCEL always wins.
const RINGING_MS: &str = "5000";

/// How long the call in progress lasts in the shutdown test: long enough to stop the
/// daemon and place a second call while the first is still up.
const HELD_CALL_MS: &str = "8000";

/// Bound for each step of the shutdown test (a log line, the daemon's exit).
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// The caller's number in our scenario files; it must never reach the daemon's log.
const SCENARIO_CALLER_NUMBER: &str = "0612345678";

/// Places `calls` calls with `sipp` on a fresh daemon, checks they all succeeded and
/// returns the (still running) daemon for further checks.
fn answered_calls(sipp: Sipp, transport: SippTransport, calls: u32) -> Daemon {
    calls_to_daemon(&[], sipp, transport, calls)
}

fn calls_to_daemon(
    daemon_env: &[(&str, &str)],
    sipp: Sipp,
    transport: SippTransport,
    calls: u32,
) -> Daemon {
    require_tool("sipp");
    let daemon = Daemon::start(daemon_env);
    sipp.transport(transport)
        .calls(calls)
        .rate_cps(RATE_CPS)
        .run_against(daemon.sip_addr())
        .assert_all_calls_succeeded(calls.into());
    daemon
}

#[test]
fn builtin_uac_calls_14036_over_udp() {
    let sipp = Sipp::builtin("uac").service(ALMERE_14_NUMBER);
    answered_calls(sipp, SippTransport::Udp, CALLS);
}

#[test]
fn builtin_uac_calls_14036_over_tcp() {
    let sipp = Sipp::builtin("uac").service(ALMERE_14_NUMBER);
    answered_calls(sipp, SippTransport::Tcp, CALLS);
}

#[test]
fn caller_hangs_up_on_14036_over_udp() {
    let sipp = Sipp::scenario_file("uac_14036.xml").service(ALMERE_14_NUMBER);
    let mut daemon = answered_calls(sipp, SippTransport::Udp, CALLS);
    daemon.stop();
    let log = daemon.stderr_text();
    assert!(
        log.contains("call established"),
        "the daemon logged no call at all, so the privacy check below would prove nothing"
    );
    assert!(
        !log.contains(SCENARIO_CALLER_NUMBER),
        "the caller's number is in the daemon's log in clear"
    );
}

#[test]
fn caller_hangs_up_on_14036_over_tcp() {
    let sipp = Sipp::scenario_file("uac_14036.xml").service(ALMERE_14_NUMBER);
    answered_calls(sipp, SippTransport::Tcp, CALLS);
}

#[test]
fn regular_number_reaches_the_same_tenant() {
    let sipp = Sipp::scenario_file("uac_14036.xml").service(ALMERE_REGULAR_NUMBER);
    answered_calls(sipp, SippTransport::Udp, 5);
}

#[test]
fn unknown_number_is_rejected_with_404() {
    let sipp = Sipp::scenario_file("uac_unknown_number.xml").service(UNSERVED_NUMBER);
    answered_calls(sipp, SippTransport::Udp, 5);
}

#[test]
fn caller_cancels_a_ringing_call() {
    let ringing = [("VEERTIEN_SIP__ANSWER_DELAY_MS", RINGING_MS)];
    let sipp = Sipp::scenario_file("uac_cancel.xml").service(ALMERE_14_NUMBER);
    calls_to_daemon(&ringing, sipp, SippTransport::Udp, 5);
}

#[test]
fn options_is_answered_200_over_udp_and_tcp() {
    require_tool("sipp");
    let daemon = Daemon::start(&[]);
    for transport in [SippTransport::Udp, SippTransport::Tcp] {
        Sipp::scenario_file("uac_options.xml")
            .transport(transport)
            .calls(3)
            .rate_cps(RATE_CPS)
            .run_against(daemon.sip_addr())
            .assert_all_calls_succeeded(3);
    }
}

#[test]
fn shutdown_refuses_new_calls_and_drains_the_call_in_progress() {
    require_tool("sipp");
    let mut daemon = Daemon::start(&[]);
    let sip_addr = daemon.sip_addr();
    let held_call = std::thread::spawn(move || {
        Sipp::builtin("uac")
            .service(ALMERE_14_NUMBER)
            .arg("-d")
            .arg(HELD_CALL_MS)
            .run_against(sip_addr)
    });
    assert!(
        daemon
            .wait_for_log_line(&["call established"], STEP_TIMEOUT)
            .is_some(),
        "the held call was not established"
    );

    assert!(send_signal(daemon.pid(), "TERM"), "cannot send SIGTERM");
    assert!(
        daemon
            .wait_for_log_line(&["shutting down"], STEP_TIMEOUT)
            .is_some(),
        "the daemon did not log `shutting down` after SIGTERM"
    );
    Sipp::scenario_file("uac_refused_503.xml")
        .service(ALMERE_14_NUMBER)
        .run_against(sip_addr)
        .assert_all_calls_succeeded(1);

    held_call
        .join()
        .expect("the SIPp thread does not panic")
        .assert_all_calls_succeeded(1);
    let exit = daemon.wait_for_exit(STEP_TIMEOUT);
    assert!(
        exit.is_some_and(|status| status.success()),
        "the daemon did not exit 0 after draining its last call: {exit:?}"
    );
}
