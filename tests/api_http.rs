//! The HTTP API and `/metrics` of an in-process daemon over real HTTP, with calls placed
//! over raw UDP: exact counts, bearer-token roles and the JSON error shape.

mod api_support;

use api_support::records::{answered_call, fill_store, references};
use api_support::{private_store_path, sample, start, AgentPhone, Caller, CALLER_NUMBER, READ_TOKEN, SUPERVISE_TOKEN};
use std::time::Duration;

const QUEUE: &str = "{queue=\"algemeen\",tenant=\"proef\"}";

#[tokio::test]
async fn calls_are_counted_exactly_and_the_api_finds_them_by_reference() {
    let daemon = start(32000).await;
    let first = Caller::dial(daemon.sip, "api-1").await;
    let second = Caller::dial(daemon.sip, "api-2").await;
    let third = Caller::dial(daemon.sip, "api-3").await;

    let calls = daemon.http("GET", "/api/calls", Some(READ_TOKEN), "").await;
    assert_eq!(calls.status, 200, "{calls:?}");
    let calls = calls.json();
    let calls = calls.as_array().expect("a list");
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|call| call["phase"] == "queued" && call["queue"] == "algemeen"), "{calls:?}");
    let reference = calls[0]["reference"].as_str().expect("reference").to_string();
    assert_eq!(reference.len(), 8);

    let call = daemon.http("GET", &format!("/api/calls/{reference}"), Some(READ_TOKEN), "").await;
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(call.json()["reference"], reference.as_str());
    assert!(!call.body.contains(CALLER_NUMBER), "no phone number in the API: {}", call.body);

    let queues = daemon.http("GET", "/api/queues", Some(READ_TOKEN), "").await.json();
    assert_eq!(queues[0]["waiting"], 3);

    // Two short abandons, then one after more than the 5 s short-abandon threshold.
    first.hang_up().await;
    second.hang_up().await;
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    third.hang_up().await;

    let gone = daemon.http("GET", &format!("/api/calls/{reference}"), Some(READ_TOKEN), "").await;
    assert_eq!((gone.status, gone.error_code().as_str()), (404, "unknown_call"), "{gone:?}");
    // The ended call's record is in the store (written when it ended, read from the store).
    let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
    let record = loop {
        let record = daemon.http("GET", &format!("/api/records/{reference}"), Some(READ_TOKEN), "").await;
        if record.status == 200 || tokio::time::Instant::now() >= give_up {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.status, 200, "{record:?}");
    assert_eq!(record.json()["reference"], reference.as_str());
    assert_eq!(record.json()["queue"], "algemeen", "{record:?}");
    assert_eq!(record.json()["end_reason"], "caller_hung_up", "{record:?}");
    assert!(!record.body.contains(CALLER_NUMBER), "records carry only the caller hash: {}", record.body);

    let metrics = daemon.metrics().await;
    assert_eq!(sample(&metrics, &format!("veertien_calls_offered_total{QUEUE}")), Some(3.0), "{metrics}");
    assert_eq!(sample(&metrics, &format!("veertien_calls_answered_total{QUEUE}")), Some(0.0));
    let abandoned = |length: &str| {
        sample(&metrics, &format!("veertien_calls_abandoned_total{{outcome=\"{length}\",queue=\"algemeen\",tenant=\"proef\"}}"))
    };
    assert_eq!((abandoned("short"), abandoned("long")), (Some(2.0), Some(1.0)));
    // No call answered, one counted abandon: the service level is 0 in every window.
    assert_eq!(
        sample(&metrics, "veertien_service_level_ratio{queue=\"algemeen\",tenant=\"proef\",window=\"15m\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&metrics, "veertien_calls_arrived_total{tenant=\"proef\"}"), Some(3.0));
    assert_eq!(sample(&metrics, &format!("veertien_queue_waiting_calls{QUEUE}")), Some(0.0));
    assert_eq!(sample(&metrics, "veertien_sip_requests_total{method=\"INVITE\"}"), Some(3.0));
    assert_eq!(sample(&metrics, "veertien_sip_requests_total{method=\"BYE\"}"), Some(3.0));
    assert_eq!(sample(&metrics, "veertien_tenant_open{tenant=\"proef\"}"), Some(1.0));
    assert!(!metrics.contains(CALLER_NUMBER));
    assert!(sample(&metrics, "veertien_rtp_packets_total{outcome=\"relayed\"}").is_some(), "media counters exported");
    for line in metrics.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let name = line.split(' ').next().unwrap_or_default();
        assert!(veertien::live::metrics::is_exported(name), "{name} is exported but not listed");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn tokens_roles_and_errors_have_one_shape() {
    let daemon = start(32100).await;

    let anonymous = daemon.http("GET", "/api/queues", None, "").await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{anonymous:?}");
    assert_eq!(anonymous.error_code(), "unauthorized");
    let unknown = daemon.http("GET", "/api/queues", Some("not-a-token-we-know-at-all"), "").await;
    assert_eq!((unknown.status, unknown.error_code().as_str()), (401, "unauthorized"));

    let read_login = daemon.http("POST", "/api/agents/proef/tessa/login", Some(READ_TOKEN), "").await;
    assert_eq!((read_login.status, read_login.error_code().as_str()), (403, "forbidden"));

    let login = daemon.http("POST", "/api/agents/proef/tessa/login", Some(SUPERVISE_TOKEN), "").await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.json()["state"], "available");
    let pause = daemon.http("POST", "/api/agents/proef/tessa/pause", Some(SUPERVISE_TOKEN), r#"{"reason":"break"}"#).await;
    assert_eq!((pause.status, pause.json()["pause_reason"].as_str()), (200, Some("break")), "{pause:?}");
    let agents = daemon.http("GET", "/api/agents", Some(READ_TOKEN), "").await.json();
    let tessa = agents.as_array().expect("list").iter().find(|a| a["agent"] == "tessa").expect("tessa listed").clone();
    assert_eq!(tessa["state"], "paused");
    let ready = daemon.http("POST", "/api/agents/proef/tessa/ready", Some(SUPERVISE_TOKEN), "").await;
    assert_eq!(ready.json()["state"], "available");

    let bad_body = daemon.http("POST", "/api/agents/proef/tessa/pause", Some(SUPERVISE_TOKEN), "{").await;
    assert_eq!((bad_body.status, bad_body.error_code().as_str()), (400, "bad_body"));
    let bad_reason = daemon.http("POST", "/api/agents/proef/tessa/pause", Some(SUPERVISE_TOKEN), r#"{"reason":"lunch"}"#).await;
    assert_eq!((bad_reason.status, bad_reason.error_code().as_str()), (400, "bad_pause_reason"));
    let nobody = daemon.http("POST", "/api/agents/proef/nobody/login", Some(SUPERVISE_TOKEN), "").await;
    assert_eq!((nobody.status, nobody.error_code().as_str()), (404, "unknown_agent"));
    let not_logged_in = daemon.http("POST", "/api/agents/proef/tim/ready", Some(SUPERVISE_TOKEN), "").await;
    assert_eq!((not_logged_in.status, not_logged_in.error_code().as_str()), (409, "not_logged_in"));
    let bad_reference = daemon.http("GET", "/api/calls/12ab", Some(READ_TOKEN), "").await;
    assert_eq!((bad_reference.status, bad_reference.error_code().as_str()), (400, "bad_reference"));
    let message = bad_reference.json()["error"]["message"].as_str().map(str::to_owned);
    assert!(message.is_some_and(|m| !m.is_empty()));

    let openapi = daemon.http("GET", "/api/openapi.yaml", None, "").await;
    assert!(openapi.status == 200 && openapi.body.starts_with("openapi:"));

    // 401, 401, 403, 400, 400, 404, 409, 400: eight client errors.
    let metrics = daemon.metrics().await;
    assert_eq!(sample(&metrics, "veertien_api_errors_total{status_class=\"4xx\"}"), Some(8.0), "{metrics}");
    daemon.stop().await;
}

#[tokio::test]
async fn an_agent_made_ready_over_the_api_is_offered_the_waiting_caller_at_once() {
    let daemon = start(32400).await;
    let phone = AgentPhone::register(daemon.sip).await;
    let pause = daemon.http("POST", "/api/agents/proef/tessa/pause", Some(SUPERVISE_TOKEN), r#"{"reason":"training"}"#).await;
    assert_eq!(pause.json()["state"], "paused", "{pause:?}");
    let caller = Caller::dial(daemon.sip, "ready-1").await;
    let calls = daemon.http("GET", "/api/calls", Some(READ_TOKEN), "").await.json();
    assert_eq!(calls[0]["phase"], "queued", "a paused agent is not offered: {calls}");

    let ready = daemon.http("POST", "/api/agents/proef/tessa/ready", Some(SUPERVISE_TOKEN), "").await;
    assert_eq!(ready.status, 200, "{ready:?}");
    // The command's outputs are sent at once: the phone rings without any other input.
    let invite = phone.answer().await;
    assert!(invite.starts_with("INVITE "), "{invite}");
    let reference = calls[0]["reference"].as_str().expect("reference").to_string();
    let mut connected = serde_json::Value::Null;
    for _ in 0..50 {
        connected = daemon.http("GET", &format!("/api/calls/{reference}"), Some(READ_TOKEN), "").await.json();
        if connected["phase"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((connected["phase"].as_str(), connected["agent"].as_str()), (Some("connected"), Some("tessa")), "{connected}");

    caller.hang_up().await;
    phone.answer_byes(Duration::from_millis(300)).await;
    let metrics = daemon.metrics().await;
    assert_eq!(sample(&metrics, &format!("veertien_calls_answered_total{QUEUE}")), Some(1.0), "{metrics}");
    assert_eq!(
        sample(&metrics, "veertien_agent_offers_total{agent=\"tessa\",outcome=\"answered\",tenant=\"proef\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "veertien_reachability_ratio{target=\"tessa\",tenant=\"proef\"}"), Some(1.0));
    daemon.stop().await;
}

/// 2026-01-05T09:00:00Z in milliseconds.
const MONDAY_NINE_MS: i64 = 1_767_603_600_000;

#[tokio::test]
async fn records_are_read_from_the_store_by_reference_and_by_time_page_by_page() {
    let daemon = start(32500).await;
    let refs = references(6);
    // Five calls a minute apart; the sixth reference is never used.
    let calls: Vec<_> = (0..5).map(|i| answered_call(&refs[i], MONDAY_NINE_MS + i as i64 * 60_000)).collect();
    let store = private_store_path(32500);
    let written = calls.clone();
    tokio::task::spawn_blocking(move || fill_store(&store, &written)).await.expect("filled");

    let one = daemon.http("GET", &format!("/api/records/{}", refs[2]), Some(READ_TOKEN), "").await;
    assert_eq!(one.status, 200, "{one:?}");
    let body = one.json();
    assert_eq!(body["reference"], refs[2].as_str());
    assert_eq!(body["arrived_at_ms"], MONDAY_NINE_MS + 120_000);
    assert_eq!(body["legs"].as_array().map(Vec::len), Some(2));

    let before = sample(&daemon.metrics().await, "veertien_api_errors_total{status_class=\"4xx\"}").unwrap_or(0.0);
    let mut errors = 0.0;
    for (path, status, code) in [
        (format!("/api/records/{}", refs[5]), 404, "unknown_record"),
        ("/api/records/1234567".to_owned(), 400, "bad_reference"),
        ("/api/records/12a45678".to_owned(), 400, "bad_reference"),
        ("/api/records?limit=0".to_owned(), 400, "bad_query"),
        ("/api/records?limit=1001".to_owned(), 400, "bad_query"),
        ("/api/records?limit=ten".to_owned(), 400, "bad_query"),
        ("/api/records?from=yesterday".to_owned(), 400, "bad_query"),
        ("/api/records?from=2026-01-06T00:00:00Z&to=2026-01-05T00:00:00Z".to_owned(), 400, "bad_query"),
        ("/api/records?cursor=zz".to_owned(), 400, "bad_query"),
        ("/api/records?form=2026-01-05T00:00:00Z".to_owned(), 400, "bad_query"),
    ] {
        let answer = daemon.http("GET", &path, Some(READ_TOKEN), "").await;
        assert_eq!((answer.status, answer.error_code().as_str()), (status, code), "{path}: {answer:?}");
        errors += 1.0;
    }
    let unauthorized = daemon.http("GET", "/api/records", None, "").await;
    assert_eq!(unauthorized.status, 401, "{unauthorized:?}");
    errors += 1.0;
    let after = sample(&daemon.metrics().await, "veertien_api_errors_total{status_class=\"4xx\"}").unwrap_or(0.0);
    assert_eq!(after - before, errors, "every bad request is counted");

    // All five in pages of two, oldest first, following next_cursor.
    let mut seen = Vec::new();
    let mut path = "/api/records?limit=2".to_owned();
    for _ in 0..10 {
        let page = daemon.http("GET", &path, Some(READ_TOKEN), "").await;
        assert_eq!(page.status, 200, "{page:?}");
        let page = page.json();
        for record in page["records"].as_array().expect("records") {
            seen.push(record["reference"].as_str().expect("reference").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/records?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, refs[..5].to_vec());

    // [09:01, 09:03) in +01:00 notation (the URL encodes '+' as %2B).
    let range = daemon
        .http("GET", "/api/records?from=2026-01-05T10:01:00%2B01:00&to=2026-01-05T09:03:00Z", Some(READ_TOKEN), "")
        .await;
    assert_eq!(range.status, 200, "{range:?}");
    let range = range.json();
    let in_range: Vec<&str> = range["records"].as_array().expect("records").iter().filter_map(|r| r["reference"].as_str()).collect();
    assert_eq!(in_range, [refs[1].as_str(), refs[2].as_str()]);
    assert!(range["next_cursor"].is_null());
    daemon.stop().await;
}
