//! The engine's call records and its one ordered outbox, in virtual time: every call
//! that ends leaves exactly one record with the history of its legs, no phone number in
//! clear, written through the persist contract (retried when the store fails), and the
//! outputs of one input leave in the order they were produced, whatever their kind.

mod engine_world;

use engine_world::phones::*;
use engine_world::*;
use std::time::Duration;
use veertien::engine::{CallRecord, Input, IssuedReference, MediaEvent, Record};
use veertien::sip::msg::{HeaderName, Message, Method, Request, Response};

const AGENT: &str = "127.0.0.1:5080";

fn call_records(world: &World) -> Vec<CallRecord> {
    world.records.iter().map(|Record::Call(call)| call.clone()).collect()
}

#[test]
fn a_bye_is_answered_before_the_media_closes_and_the_call_ends() {
    let mut world = World::new(config(0));
    let tag = establish(&mut world, "call-order");
    world.trail.clear();
    world.deliver(&in_dialog("BYE", "call-order", &tag, 2, "z9hG4bK-order-bye"));
    // The 200 OK is produced first (RFC 3261 §15.1.2: the UAS answers the BYE), then the
    // call's media closes, then the call's handling and end notifications and its record.
    assert_eq!(world.trail, ["transmit 200", "media close", "notify CallHandled", "notify CallEnded", "persist"], "{:?}", world.trail);
}

#[test]
fn a_call_that_ends_in_the_menu_leaves_one_record_without_the_callers_number() {
    let mut world = World::new(config(0));
    let tag = establish(&mut world, "call-menu");
    world.advance(Duration::from_secs(3));
    world.deliver(&in_dialog("BYE", "call-menu", &tag, 2, "z9hG4bK-menu-bye"));
    let records = call_records(&world);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.tenant, "almere");
    assert_eq!(record.dialled, "14036");
    assert_eq!(record.disposition, "not_queued");
    assert_eq!(record.end_reason, "caller_hung_up");
    assert!(record.established_at_ms.is_some());
    assert_eq!(record.ended_at_ms - record.arrived_at_ms, 3_000);
    let hash = record.caller_hash.as_deref().expect("the From carries a number");
    assert_eq!(hash.len(), 64);
    let json = serde_json::to_string(record).expect("serialises");
    assert!(!json.contains("0612345678") && !json.contains("612345678"), "no phone number in clear: {json}");
    assert_eq!(world.engine.persist_stats().persisted, 1);
}

#[test]
fn the_same_caller_hashes_alike_and_another_caller_does_not() {
    let mut world = World::new(config(0));
    for call in ["c1", "c2"] {
        world.take_sent();
        let tag = establish(&mut world, call);
        world.deliver(&in_dialog("BYE", call, &tag, 2, &format!("z9hG4bK-{call}-bye")));
    }
    let other = invite("14036", "c3", "z9hG4bK-c3", OFFER).replace("0612345678", "0201234567");
    world.take_sent();
    world.deliver(&other);
    let ok = world.responses().into_iter().rev().find(|r| r.status == 200).expect("200").clone();
    let tag = to_tag(&ok);
    world.deliver(&in_dialog("ACK", "c3", &tag, 1, "z9hG4bK-c3-ack"));
    world.deliver(&in_dialog("BYE", "c3", &tag, 2, "z9hG4bK-c3-bye").replace("0612345678", "0201234567"));
    let hashes: Vec<Option<String>> = call_records(&world).into_iter().map(|r| r.caller_hash).collect();
    assert_eq!(hashes.len(), 3);
    assert_eq!(hashes[0], hashes[1], "a repeat caller is recognisable");
    assert_ne!(hashes[0], hashes[2]);
}

#[test]
fn a_write_the_store_refuses_is_retried_then_kept() {
    let mut world = World::new(config(0));
    world.store_fails = true;
    let tag = establish(&mut world, "call-retry");
    world.deliver(&in_dialog("BYE", "call-retry", &tag, 2, "z9hG4bK-retry-bye"));
    assert!(world.records.is_empty());
    assert_eq!(world.engine.persist_stats().failed, 1);
    assert_eq!(world.engine.persist_pending(), 1, "kept for a retry, not dropped");
    world.store_fails = false;
    world.advance(Duration::from_secs(6));
    assert_eq!(call_records(&world).len(), 1, "the retry wrote it");
    assert_eq!(world.engine.persist_pending(), 0);
}

#[test]
fn the_daemon_is_not_drained_while_a_record_is_not_yet_durable() {
    let mut world = World::new(config(0));
    world.store_fails = true;
    let tag = establish(&mut world, "call-drain");
    world.deliver(&in_dialog("BYE", "call-drain", &tag, 2, "z9hG4bK-drain-bye"));
    let now = world.now();
    world.engine.handle_input(Input::Shutdown { now, drain: Duration::from_secs(1) });
    world.collect();
    assert!(!world.engine.is_drained(), "a record still waits for the store");
    world.store_fails = false;
    world.advance(Duration::from_secs(6));
    assert!(world.engine.is_drained());
    let drained = world.notifications.iter().filter(|n| matches!(n, veertien::engine::Notification::Drained)).count();
    assert_eq!(drained, 1, "Drained is said once");
}

#[test]
fn a_reference_issued_before_a_restart_is_not_issued_again() {
    let first_reference = |world: &mut World| {
        establish(world, "call-ref");
        let ok = world.responses().into_iter().find(|r| r.status == 200).expect("200").clone();
        ok.headers.get_str(&HeaderName::from_bytes(b"X-Veertien-Reference")).expect("reference").to_string()
    };
    let mut before = World::new(config(0));
    let issued = first_reference(&mut before);
    let mut restarted = World::new(config(0));
    let now = restarted.now();
    let recent_references = vec![IssuedReference { tenant: "almere".into(), reference: issued.clone() }];
    restarted.engine.handle_input(Input::Restored { now, records: Vec::new(), recent_references });
    assert_ne!(first_reference(&mut restarted), issued, "the same seed would give the same number without the store");
}

// ---- an answered call with a hold, through the agent's phone ----

fn register_agent(world: &mut World) {
    register_phone(world, "anouk", ANOUK_HA1_MD5, AGENT);
}

fn invite_to_agent(world: &World) -> Request {
    world
        .sent
        .iter()
        .find_map(|(_, m)| match m {
            Message::Request(r) if r.method == Method::Invite => Some(r.clone()),
            _ => None,
        })
        .expect("the agent is rung")
}

fn agent_ok(invite: &Request) -> String {
    let mut response = Response::to_request(invite, 200, "OK");
    let to = format!("{};tag=phone1", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")));
    response.headers.set(HeaderName::To, to);
    response.headers.push(HeaderName::Contact, format!("<sip:anouk@{AGENT}>"));
    response.headers.push(HeaderName::ContentType, "application/sdp");
    response.body = bytes::Bytes::from_static(b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n");
    String::from_utf8_lossy(&response.to_bytes()).replace("\r\n", "\n")
}

fn reinvite(tag: &str, cseq: u32, direction: &str) -> String {
    let body = format!("v=0\r\no=- 1 {cseq} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\na={direction}\r\n");
    in_dialog("INVITE", "call-agent", tag, cseq, &format!("z9hG4bK-re-{cseq}"))
        .replace("Content-Length: 0\n\n", &format!("Content-Type: application/sdp\nContent-Length: {}\n\n{}", body.len(), body.replace("\r\n", "\n")))
}

#[test]
fn an_answered_call_records_its_queue_agent_leg_wait_talk_and_hold() {
    let mut world = World::new(config(0));
    register_agent(&mut world);
    let tag = establish(&mut world, "call-agent");
    let session = world
        .media
        .iter()
        .find_map(|m| match m {
            veertien::engine::MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .expect("caller media");
    world.advance(Duration::from_secs(2));
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit: '0' } });
    world.collect();
    let invite = invite_to_agent(&world);
    world.advance(Duration::from_secs(4));
    world.deliver_from(AGENT, &agent_ok(&invite));
    world.advance(Duration::from_secs(10));
    world.deliver(&reinvite(&tag, 2, "sendonly"));
    world.advance(Duration::from_secs(5));
    world.deliver(&reinvite(&tag, 3, "sendrecv"));
    world.advance(Duration::from_secs(20));
    world.deliver(&in_dialog("BYE", "call-agent", &tag, 4, "z9hG4bK-agent-call-bye"));
    let records = call_records(&world);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.disposition, "answered");
    assert_eq!(record.menu_choice.as_deref(), Some("0"));
    assert_eq!(record.queue.as_deref(), Some("algemeen"));
    assert_eq!(record.agent.as_deref(), Some("anouk"));
    assert_eq!(record.wait_ms, 4_000, "queued at the key press, answered 4 s later");
    assert_eq!(record.talk_ms, 35_000);
    assert_eq!(record.hold_ms, 5_000);
    assert!(record.wrap_up_ms > 0, "the queue gives after-call work");
    assert_eq!(record.legs.len(), 1);
    let leg = &record.legs[0];
    assert_eq!((leg.party.as_str(), leg.target.as_str(), leg.outcome.as_str()), ("agent", "anouk", "answered"));
    assert_eq!((leg.final_status, leg.ring_ms), (Some(200), 4_000));
    assert_eq!(leg.ended_at_ms, record.ended_at_ms, "the agent leg lasted until the call ended");
}

#[test]
fn a_caller_who_hangs_up_in_the_queue_is_recorded_as_abandoned() {
    let mut world = World::new(config(0));
    let tag = establish(&mut world, "call-abandon");
    let session = world
        .media
        .iter()
        .find_map(|m| match m {
            veertien::engine::MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .expect("caller media");
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit: '0' } });
    world.collect();
    world.advance(Duration::from_secs(40));
    world.deliver(&in_dialog("BYE", "call-abandon", &tag, 2, "z9hG4bK-abandon-bye"));
    let records = call_records(&world);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].disposition, "abandoned");
    assert_eq!(records[0].wait_ms, 40_000);
    assert_eq!(records[0].queue.as_deref(), Some("algemeen"));
}
