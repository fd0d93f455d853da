//! The shipped Grafana dashboard and Prometheus alert rules use only metrics the daemon
//! exports, and the dashboard is valid JSON with the panels operations rely on.

use std::path::Path;
use veertien::live::metrics::is_exported;

/// Every `veertien_...` name in `text`, with histogram series suffixes removed.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("veertien_") {
        let candidate = &rest[start..];
        let end = candidate.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(candidate.len());
        let name = &candidate[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|base| is_exported(base)))
            .unwrap_or(name);
        names.push(base.to_string());
        rest = &candidate[end..];
    }
    names
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).expect("shipped file")
}

#[test]
fn every_dashboard_query_uses_exported_metrics() {
    let dashboard: serde_json::Value = serde_json::from_str(&read("config/grafana/veertien.json")).expect("valid JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queries = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            queries.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().expect("variables") {
        if let Some(query) = variable["query"].as_str() {
            queries.push(query.to_string());
        }
    }
    let used: Vec<String> = queries.iter().flat_map(|query| metric_names(query)).collect();
    for name in &used {
        assert!(is_exported(name), "dashboard uses {name}, which the daemon does not export");
    }
    for needed in ["veertien_service_level_ratio", "veertien_queue_waiting_calls", "veertien_agents", "veertien_reachability_ratio", "veertien_calls_abandoned_total"] {
        assert!(used.iter().any(|name| name == needed), "dashboard lacks a panel on {needed}");
    }
}

#[test]
fn every_alert_rule_uses_exported_metrics() {
    let rules = read("config/prometheus/alerts.yml");
    let used = metric_names(&rules);
    assert!(used.len() >= 4, "{used:?}");
    for name in &used {
        assert!(is_exported(name), "alerts.yml uses {name}, which the daemon does not export");
    }
}

#[test]
fn the_name_scanner_sees_histogram_series() {
    assert_eq!(metric_names("rate(veertien_wait_seconds_bucket[5m]) + veertien_nope"), ["veertien_wait_seconds", "veertien_nope"]);
}
