//! Interop with baresip, a real SIP phone: it calls the Almere 14-number on the daemon,
//! the call is established on both sides, the caller hangs up and both sides see it end.
//!
//! Needs `baresip` (Debian package `baresip`); `tests/run` installs it.

mod support;

use std::time::Duration;

use support::baresip::Baresip;
use support::daemon::log_field;
use support::{require_tool, Daemon};

/// Bound for each step (answer, hang-up, log line); none takes more than a fraction of it.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the call stays up, so media flows before the hang-up. Not a pass/fail timing.
const TALK_TIME: Duration = Duration::from_millis(1500);

#[test]
fn baresip_calls_14036_and_hangs_up() {
    require_tool("baresip");
    let daemon = Daemon::start(&[]);
    let mut phone = Baresip::start();

    phone.dial(&format!("sip:14036@{}", daemon.sip_addr()));
    let established = phone.wait_for_event("CALL_ESTABLISHED", STEP_TIMEOUT);
    assert!(
        established.is_some(),
        "baresip did not establish the call\n{}",
        phone.diagnostics()
    );
    assert!(
        phone.output().contains("Call established"),
        "baresip's output does not report the call as established\n{}",
        phone.diagnostics()
    );
    let established_line = daemon
        .wait_for_log_line(&["call established"], STEP_TIMEOUT)
        .expect("the daemon logs `call established` once the caller's ACK arrives");
    let call_id = log_field(&established_line, "call")
        .unwrap_or_else(|| panic!("no call=<id> field in {established_line:?}"))
        .to_string();

    std::thread::sleep(TALK_TIME);
    phone.hangup();
    assert!(
        phone.wait_for_event("CALL_CLOSED", STEP_TIMEOUT).is_some(),
        "baresip did not close the call after hanging up\n{}",
        phone.diagnostics()
    );
    let call_field = format!("call={call_id}");
    assert!(
        daemon
            .wait_for_log_line(
                &["call ended", &call_field, "reason=caller_hung_up"],
                STEP_TIMEOUT
            )
            .is_some(),
        "the daemon did not log `call ended {call_field} reason=caller_hung_up`"
    );
}
