//! `veertien demo` as a newcomer runs it: the binary, the shipped configuration (SIP and
//! HTTP moved to free ports), a few seconds of simulated calls, a summary line per second
//! and a final report, exit 0.

use std::process::{Command, Stdio};

#[test]
fn demo_prints_summaries_and_a_report_and_exits_0() {
    let output = Command::new(env!("CARGO_BIN_EXE_veertien"))
        .args(["demo", "--duration-s", "5"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VEERTIEN_SIP__LISTEN", "127.0.0.1:0")
        .env("VEERTIEN_HTTP__LISTEN", "127.0.0.1:0")
        .env("VEERTIEN_RTP__PORT_MIN", "46200")
        .env("VEERTIEN_RTP__PORT_MAX", "46300")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the veertien binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}", output.status);
    assert!(stdout.lines().next().is_some_and(|line| line.starts_with("veertien ready sip=127.0.0.1:")), "{stdout}");
    let summaries = stdout.lines().filter(|line| line.starts_with("t=") && line.contains("service level")).count();
    assert!(summaries >= 2, "{summaries} summary lines:\n{stdout}");
    assert!(stdout.contains("demo over:") && stdout.contains("calls placed"), "{stdout}");
    assert!(stdout.contains("INVITE -> 200"), "{stdout}");
}
