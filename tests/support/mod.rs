//! Shared helpers for tests that run the real `veertien` binary and drive it with external
//! SIP tools (SIPp, baresip). Each test file includes this with `mod support;`.
//!
//! Every helper is bounded in time: a test that talks to a daemon or a tool never waits
//! forever, and a failure prints what the daemon and the tool said.

// Each test binary uses a different subset of these helpers; the rest would warn.
#![allow(dead_code)]

pub mod baresip;
pub mod daemon;
pub mod dialplans;
pub mod records;
pub mod sipp;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub use daemon::Daemon;

/// Fails the calling test unless the executable `name` is on `PATH`; returns its path.
///
/// The interop tools are installed by `tests/run`; a missing tool is a broken test
/// environment, so the test fails (rather than silently passing) and says how to fix it.
pub fn require_tool(name: &str) -> PathBuf {
    match find_on_path(name) {
        Some(path) => path,
        None => panic!("{name} not found: run tests/run, which installs it"),
    }
}

/// Returns the full path of the executable `name` found on `PATH`, if any.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A fresh, empty scratch directory for one test run, removed when dropped.
///
/// Named after the purpose, the process id and a counter, so tests running in parallel
/// (threads of one test binary) never share one.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `$TMPDIR/veertien-<purpose>-<pid>-<n>`.
    pub fn new(purpose: &str) -> ScratchDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("veertien-{purpose}-{}-{n}", std::process::id()));
        // A leftover from an earlier run with the same pid is stale; start clean.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        ScratchDir { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Keep the files of a failed test for a post-mortem.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Sends `signal` (a `kill` signal name such as `TERM`) to process `pid`.
///
/// Uses the `kill` command so the tests need no libc binding; returns whether it worked.
pub fn send_signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

/// Returns the last `max_chars` characters of `text` (on a char boundary), for failure
/// messages that must stay readable.
pub fn tail(text: &str, max_chars: usize) -> &str {
    let count = text.chars().count();
    if count <= max_chars {
        return text;
    }
    let skip = count - max_chars;
    let start = text
        .char_indices()
        .nth(skip)
        .map(|(index, _)| index)
        .unwrap_or(0);
    &text[start..]
}

/// The repository root: the working directory the daemon and the tools run in.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
