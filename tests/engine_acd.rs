//! The ACD through the engine, in virtual time: an agent's phone registers with digest
//! authentication, a caller picks a queue in the menu, the daemon rings the agent as a
//! second leg with the call's reference number, bridges on answer and tears both legs
//! down when either side hangs up.

mod engine_world;

use engine_world::phones::*;
use engine_world::*;
use std::time::Duration;
use veertien::acd::Outcome;
use veertien::core::ids::MediaSessionId;
use veertien::engine::{EndReason, Input, MediaCommand, MediaEvent, Notification};
use veertien::sip::msg::{HeaderName, Message, Method, Request, Response};

const AGENT: &str = "127.0.0.1:5080";
fn register(cseq: u32, authorization: Option<String>) -> String {
    let auth = authorization.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\n\
Via: SIP/2.0/UDP {AGENT};branch=z9hG4bK-reg-{cseq}\n\
Max-Forwards: 70\n\
From: <sip:anouk@127.0.0.1>;tag=agent1\n\
To: <sip:anouk@127.0.0.1>\n\
Call-ID: reg-anouk\n\
CSeq: {cseq} REGISTER\n\
Contact: <sip:anouk@{AGENT}>\n\
Expires: 3600\n\
{auth}Content-Length: 0\n\n"
    )
}

fn last_response(world: &World) -> Response {
    world.responses().last().cloned().cloned().expect("a response")
}

/// Registers anouk's phone (401 challenge, then 200).
fn register_agent(world: &mut World) {
    register_phone(world, "anouk", ANOUK_HA1_MD5, AGENT);
}

/// The caller's media session (the first one opened).
fn caller_session(world: &World) -> MediaSessionId {
    world
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .expect("caller media opened")
}

/// Requests of `method` the daemon sent, retransmissions (same branch) counted once.
fn requests_sent(world: &World, method: Method) -> Vec<Request> {
    let mut seen = std::collections::HashSet::new();
    world
        .sent
        .iter()
        .filter_map(|(_, m)| match m {
            Message::Request(r) if r.method == method => Some(r.clone()),
            _ => None,
        })
        .filter(|r| seen.insert(r.top_via().ok().and_then(|v| v.branch().map(str::to_string))))
        .collect()
}

/// The phone's answer to the daemon's INVITE.
fn agent_answer(invite: &Request, status: u16) -> String {
    let mut response = Response::to_request(invite, status, if status == 200 { "OK" } else { "Busy Here" });
    let to = format!("{};tag=phone1", String::from_utf8_lossy(invite.headers.get(&HeaderName::To).expect("To")));
    response.headers.set(HeaderName::To, to);
    if status == 200 {
        response.headers.push(HeaderName::Contact, format!("<sip:anouk@{AGENT}>"));
        response.headers.push(HeaderName::ContentType, "application/sdp");
        response.body = bytes::Bytes::from_static(
            b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\n",
        );
    }
    String::from_utf8_lossy(&response.to_bytes()).replace("\r\n", "\n")
}

/// Registers the agent, calls 14036 and presses 0 (queue "algemeen"); returns the
/// daemon's INVITE to the agent and the caller's To tag.
fn call_until_agent_rings(world: &mut World) -> (Request, String) {
    register_agent(world);
    let tag = establish(world, "caller-1");
    let session = caller_session(world);
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit: '0' } });
    world.collect();
    let invites = requests_sent(world, Method::Invite);
    assert_eq!(invites.len(), 1, "the one available agent of the queue is rung");
    (invites[0].clone(), tag)
}

#[test]
fn wrong_password_gets_401_then_403_and_is_counted() {
    let mut world = World::new(config(0));
    world.deliver_from(AGENT, &register(1, None));
    let mut statuses = Vec::new();
    let mut challenge = last_response(&world);
    for attempt in 0..4 {
        if last_response(&world).status == 401 {
            challenge = last_response(&world);
        }
        let wrong = authorization(&challenge, "REGISTER", "sip:127.0.0.1:5060", "anouk", "00000000000000000000000000000000");
        world.deliver_from(AGENT, &register(2 + attempt, Some(wrong)));
        statuses.push(last_response(&world).status);
    }
    assert_eq!(statuses, vec![401, 401, 403, 403], "RFC 3261 §22: challenge, then refuse after the retry limit");
    assert!(world.engine.stats().auth_failures >= 3);
}

#[test]
fn caller_is_queued_and_bridged_to_the_registered_agent() {
    let mut world = World::new(config(0));
    let (invite, caller_tag) = call_until_agent_rings(&mut world);
    let reference = invite.headers.get_str(&HeaderName::from_bytes(b"X-Veertien-Reference")).expect("reference header").to_string();
    assert_eq!(reference.len(), 8);
    assert!(veertien::acd::reference::ReferenceNumber::is_valid(&reference), "check digit holds: {reference}");
    let call_info = invite.headers.get_str(&HeaderName::CallInfo).expect("Call-Info");
    assert!(call_info.contains(&reference) && call_info.contains("purpose=info"), "{call_info}");

    world.take_sent();
    world.deliver_from(AGENT, &agent_answer(&invite, 200));
    assert_eq!(requests_sent(&world, Method::Ack).len(), 1, "the daemon ACKs the agent's 2xx");
    assert!(world.media.iter().any(|m| matches!(m, MediaCommand::Bridge { .. })), "caller and agent media bridged");
    let answered = world.notifications.iter().any(|n| {
        matches!(n, Notification::Disposition(d) if matches!(&d.outcome, Outcome::Answered { agent, .. } if agent.as_str() == "anouk"))
    });
    assert!(answered, "disposition: answered by anouk");

    world.take_sent();
    world.deliver(&in_dialog("BYE", "caller-1", &caller_tag, 2, "z9hG4bK-bye-1"));
    let byes = requests_sent(&world, Method::Bye);
    assert_eq!(byes.len(), 1, "the caller's BYE ends the agent leg too");
    let ok = Response::to_request(&byes[0], 200, "OK");
    world.deliver_from(AGENT, &String::from_utf8_lossy(&ok.to_bytes()).replace("\r\n", "\n"));
    assert_eq!(world.ended(), vec![EndReason::CallerHungUp]);
    assert!(world.media.iter().filter(|m| matches!(m, MediaCommand::Close { .. })).count() >= 2, "both legs' media closed");
}

#[test]
fn callers_200_ok_carries_the_reference_the_agents_invite_carries() {
    let mut world = World::new(config(0));
    let (invite, _) = call_until_agent_rings(&mut world);
    let header = HeaderName::from_bytes(b"X-Veertien-Reference");
    let invite_ok = world
        .responses()
        .into_iter()
        .find(|r| r.status == 200 && r.cseq().is_ok_and(|cseq| cseq.method == Method::Invite))
        .expect("the caller's 200 OK")
        .clone();
    let in_ok = invite_ok.headers.get_str(&header).expect("reference header on the caller's 200 OK").to_string();
    let in_offer = invite.headers.get_str(&header).expect("reference header on the agent's INVITE");
    assert!(veertien::acd::reference::ReferenceNumber::is_valid(&in_ok), "check digit holds: {in_ok}");
    assert_eq!(in_ok, in_offer, "one reference per call, the same on both legs");
}

#[test]
fn agent_hanging_up_ends_the_callers_leg() {
    let mut world = World::new(config(0));
    let (invite, _) = call_until_agent_rings(&mut world);
    world.deliver_from(AGENT, &agent_answer(&invite, 200));
    let ack = requests_sent(&world, Method::Ack).pop().expect("ACK");
    world.take_sent();
    // The phone hangs up: BYE in its dialog (our tag is in its To).
    let from_tag = ack.from_header().expect("From").tag().expect("tag").to_string();
    let call_id = String::from_utf8_lossy(ack.call_id().expect("Call-ID")).into_owned();
    let bye = format!(
        "BYE sip:veertien@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP {AGENT};branch=z9hG4bK-agent-bye\nMax-Forwards: 70\nFrom: <sip:anouk@127.0.0.1>;tag=phone1\nTo: <sip:veertien@127.0.0.1>;tag={from_tag}\nCall-ID: {call_id}\nCSeq: 2 BYE\nContent-Length: 0\n\n"
    );
    world.deliver_from(AGENT, &bye);
    assert!(world.statuses().contains(&200), "the agent's BYE is answered");
    let to_caller = requests_sent(&world, Method::Bye);
    assert_eq!(to_caller.len(), 1, "the daemon hangs up the caller");
}

#[test]
fn busy_agent_is_not_the_end_and_a_leaving_caller_cancels_the_ring() {
    let mut world = World::new(config(0));
    let (invite, caller_tag) = call_until_agent_rings(&mut world);
    world.take_sent();
    world.deliver_from(AGENT, &agent_answer(&invite, 486));
    assert_eq!(world.engine.active_calls(), 1, "the caller keeps waiting");
    // After the busy agent's cool-down the ACD rings it again; the caller hangs up then.
    world.advance(Duration::from_secs(16));
    let again = requests_sent(&world, Method::Invite);
    assert_eq!(again.len(), 1, "the agent is offered the call again after its cool-down");
    world.take_sent();
    world.deliver(&in_dialog("BYE", "caller-1", &caller_tag, 2, "z9hG4bK-bye-2"));
    assert_eq!(requests_sent(&world, Method::Cancel).len(), 1, "the ringing agent leg is cancelled");
    let abandoned = world
        .notifications
        .iter()
        .any(|n| matches!(n, Notification::Disposition(d) if matches!(d.outcome, Outcome::Abandoned { .. })));
    assert!(abandoned, "disposition: abandoned in queue");
}

#[test]
fn outside_opening_hours_the_caller_hears_closed_and_is_hung_up() {
    // Monday 2025-11-24 20:00 UTC = 21:00 in Almere: closed.
    let mut world = World::at_wall(config(0), OPEN_WALL_MS + 4 * 3600 * 1000);
    establish(&mut world, "late-1");
    let closed_prompt = world.media.iter().any(|m| matches!(m, MediaCommand::Play { prompts, .. } if prompts.iter().any(|p| &*p.0 == "almere-gesloten")));
    assert!(closed_prompt, "{:?}", world.media);
    world.take_sent();
    world.advance(Duration::from_secs(61));
    assert_eq!(requests_sent(&world, Method::Bye).len(), 1, "hung up after the closed prompt");
}
