//! Trace generation for a month of Almere and the trace file format: volume, department
//! shares, opening hours, holidays, determinism, round trip and error reporting.

use std::collections::HashMap;
use std::io::Cursor;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use sha2::{Digest, Sha256};
use veertien::acd::calendar::{is_public_holiday, local_time};
use veertien::core::redact::contains_phone_like_digits;
use veertien::core::time::WallTime;
use veertien::dialplan::TimeZone;
use veertien::traffic::generate::{generate_trace, working_days, DateRange};
use veertien::traffic::profile::Profile;
use veertien::traffic::trace::{
    AgentAction, TraceCall, TraceError, TraceHeader, TraceReader, TraceWriter,
};

const ALMERE: &str = include_str!("../loadtest/almere-2010.toml");

fn almere() -> Profile {
    Profile::from_toml(ALMERE).expect("the shipped profile is valid")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Thirty days from Monday 11 January 2010 (the study's month): 22 working days.
fn study_month() -> DateRange {
    DateRange::new(date(2010, 1, 11), date(2010, 2, 9)).expect("ordered range")
}

fn trace_bytes(header: &TraceHeader, calls: &[TraceCall]) -> Vec<u8> {
    let mut writer = TraceWriter::new(Vec::new(), header).expect("header written");
    for call in calls {
        writer.write_call(call).expect("call written");
    }
    writer.finish().expect("flushed")
}

fn start_utc_ms(header: &TraceHeader) -> i64 {
    DateTime::parse_from_rfc3339(&header.start_wall).expect("RFC 3339 start").timestamp_millis()
}

#[test]
fn a_month_of_almere_has_the_published_volume_and_department_mix() {
    let profile = almere();
    let range = study_month();
    let days = working_days(&profile, range).len();
    assert_eq!(days, 22);
    let (header, calls) = generate_trace(&profile, 2010, range);
    assert_eq!(header.calls as usize, calls.len());
    assert_eq!(header.start_wall, "2010-01-11T08:00:00+01:00");
    assert_eq!((header.tenant.as_str(), header.number.as_str()), ("almere", "14036"));

    // Poisson: the count's standard deviation is its square root; allow 4 of them.
    let expected = profile.calls_per_working_day() * days as f64;
    let n = calls.len() as f64;
    assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n} calls, expected {expected}");
    // And about the published 32,000 a month.
    assert!((n - 32_000.0).abs() / 32_000.0 < 0.05, "{n} calls");

    let mut per_department: HashMap<&str, f64> = HashMap::new();
    for call in &calls {
        *per_department.entry(call.department.as_str()).or_default() += 1.0;
    }
    for (department, share) in profile.departments.iter().zip(profile.department_shares()) {
        let observed = per_department.get(department.id.as_str()).copied().unwrap_or(0.0) / n;
        let standard_error = (share * (1.0 - share) / n).sqrt();
        assert!(
            (observed - share).abs() <= 5.0 * standard_error + 1e-4,
            "{}: {observed:.4} vs {share:.4}",
            department.id
        );
    }

    // Sociale Zaken was, by agreement, nearly always transferred cold.
    let social: Vec<_> = calls.iter().filter(|c| c.department == "sociale-zaken").collect();
    let cold =
        social.iter().filter(|c| matches!(c.agent_action, AgentAction::ColdTransfer(_))).count();
    assert!(cold as f64 / social.len() as f64 > 0.85, "{cold} of {}", social.len());
}

#[test]
fn arrivals_fall_in_opening_hours_on_working_days_only() {
    let profile = almere();
    // March to mid-May 2010: summer time starts 28 March; Good Friday 2 April, Easter
    // Monday 5 April, Koninginnedag 30 April (closed_days), Ascension 13 May.
    let range = DateRange::new(date(2010, 3, 22), date(2010, 5, 14)).expect("ordered range");
    let (header, calls) = generate_trace(&profile, 99, range);
    assert!(!calls.is_empty());
    let start_ms = start_utc_ms(&header);
    let mut hours_seen = [0u32; 24];
    let mut previous = 0;
    for call in &calls {
        assert!(call.arrival_offset_ms >= previous, "arrivals in order");
        previous = call.arrival_offset_ms;
        let utc = WallTime(start_ms + call.arrival_offset_ms as i64);
        let local = local_time(TimeZone::EuropeAmsterdam, utc).expect("in calendar range");
        let day = local.date();
        assert!(day.weekday().num_days_from_monday() < 5, "weekend call on {day}");
        assert!(is_public_holiday(day).is_none(), "call on holiday {day}");
        assert_ne!(day, date(2010, 4, 30), "call on Koninginnedag");
        assert!((8..18).contains(&local.hour()), "call at {local}");
        hours_seen[local.hour() as usize] += 1;
    }
    // The double peak: the 09-10 hour is busier than the 12-13 lunch hour and 17-18.
    assert!(hours_seen[9] > hours_seen[12] && hours_seen[9] > hours_seen[17], "{hours_seen:?}");
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let profile = almere();
    let range = DateRange::new(date(2010, 1, 11), date(2010, 1, 15)).expect("ordered range");
    let digest = |seed: u64| {
        let (header, calls) = generate_trace(&profile, seed, range);
        Sha256::digest(trace_bytes(&header, &calls))
    };
    assert_eq!(digest(7), digest(7));
    assert_ne!(digest(7), digest(8));
}

#[test]
fn trace_round_trips_and_callers_are_synthetic() {
    let profile = almere();
    let range = DateRange::new(date(2010, 1, 11), date(2010, 1, 12)).expect("ordered range");
    let (header, calls) = generate_trace(&profile, 3, range);
    let bytes = trace_bytes(&header, &calls);
    for call in &calls {
        assert!(
            call.caller.starts_with("sim-caller-") && !contains_phone_like_digits(&call.caller)
        );
    }

    let mut reader = TraceReader::new(Cursor::new(bytes)).expect("header reads");
    assert_eq!(reader.header(), &header);
    let read: Vec<TraceCall> = reader.by_ref().collect::<Result<_, _>>().expect("calls read");
    assert_eq!(read, calls);
}

#[test]
fn the_documented_line_shapes_parse() {
    let text = concat!(
        r#"{"veertien_trace":1,"tenant":"almere","number":"14036","start_wall":"2010-01-11T08:00:00+01:00","seed":1,"calls":3,"profile":"hand"}"#,
        "\n",
        r#"{"arrival_offset_ms":0,"dialled":"14036","caller":"sim-caller-1","department":"burgerzaken","menu_digit":"1","patience_ms":90000,"talk_ms":200000,"agent_action":"handle"}"#,
        "\n",
        "\n",
        r#"{"arrival_offset_ms":5,"dialled":"14036","caller":"sim-caller-2","department":"algemeen","menu_digit":null,"patience_ms":1,"talk_ms":2,"agent_action":{"cold_transfer":{"group":"vth","backoffice_answers":false}}}"#,
        "\n",
        r#"{"arrival_offset_ms":5,"dialled":"14036","caller":"sim-caller-3","department":"stadsbeheer","menu_digit":"4","patience_ms":1,"talk_ms":2,"agent_action":{"warm_transfer":{"group":"vth","backoffice_answers":true}}}"#,
        "\n",
    );
    let calls: Vec<TraceCall> = TraceReader::new(Cursor::new(text))
        .expect("header")
        .collect::<Result<_, _>>()
        .expect("valid calls");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].agent_action, AgentAction::Handle);
    assert_eq!(calls[1].menu_digit, None);
    assert!(
        matches!(&calls[2].agent_action, AgentAction::WarmTransfer(t) if t.group == "vth" && t.backoffice_answers)
    );
}

/// The first error a reader gives for `body` after a valid header promising `calls`.
fn first_error(calls: u64, body: &str) -> TraceError {
    let header = format!(
        r#"{{"veertien_trace":1,"tenant":"t","number":"14000","start_wall":"2010-01-11T08:00:00+01:00","seed":1,"calls":{calls},"profile":"p"}}"#
    );
    let text = format!("{header}\n{body}");
    let reader = TraceReader::new(Cursor::new(text)).expect("header");
    reader.filter_map(Result::err).next().expect("an error")
}

#[test]
fn bad_lines_report_their_line_number() {
    let good = |offset: u64| {
        format!(
            r#"{{"arrival_offset_ms":{offset},"dialled":"14000","caller":"sim-caller-1","department":"d","menu_digit":"1","patience_ms":1,"talk_ms":1,"agent_action":"handle"}}"#
        )
    };
    match first_error(3, &format!("{}\n{}\nnot json\n", good(0), good(1))) {
        TraceError::Syntax { line, .. } => assert_eq!(line, 4),
        other => panic!("expected a syntax error, got {other}"),
    }
    match first_error(2, &format!("{}\n{}\n", good(10), good(5))) {
        TraceError::OutOfOrder { line, .. } => assert_eq!(line, 3),
        other => panic!("expected out of order, got {other}"),
    }
    let unknown_action = good(0).replace("\"handle\"", "\"hang_up\"");
    match first_error(1, &format!("{unknown_action}\n")) {
        TraceError::Syntax { line, .. } => assert_eq!(line, 2),
        other => panic!("expected a syntax error, got {other}"),
    }
    let extra_field = good(0).replace("\"talk_ms\"", "\"bsn\":\"x\",\"talk_ms\"");
    assert!(matches!(
        first_error(1, &format!("{extra_field}\n")),
        TraceError::Syntax { line: 2, .. }
    ));
    assert!(matches!(
        first_error(2, &format!("{}\n", good(0))),
        TraceError::CountMismatch { expected: 2, found: 1 }
    ));
    assert!(matches!(TraceReader::new(Cursor::new("")), Err(TraceError::MissingHeader)));
    assert!(matches!(
        TraceReader::new(Cursor::new(
            r#"{"veertien_trace":2,"tenant":"t","number":"1","start_wall":"","seed":1,"calls":0,"profile":"p"}"#
        )),
        Err(TraceError::UnsupportedVersion { found: 2 })
    ));
    let error_text = first_error(3, &format!("{}\n{}\nnot json\n", good(0), good(1))).to_string();
    assert!(error_text.starts_with("line 4:"), "{error_text}");
}

#[test]
fn generated_calls_follow_the_profile_distributions() {
    let profile = almere();
    let (_, calls) = generate_trace(&profile, 11, study_month());
    let n = calls.len() as f64;

    // Patience: exponential, so the standard deviation equals the mean; allow 5 se.
    let patience_mean_s = calls.iter().map(|c| c.patience_ms as f64).sum::<f64>() / n / 1000.0;
    let se = profile.patience_mean_s / n.sqrt();
    assert!(
        (patience_mean_s - profile.patience_mean_s).abs() < 5.0 * se,
        "patience {patience_mean_s}"
    );

    // Talk time per department: lognormal with the profile's mean and cv.
    for department in &profile.departments {
        let talks: Vec<f64> = calls
            .iter()
            .filter(|c| c.department == department.id)
            .map(|c| c.talk_ms as f64 / 1000.0)
            .collect();
        if talks.len() < 1000 {
            continue;
        }
        let mean = talks.iter().sum::<f64>() / talks.len() as f64;
        let se = profile.talk_cv * department.talk_mean_s / (talks.len() as f64).sqrt();
        assert!((mean - department.talk_mean_s).abs() < 5.0 * se, "{}: talk {mean}", department.id);
    }

    // Backoffice reachability among transfers: 27 of 68.
    let transfers: Vec<bool> = calls
        .iter()
        .filter_map(|c| match &c.agent_action {
            AgentAction::ColdTransfer(t) | AgentAction::WarmTransfer(t) => {
                Some(t.backoffice_answers)
            }
            AgentAction::Handle => None,
        })
        .collect();
    let answered = transfers.iter().filter(|a| **a).count() as f64 / transfers.len() as f64;
    let p = 27.0 / 68.0;
    let se = (p * (1.0 - p) / transfers.len() as f64).sqrt();
    assert!((answered - p).abs() < 5.0 * se, "answered {answered}");
}

#[test]
fn a_day_is_the_same_whatever_range_it_is_generated_in() {
    let profile = almere();
    let day = date(2010, 1, 13);
    let alone = DateRange::new(day, day).expect("one day");
    let week = DateRange::new(date(2010, 1, 11), date(2010, 1, 15)).expect("one week");
    let (alone_header, alone_calls) = generate_trace(&profile, 5, alone);
    let (week_header, week_calls) = generate_trace(&profile, 5, week);
    let start_difference_ms = (start_utc_ms(&alone_header) - start_utc_ms(&week_header)) as u64;
    let from_week: Vec<(u64, String, u64)> = week_calls
        .iter()
        .filter(|c| {
            c.arrival_offset_ms >= start_difference_ms
                && c.arrival_offset_ms < start_difference_ms + 86_400_000
        })
        .map(|c| (c.arrival_offset_ms - start_difference_ms, c.department.clone(), c.talk_ms))
        .collect();
    let alone: Vec<(u64, String, u64)> = alone_calls
        .iter()
        .map(|c| (c.arrival_offset_ms, c.department.clone(), c.talk_ms))
        .collect();
    assert!(!alone.is_empty());
    assert_eq!(from_week, alone);
}
