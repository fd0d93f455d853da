//! `veertien records` on a store file filled here: JSON lines and CSV, a time range, and
//! a clear error for a store that does not exist.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::records::{answered_call, fill_store, references};
use support::ScratchDir;

/// 2026-01-05T09:00:00Z in milliseconds.
const MONDAY_NINE_MS: i64 = 1_767_603_600_000;

/// A config file naming `store` as the store.
fn config_for(dir: &Path, store: &Path) -> std::path::PathBuf {
    let config = dir.join("veertien.toml");
    std::fs::write(&config, format!("[store]\npath = {:?}\n", store.display().to_string())).expect("config written");
    config
}

fn records(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veertien"))
        .arg("records")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "exit {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// Three calls a minute apart, written out of order.
fn filled(dir: &ScratchDir) -> (std::path::PathBuf, Vec<String>) {
    let refs = references(3);
    let store = dir.path().join("data/veertien.sqlite3");
    let calls = [
        answered_call(&refs[2], MONDAY_NINE_MS + 120_000),
        answered_call(&refs[0], MONDAY_NINE_MS),
        answered_call(&refs[1], MONDAY_NINE_MS + 60_000),
    ];
    fill_store(&store, &calls);
    (config_for(dir.path(), &store), refs)
}

#[test]
fn jsonl_prints_one_record_per_line_oldest_first_with_its_legs() {
    let dir = ScratchDir::new("records-jsonl");
    let (config, refs) = filled(&dir);
    let text = stdout(&records(&config, &["--format", "jsonl"]));
    let lines: Vec<serde_json::Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect();
    let printed: Vec<&str> = lines.iter().map(|line| line["reference"].as_str().expect("reference")).collect();
    assert_eq!(printed, refs.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(lines.iter().all(|line| line["legs"].as_array().map(Vec::len) == Some(2)), "{text}");
    assert_eq!(lines[0]["subject"], "paspoort, verlenging");
}

#[test]
fn csv_has_a_header_row_and_one_quoted_row_per_record_with_the_leg_count() {
    let dir = ScratchDir::new("records-csv");
    let (config, refs) = filled(&dir);
    let text = stdout(&records(&config, &["--format", "csv"]));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header[0], "reference");
    assert_eq!(header.last(), Some(&"legs"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with(&format!("{},proef,14010,", refs[0])), "{}", rows[0]);
    assert!(rows[0].contains(",\"paspoort, verlenging\","), "a comma in a field is quoted: {}", rows[0]);
    assert!(rows[0].ends_with(",2"), "two legs: {}", rows[0]);
}

#[test]
fn from_and_to_select_arrivals_in_the_half_open_range() {
    let dir = ScratchDir::new("records-range");
    let (config, refs) = filled(&dir);
    let text = stdout(&records(&config, &["--format", "jsonl", "--from", "2026-01-05T10:01:00+01:00", "--to", "2026-01-05T09:02:00Z"]));
    let printed: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON")["reference"].as_str().expect("reference").to_owned())
        .collect();
    assert_eq!(printed, [refs[1].clone()]);
    let bad = records(&config, &["--format", "jsonl", "--from", "monday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn a_missing_store_is_a_clear_error_and_is_not_created() {
    let dir = ScratchDir::new("records-missing");
    let store = dir.path().join("nowhere/veertien.sqlite3");
    let config = config_for(dir.path(), &store);
    let output = records(&config, &["--format", "csv"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&store.display().to_string()) && stderr.contains("does not exist"), "{stderr}");
    assert!(output.stdout.is_empty(), "no header for a store that is not there");
    assert!(!store.exists() && !store.parent().expect("parent").exists(), "the reader created nothing");
}
