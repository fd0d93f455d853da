//! The layer rules of the README's architecture section, checked on the source text.
//! A rule that is only written down erodes; this test fails on the first import that
//! breaks one.

use std::fs;
use std::path::{Path, PathBuf};

/// Modules that must stay sans-IO: no tokio, no sockets, no files, no OS clock or randomness.
const SANS_IO: &[&str] = &["core", "sip", "media", "dialplan", "acd", "engine", "sim", "stats"];

/// Text that betrays I/O or a real clock.
const FORBIDDEN_IN_SANS_IO: &[&str] = &[
    "tokio",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::fs",
    "File::open",
    "SystemTime::now",
    "Instant::now",
    "thread_rng",
    "OsRng",
    "rusqlite",
    "axum",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Source lines outside comments (doc comments may name what a module avoids).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, line)| !line.trim_start().starts_with("//"))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn sans_io_layers_do_no_io_and_read_no_clock() {
    let mut violations = Vec::new();
    for module in SANS_IO {
        for file in rust_files(&src().join(module)) {
            let text = fs::read_to_string(&file).expect("readable source");
            for (number, line) in code_lines(&text) {
                for needle in FORBIDDEN_IN_SANS_IO {
                    if line.contains(needle) {
                        violations.push(format!("{}:{}: `{needle}`", file.display(), number + 1));
                    }
                }
            }
        }
    }
    // The dial plan reads its directory in one clearly separated file.
    violations.retain(|v| !v.contains("dialplan/files.rs"));
    assert!(violations.is_empty(), "sans-IO rule broken:\n{}", violations.join("\n"));
}

#[test]
fn acd_names_no_protocol_type_and_protocols_name_no_acd_type() {
    let mut violations = Vec::new();
    for file in rust_files(&src().join("acd")) {
        let text = fs::read_to_string(&file).expect("readable source");
        for (number, line) in code_lines(&text) {
            if line.contains("crate::sip") || line.contains("crate::media") {
                violations.push(format!("{}:{}: acd names a protocol type", file.display(), number + 1));
            }
        }
    }
    for module in ["sip", "media"] {
        for file in rust_files(&src().join(module)) {
            let text = fs::read_to_string(&file).expect("readable source");
            for (number, line) in code_lines(&text) {
                if line.contains("crate::acd") || line.contains("crate::engine") {
                    violations.push(format!("{}:{}: {module} names an upper layer", file.display(), number + 1));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layer rule broken:\n{}", violations.join("\n"));
}

#[test]
fn only_live_and_main_use_tokio() {
    let mut violations = Vec::new();
    for file in rust_files(&src()) {
        let relative = file.strip_prefix(src()).expect("under src").to_string_lossy().into_owned();
        if relative.starts_with("live") || relative == "main.rs" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable source");
        for (number, line) in code_lines(&text) {
            if line.contains("tokio::") || line.contains("use tokio") {
                violations.push(format!("{relative}:{}", number + 1));
            }
        }
    }
    assert!(violations.is_empty(), "tokio outside live/:\n{}", violations.join("\n"));
}
