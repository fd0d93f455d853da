//! Interop of the media plane with real SIP tools: SIPp plays RFC 4733 DTMF from the
//! pcaps Debian's sip-tester ships, and baresip hears the welcome prompt and sends a key.
//!
//! Needs `sipp` (package `sip-tester`) and `baresip`; `tests/run` installs them.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::baresip::Baresip;
use support::daemon::log_field;
use support::{require_tool, tail, Daemon, ScratchDir};

/// Bound for each step (answer, a log line, a tool's exit).
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The sip-tester pcap with RFC 4733 events for digit 1, found through the package's file
/// list (or the package's usual directory when dpkg is unavailable).
fn dtmf_pcap() -> PathBuf {
    const NAME: &str = "dtmf_2833_1.pcap";
    let listed = Command::new("dpkg")
        .args(["-L", "sip-tester"])
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .find(|line| line.ends_with(NAME))
                .map(PathBuf::from)
        });
    let path = listed.unwrap_or_else(|| PathBuf::from("/usr/share/sip-tester").join(NAME));
    assert!(
        path.is_file(),
        "{NAME} not found (package sip-tester): run tests/run, which installs it"
    );
    path
}

/// A UDP port that was free a moment ago (SIPp needs a fixed media port).
fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback can bind port 0");
    socket.local_addr().expect("bound socket has an address").port()
}

#[test]
fn sipp_plays_rfc4733_digit_1_and_the_daemon_detects_it() {
    let sipp = require_tool("sipp");
    let daemon = Daemon::start(&[]);
    // The scenario names the pcap relatively; SIPp runs where a link to it is.
    let scratch = ScratchDir::new("sipp-dtmf");
    std::os::unix::fs::symlink(dtmf_pcap(), scratch.path().join("dtmf_2833_1.pcap")).expect("scratch dir is writable");
    let scenario = support::repo_root().join("tests/sipp/uac_dtmf.xml");
    let mut child = Command::new(sipp)
        .current_dir(scratch.path())
        .arg(daemon.sip_addr().to_string())
        .arg("-sf")
        .arg(&scenario)
        .args([
            "-s",
            "14036",
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-mp",
            &free_udp_port().to_string(),
        ])
        .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp starts");
    let deadline = Instant::now() + Duration::from_secs(25);
    let status = loop {
        if let Some(status) = child.try_wait().expect("sipp waitable") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let errors = std::fs::read_dir(scratch.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .collect::<String>();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "sipp failed\n{}",
        tail(&errors, 4000)
    );
    let line = daemon
        .wait_for_log_line(&["caller pressed a key"], STEP_TIMEOUT)
        .unwrap_or_else(|| panic!("no digit detected\n{}", tail(&daemon.stderr_text(), 4000)));
    assert_eq!(log_field(&line, "digit"), Some("1"), "{line}");
    let presses = daemon.stderr_text().matches("caller pressed a key").count();
    assert_eq!(presses, 1, "one press (its three end packets) is one digit");
}

/// The welcome prompt's samples, as shipped.
fn welcome_samples() -> Vec<i16> {
    let bytes =
        std::fs::read(support::repo_root().join("config/prompts/nl/welcome.wav")).expect("welcome.wav readable");
    veertien::media::wav::parse_wav(&bytes).expect("welcome.wav parses")
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

#[test]
fn baresip_hears_the_welcome_and_its_key_press_is_detected() {
    require_tool("baresip");
    let daemon = Daemon::start(&[]);
    // baresip's sndfile module writes what it decodes from our RTP to a WAV file.
    let dumps = ScratchDir::new("baresip-dumps");
    let mut phone = Baresip::start_with_config(&format!("module sndfile.so\nsnd_path {}\n", dumps.path().display()));
    phone.dial(&format!("sip:14036@{}", daemon.sip_addr()));
    assert!(
        phone.wait_for_event("CALL_ESTABLISHED", STEP_TIMEOUT).is_some(),
        "no call\n{}",
        phone.diagnostics()
    );

    // Listen to the whole welcome (not a pass/fail timing: the length is checked below).
    let welcome = welcome_samples();
    std::thread::sleep(Duration::from_millis(welcome.len() as u64 / 8 + 1000));
    phone.send_digits("5");
    let line = daemon
        .wait_for_log_line(&["caller pressed a key"], STEP_TIMEOUT)
        .unwrap_or_else(|| panic!("baresip's key press not detected\n{}", phone.diagnostics()));
    assert_eq!(log_field(&line, "digit"), Some("5"), "{line}");
    phone.hangup();
    assert!(
        phone.wait_for_event("CALL_CLOSED", STEP_TIMEOUT).is_some(),
        "no hang-up\n{}",
        phone.diagnostics()
    );
    phone.quit();

    let decoded = std::fs::read_dir(dumps.path())
        .expect("dump dir readable")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("baresip wrote no decoded audio\n{}", phone.diagnostics()));
    let heard =
        veertien::media::wav::parse_wav(&std::fs::read(&decoded).expect("dump readable")).expect("dump is a WAV");
    let start = heard
        .iter()
        .position(|s| s.unsigned_abs() > 200)
        .expect("baresip heard something");
    let after_start = &heard[start..];
    assert!(
        after_start.len() + 160 >= welcome.len(),
        "heard {} samples, the welcome has {}",
        after_start.len(),
        welcome.len()
    );
    let heard_welcome = &after_start[..welcome.len().min(after_start.len())];
    let (heard_rms, welcome_rms) = (rms(heard_welcome), rms(&welcome));
    assert!(
        heard_rms > welcome_rms * 0.5 && heard_rms < welcome_rms * 2.0,
        "heard RMS {heard_rms}, welcome RMS {welcome_rms}"
    );
}
