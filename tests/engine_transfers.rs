//! Transfers in virtual time, every path: a blind REFER to a backoffice group answered
//! (with the agent gone and with the agent still there), no answer with the agent still
//! there and with the agent gone, busy, outside the group's hours, in-turn ringing, the
//! hop limit, refused REFERs, warm transfers over the API (complete and cancel), and a
//! menu choice that routes to a group. In every path the caller's leg is never ended by
//! the daemon: no BYE ever goes to the trunk.

mod engine_world;

use engine_world::phones::*;
use engine_world::*;
use std::time::Duration;
use veertien::engine::{
    Command, ContextUpdate, Input, MediaCommand, MediaEvent, Notification, Record, Reply, TransferMode, TransferOutcome,
};
use veertien::sip::msg::{HeaderName, Method, Request};

const ANOUK: &str = "127.0.0.1:5080";
const DESK_1: &str = "127.0.0.1:5091";
const DESK_2: &str = "127.0.0.1:5092";
const DESK_3: &str = "127.0.0.1:5093";

/// One tenant on 14036, open every day, one queue served by anouk, and backoffice
/// groups of desk phones on loopback.
const PLAN: &str = r#"
[tenant]
id = "proef"
name = "Gemeente Proef"
realm = "almere.veertien"
numbers = ["14036"]
max_transfers = 1

[hours]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]
close_on_public_holidays = false

[[queue]]
id = "algemeen"
name = "Algemeen"
wrap_up_s = 5

[[queue]]
id = "belastingen"
name = "Belastingen"

[menu]
prompt = "welcome"
default = "queue:algemeen"

[menu.options]
"1" = "queue:algemeen"
"2" = "group:balie"
"3" = "group:leiding"

[[agent]]
id = "anouk"
name = "Anouk"
ha1_md5 = "3ed34954af728575b0e207f558388c1f"
queues = ["algemeen", "belastingen"]

[[group]]
id = "balie"
name = "Balie"
members = ["sip:balie1@127.0.0.1:5091", "sip:balie2@127.0.0.1:5092"]
ring_timeout_s = 10

[[group]]
id = "beurt"
name = "Om de beurt"
members = ["sip:beurt1@127.0.0.1:5091", "sip:beurt2@127.0.0.1:5093"]
ring = "in-turn"
ring_timeout_s = 20

[[group]]
id = "leiding"
name = "Teamleiding"
members = ["anouk"]

[[group]]
id = "nacht"
name = "Alleen op zondag 3 uur"
members = ["sip:nacht@127.0.0.1:5093"]
hours = { sun = ["03:00-04:00"] }

[[group]]
id = "extern"
name = "Buiten bereik"
members = ["sip:balie@backoffice.example"]
"#;

fn world() -> World {
    let mut config = config(0);
    config.rtp_port_max = 20100;
    World::with_tenant(config, PLAN)
}

/// A caller connected to anouk: returns the caller's dialog tag, and anouk's INVITE and
/// the To tag her phone answered with.
fn connected_call(world: &mut World, call_id: &str) -> (String, Request) {
    register_phone(world, "anouk", ANOUK_HA1_MD5, ANOUK);
    let tag = establish(world, call_id);
    press(world, '1');
    let invite = requests_to(world, ANOUK, Method::Invite).pop().expect("anouk is rung");
    world.deliver_from(ANOUK, &phone_answer(&invite, 200, "anouk-phone", ANOUK));
    assert!(bridged(world, caller_media(world), leg_media(world, &invite)), "caller and anouk talk");
    (tag, invite)
}

fn press(world: &mut World, digit: char) {
    let session = caller_media(world);
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session, digit } });
    world.collect();
}

/// The caller's media session: the first one opened.
fn caller_media(world: &World) -> veertien::core::ids::MediaSessionId {
    world
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .expect("caller media")
}

/// The media session the daemon offered in `invite` (by its SDP port).
fn leg_media(world: &World, invite: &Request) -> veertien::core::ids::MediaSessionId {
    media_of_sdp(world, &invite.body)
}

/// The media session whose port our 2xx `ok` answered with (a leg we answered).
fn media_answered_in(world: &World, ok: &veertien::sip::msg::Response) -> veertien::core::ids::MediaSessionId {
    media_of_sdp(world, &ok.body)
}

/// The media session opened on the audio port of the daemon's SDP `body`.
fn media_of_sdp(world: &World, body: &[u8]) -> veertien::core::ids::MediaSessionId {
    let body = String::from_utf8_lossy(body).into_owned();
    let port: u16 = body
        .lines()
        .find_map(|line| line.strip_prefix("m=audio "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .expect("an audio port");
    world
        .media
        .iter()
        .rev()
        .find_map(|m| match m {
            MediaCommand::Open { session, rtp_port, .. } if *rtp_port == port => Some(*session),
            _ => None,
        })
        .expect("the leg's media session")
}

/// True when the last bridge command naming `a` bridged it to `b`.
fn bridged(world: &World, a: veertien::core::ids::MediaSessionId, b: veertien::core::ids::MediaSessionId) -> bool {
    world.media.iter().rev().find_map(|m| match m {
        MediaCommand::Bridge { a: x, b: y } if *x == a || *y == a => Some((*x == a && *y == b) || (*x == b && *y == a)),
        MediaCommand::Unbridge { a: x, b: y } if *x == a || *y == a => Some(false),
        _ => None,
    }) == Some(true)
}

fn refer(world: &mut World, invite: &Request, cseq: u32, target: &str) {
    let line = format!("Refer-To: <{target}>\nReferred-By: <sip:anouk@127.0.0.1>\n");
    world.deliver_from(ANOUK, &phone_request(invite, "anouk-phone", ANOUK, "REFER", cseq, &line));
}

/// The sipfrag status lines of the NOTIFYs anouk's phone received, in order (a
/// retransmission, with the same CSeq, counted once).
fn sipfrags(world: &World) -> Vec<String> {
    let mut notifies = requests_to(world, ANOUK, Method::Notify);
    notifies.dedup_by_key(|notify| notify.cseq().map(|cseq| cseq.seq).unwrap_or(0));
    let mut seen = std::collections::HashSet::new();
    notifies.retain(|notify| seen.insert(notify.cseq().map(|cseq| cseq.seq).unwrap_or(0)));
    notifies
        .iter()
        .map(|notify| {
            let state = notify.headers.get_str(&HeaderName::from_bytes(b"Subscription-State")).unwrap_or("").to_string();
            let body = String::from_utf8_lossy(&notify.body).trim().to_string();
            format!("{body} [{}]", state.split(';').next().unwrap_or(""))
        })
        .collect()
}

fn byes_to_trunk(world: &World) -> usize {
    requests_to(world, TRUNK, Method::Bye).len()
}

fn transfer_outcomes(world: &World) -> Vec<TransferOutcome> {
    world
        .notifications
        .iter()
        .filter_map(|n| match n {
            Notification::TransferEnded { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect()
}

fn record(world: &World) -> veertien::engine::CallRecord {
    match world.records.last() {
        Some(Record::Call(record)) => record.clone(),
        None => panic!("no record"),
    }
}

fn reference_of(world: &World) -> String {
    let ok = world.responses().into_iter().find(|r| r.status == 200 && r.headers.get(&HeaderName::from_bytes(b"X-Veertien-Reference")).is_some());
    ok.and_then(|r| r.headers.get_str(&HeaderName::from_bytes(b"X-Veertien-Reference")).map(str::to_string)).expect("reference")
}

#[test]
fn a_blind_refer_to_a_group_rings_its_members_with_context_and_the_answering_one_gets_the_caller() {
    let mut world = world();
    let (tag, invite) = connected_call(&mut world, "blind-ok");
    let reference = reference_of(&world);
    let now = world.now();
    let context = ContextUpdate { subject: Some("Paspoort kwijt".into()), ..ContextUpdate::default() };
    world.engine.handle_command(now, Command::SetContext { reference: reference.clone(), context }).expect("context set");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060");
    assert_eq!(world.responses().last().map(|r| r.status), Some(200), "RFC 7647: REFER accepted with 200");
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]"]);
    let desk_1 = requests_to(&world, DESK_1, Method::Invite).pop().expect("balie1 rings");
    let desk_2 = requests_to(&world, DESK_2, Method::Invite).pop().expect("balie2 rings together");
    let header = |name: &[u8]| desk_1.headers.get_str(&HeaderName::from_bytes(name)).unwrap_or("").to_string();
    assert_eq!(header(b"X-Veertien-Reference"), reference);
    let uui = format!("04{};encoding=hex;purpose=isdn-uui;content=isdn-uui", reference.bytes().map(|b| format!("{b:02X}")).collect::<String>());
    assert_eq!(header(b"User-to-User"), uui);
    assert_eq!(header(b"Call-Info"), format!("<http://127.0.0.1:8080/api/calls/{reference}>;purpose=info"));
    assert!(header(b"Referred-By").contains("anouk"), "{}", header(b"Referred-By"));
    assert!(header(b"From").starts_with(&format!("\"Ref {reference} Paspoort kwijt\"")), "{}", header(b"From"));
    // The agent hangs up at once, as agents do: the transfer goes on (RFC 3515 §2.4.4).
    world.deliver_from(ANOUK, &phone_request(&invite, "anouk-phone", ANOUK, "BYE", 3, ""));
    assert_eq!(world.responses().last().map(|r| r.status), Some(200));
    assert!(requests_to(&world, DESK_1, Method::Cancel).is_empty(), "the agent leaving does not withdraw the transfer");
    world.advance(Duration::from_secs(3));
    world.deliver_from(DESK_2, &phone_answer(&desk_2, 200, "desk2", DESK_2));
    assert_eq!(requests_to(&world, DESK_2, Method::Ack).len(), 1);
    assert!(!requests_to(&world, DESK_1, Method::Cancel).is_empty(), "the other member stops ringing");
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &desk_2)), "caller and balie2 talk");
    assert_eq!(transfer_outcomes(&world), [TransferOutcome::Answered]);
    let now = world.now();
    let Ok(Reply::Call(view)) = world.engine.handle_command(now, Command::CallByReference(reference)) else { panic!("call view") };
    assert_eq!(view.phase, "connected");
    let parties: Vec<&str> = view.legs.iter().map(|leg| leg.party).collect();
    assert_eq!(parties[0], "caller");
    assert!(parties.contains(&"backoffice"));
    world.advance(Duration::from_secs(30));
    world.deliver(&in_dialog("BYE", "blind-ok", &tag, 2, "z9hG4bK-blind-ok-bye"));
    assert_eq!(byes_to_trunk(&world), 0);
    let record = record(&world);
    assert_eq!(record.handling, "transferred_cold");
    assert_eq!(record.subject.as_deref(), Some("Paspoort kwijt"));
    assert_eq!(record.transfers.len(), 1);
    assert_eq!((record.transfers[0].target.as_str(), record.transfers[0].outcome.as_str()), ("balie", "answered"));
    assert_eq!(record.transfers[0].answered_by.as_deref(), Some("sip:balie2@127.0.0.1:5092"));
    let hops: Vec<(&str, &str)> = record.legs.iter().map(|leg| (leg.party.as_str(), leg.outcome.as_str())).collect();
    assert!(hops.contains(&("backoffice", "answered")) && hops.contains(&("backoffice", "cancelled")), "{hops:?}");
}

#[test]
fn an_agent_who_stays_hears_the_final_status_and_is_hung_up_once_the_member_answers() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "blind-stay");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060");
    let desk_1 = requests_to(&world, DESK_1, Method::Invite).pop().expect("balie1 rings");
    world.deliver_from(DESK_1, &phone_answer(&desk_1, 200, "desk1", DESK_1));
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]", "SIP/2.0 200 OK [terminated]"]);
    assert_eq!(requests_to(&world, ANOUK, Method::Bye).len(), 1, "the daemon ends the agent's leg");
    assert_eq!(byes_to_trunk(&world), 0);
}

#[test]
fn no_answer_while_the_agent_is_still_there_gives_the_caller_back_to_the_agent() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "bounce-agent");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060");
    let caller = caller_media(&world);
    assert!(!bridged(&world, caller, leg_media(&world, &invite)), "the caller holds while the group rings");
    world.advance(Duration::from_secs(11));
    assert!(!requests_to(&world, DESK_1, Method::Cancel).is_empty());
    assert!(!requests_to(&world, DESK_2, Method::Cancel).is_empty());
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]", "SIP/2.0 480 Temporarily Unavailable [terminated]"]);
    assert!(bridged(&world, caller, leg_media(&world, &invite)), "back with the agent");
    assert_eq!(transfer_outcomes(&world), [TransferOutcome::Bounced(veertien::engine::BounceReason::NoAnswer)]);
    assert_eq!(byes_to_trunk(&world), 0);
}

#[test]
fn no_answer_after_the_agent_left_puts_the_caller_at_the_head_of_the_queue_with_a_prompt() {
    let mut world = world();
    let (tag, invite) = connected_call(&mut world, "bounce-queue");
    let reference = reference_of(&world);
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060");
    world.deliver_from(ANOUK, &phone_request(&invite, "anouk-phone", ANOUK, "BYE", 3, ""));
    world.advance(Duration::from_secs(11));
    let prompt = world.media.iter().rev().find_map(|m| match m {
        MediaCommand::Play { prompts, .. } => Some(prompts.iter().map(|p| p.0.to_string()).collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(prompt, Some(vec!["transfer_failed".to_string()]));
    // After her wrap-up anouk is offered the same call again, with the same reference.
    world.advance(Duration::from_secs(6));
    let again = requests_to(&world, ANOUK, Method::Invite).pop().expect("the call is offered again");
    let offered = again.headers.get_str(&HeaderName::from_bytes(b"X-Veertien-Reference")).map(str::to_string);
    assert_eq!(offered, Some(reference));
    assert_eq!(byes_to_trunk(&world), 0, "the caller was never hung up on");
    world.deliver(&in_dialog("BYE", "bounce-queue", &tag, 2, "z9hG4bK-bounce-queue-bye"));
    let record = record(&world);
    assert_eq!(record.handling, "bounced");
    assert_eq!(record.transfers[0].outcome, "no_answer");
}

#[test]
fn busy_members_bounce_with_486() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "busy");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060");
    for (addr, tag) in [(DESK_1, "d1"), (DESK_2, "d2")] {
        let desk = requests_to(&world, addr, Method::Invite).pop().expect("rings");
        world.deliver_from(addr, &phone_answer(&desk, 486, tag, addr));
    }
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 486 Busy Here [terminated]"));
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)));
}

#[test]
fn a_group_outside_its_hours_bounces_at_once_and_an_unreachable_one_too() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "closed");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:nacht@127.0.0.1:5060");
    assert!(requests_to(&world, DESK_3, Method::Invite).is_empty(), "a closed group is not rung");
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 480 Temporarily Unavailable [terminated]"));
    refer(&mut world, &invite, 3, "sip:extern@127.0.0.1:5060");
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 404 Not Found [terminated]"));
    use veertien::engine::BounceReason;
    assert_eq!(transfer_outcomes(&world), [TransferOutcome::Bounced(BounceReason::Closed), TransferOutcome::Bounced(BounceReason::Unreachable)]);
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)));
}

#[test]
fn an_in_turn_group_rings_one_member_after_the_other() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "in-turn");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:beurt@127.0.0.1:5060");
    assert_eq!(requests_to(&world, DESK_1, Method::Invite).len(), 1);
    assert!(requests_to(&world, DESK_3, Method::Invite).is_empty(), "the second waits its turn");
    world.advance(Duration::from_secs(11));
    assert!(!requests_to(&world, DESK_1, Method::Cancel).is_empty(), "the first rang its 10 s share");
    let second = requests_to(&world, DESK_3, Method::Invite).pop().expect("then the second rings");
    world.deliver_from(DESK_3, &phone_answer(&second, 200, "d3", DESK_3));
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &second)));
}

#[test]
fn unknown_targets_malformed_and_unpermitted_refers_leave_the_caller_with_the_agent() {
    let mut world = world();
    let (tag, invite) = connected_call(&mut world, "refused");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:nobody@127.0.0.1:5060");
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]", "SIP/2.0 404 Not Found [terminated]"]);
    world.deliver_from(ANOUK, &phone_request(&invite, "anouk-phone", ANOUK, "REFER", 3, ""));
    assert_eq!(world.responses().last().map(|r| r.status), Some(400), "RFC 3515 §2.4.1: no Refer-To");
    let two = "Refer-To: <sip:balie@127.0.0.1>\nRefer-To: <sip:beurt@127.0.0.1>\n";
    world.deliver_from(ANOUK, &phone_request(&invite, "anouk-phone", ANOUK, "REFER", 4, two));
    assert_eq!(world.responses().last().map(|r| r.status), Some(400), "two Refer-To");
    let from_caller = in_dialog("REFER", "refused", &tag, 2, "z9hG4bK-caller-refer")
        .replace("Content-Length: 0", "Refer-To: <sip:balie@127.0.0.1>\nContent-Length: 0");
    world.deliver(&from_caller);
    assert_eq!(world.responses().last().map(|r| r.status), Some(403), "the caller may not transfer");
    let unknown = in_dialog("REFER", "no-such-call", "no-tag", 2, "z9hG4bK-unknown-refer")
        .replace("Content-Length: 0", "Refer-To: <sip:balie@127.0.0.1>\nContent-Length: 0");
    world.deliver(&unknown);
    assert_eq!(world.responses().last().map(|r| r.status), Some(481));
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)));
    // The unknown dialog's 481 is the dialog layer's answer, not a refused transfer.
    assert_eq!(world.engine.stats().transfers_refused, 4);
}

#[test]
fn the_hop_limit_refuses_a_further_transfer_with_403_and_the_caller_stays() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "hops");
    world.take_sent();
    // A transfer to a queue completes at once: the one hop this tenant allows. The
    // tenant's own number names its front office (the menu's default queue).
    refer(&mut world, &invite, 2, "sip:14036@127.0.0.1:5060");
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 200 OK [terminated]"));
    let bye = requests_to(&world, ANOUK, Method::Bye).pop().expect("the agent's leg ends");
    world.deliver_from(ANOUK, &phone_ok(&bye));
    world.advance(Duration::from_secs(6));
    let again = requests_to(&world, ANOUK, Method::Invite).pop().expect("the front office offers it to anouk again");
    world.deliver_from(ANOUK, &phone_answer(&again, 200, "anouk-2", ANOUK));
    world.take_sent();
    let line = "Refer-To: <sip:balie@127.0.0.1:5060>\n";
    world.deliver_from(ANOUK, &phone_request(&again, "anouk-2", ANOUK, "REFER", 2, line));
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]", "SIP/2.0 403 Forbidden [terminated]"]);
    assert!(requests_to(&world, DESK_1, Method::Invite).is_empty());
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &again)));
}

#[test]
fn a_warm_transfer_over_the_api_consults_then_completes() {
    let mut world = world();
    let (tag, invite) = connected_call(&mut world, "warm");
    let reference = reference_of(&world);
    let now = world.now();
    let command = Command::Transfer {
        reference: reference.clone(),
        target: "balie".into(),
        mode: TransferMode::Warm,
        context: ContextUpdate { notes: Some("Wil een afspraak".into()), ..ContextUpdate::default() },
    };
    world.engine.handle_command(now, command).expect("transfer started");
    world.collect();
    let desk_1 = requests_to(&world, DESK_1, Method::Invite).pop().expect("balie1 rings");
    world.deliver_from(DESK_1, &phone_answer(&desk_1, 200, "desk1", DESK_1));
    let (caller, agent, member) = (caller_media(&world), leg_media(&world, &invite), leg_media(&world, &desk_1));
    assert!(bridged(&world, agent, member), "the agent consults the member");
    assert!(!bridged(&world, caller, agent), "the caller holds");
    let now = world.now();
    let Ok(Reply::Call(view)) = world.engine.handle_command(now, Command::CallByReference(reference.clone())) else { panic!() };
    assert_eq!(view.transfer.map(|t| t.state), Some("consulting"));
    assert_eq!(view.notes.as_deref(), Some("Wil een afspraak"));
    let now = world.now();
    world.engine.handle_command(now, Command::CompleteTransfer(reference)).expect("completed");
    world.collect();
    assert!(bridged(&world, caller, member), "the member has the caller");
    assert_eq!(requests_to(&world, ANOUK, Method::Bye).len(), 1);
    world.deliver(&in_dialog("BYE", "warm", &tag, 2, "z9hG4bK-warm-bye"));
    assert_eq!(record(&world).handling, "transferred_warm");
    assert_eq!(byes_to_trunk(&world), 0);
}

#[test]
fn a_cancelled_warm_transfer_reconnects_caller_and_agent() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "warm-cancel");
    let reference = reference_of(&world);
    let now = world.now();
    let command = Command::Transfer { reference: reference.clone(), target: "balie".into(), mode: TransferMode::Warm, context: ContextUpdate::default() };
    world.engine.handle_command(now, command).expect("transfer started");
    world.collect();
    let desk_1 = requests_to(&world, DESK_1, Method::Invite).pop().expect("balie1 rings");
    world.deliver_from(DESK_1, &phone_answer(&desk_1, 200, "desk1", DESK_1));
    let now = world.now();
    world.engine.handle_command(now, Command::CancelTransfer(reference.clone())).expect("cancelled");
    world.collect();
    assert_eq!(requests_to(&world, DESK_1, Method::Bye).len(), 1, "the consultation ends");
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)), "caller and agent again");
    assert_eq!(transfer_outcomes(&world), [TransferOutcome::Cancelled]);
    let now = world.now();
    let error = world.engine.handle_command(now, Command::CompleteTransfer(reference)).expect_err("nothing to complete");
    assert_eq!(error.to_string(), "no transfer to complete or cancel");
}

#[test]
fn a_menu_choice_for_a_group_rings_it_and_a_bounce_lands_in_the_default_queue() {
    let mut world = world();
    register_phone(&mut world, "anouk", ANOUK_HA1_MD5, ANOUK);
    let tag = establish(&mut world, "menu-group");
    press(&mut world, '2');
    assert_eq!(requests_to(&world, DESK_1, Method::Invite).len(), 1, "the group rings");
    assert!(requests_to(&world, ANOUK, Method::Invite).is_empty());
    world.advance(Duration::from_secs(11));
    assert!(!requests_to(&world, ANOUK, Method::Invite).is_empty(), "nobody answered: the default queue offers it to anouk");
    world.deliver(&in_dialog("BYE", "menu-group", &tag, 2, "z9hG4bK-menu-group-bye"));
    assert_eq!(record(&world).transfers[0].outcome, "no_answer");
    assert_eq!(byes_to_trunk(&world), 0);
}

/// anouk's phone calls `target` through the daemon (a consultation), answering the digest
/// challenge: the INVITE text for CSeq `cseq` with `authorization`.
fn consult_invite(target: &str, cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
    format!(
        "INVITE sip:{target}@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP {ANOUK};branch=z9hG4bK-consult-{cseq}\nMax-Forwards: 70\nFrom: <sip:anouk@127.0.0.1>;tag=consult-anouk\nTo: <sip:{target}@127.0.0.1>\nCall-ID: consult-1\nCSeq: {cseq} INVITE\nContact: <sip:anouk@{ANOUK}>\n{auth}Content-Type: application/sdp\nContent-Length: {}\n\n{}",
        OFFER.replace('\n', "\r\n").len(),
        OFFER
    )
}

#[test]
fn an_attended_transfer_bridges_the_caller_to_the_consulted_member_without_ringing_again() {
    let mut world = world();
    let (tag, invite) = connected_call(&mut world, "attended");
    world.take_sent();
    // The consultation: anouk's phone calls the group through the daemon, with digest.
    world.deliver_from(ANOUK, &consult_invite("balie", 1, None));
    let challenge = world.responses().last().cloned().cloned().expect("a challenge");
    assert_eq!(challenge.status, 401, "an agent's INVITE is authenticated like its REGISTER");
    let authorization = authorization(&challenge, "INVITE", "sip:balie@127.0.0.1:5060", "anouk", ANOUK_HA1_MD5);
    world.deliver_from(ANOUK, &consult_invite("balie", 2, Some(&authorization)));
    let desk_1 = requests_to(&world, DESK_1, Method::Invite).pop().expect("the group rings for the consultation");
    assert!(world.statuses().contains(&180), "the agent hears ringing");
    world.deliver_from(DESK_1, &phone_answer(&desk_1, 200, "desk1", DESK_1));
    let ok = world.responses().into_iter().rev().find(|r| r.status == 200 && r.cseq().map(|c| c.seq) == Ok(2)).cloned().expect("the consultation is answered");
    let consult_tag = to_tag(&ok);
    let ack = format!(
        "ACK sip:veertien@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP {ANOUK};branch=z9hG4bK-consult-ack\nMax-Forwards: 70\nFrom: <sip:anouk@127.0.0.1>;tag=consult-anouk\nTo: <sip:balie@127.0.0.1>;tag={consult_tag}\nCall-ID: consult-1\nCSeq: 2 ACK\nContent-Length: 0\n\n"
    );
    world.deliver_from(ANOUK, &ack);
    assert!(bridged(&world, leg_media(&world, &desk_1), media_answered_in(&world, &ok)), "the agent consults the member");
    let caller = caller_media(&world);
    assert!(!bridged(&world, caller, leg_media(&world, &desk_1)));
    // REFER with Replaces naming the consultation (to-tag: the daemon's, from-tag: the phone's).
    let replaces = format!("consult-1%3Bto-tag%3D{consult_tag}%3Bfrom-tag%3Dconsult-anouk");
    refer(&mut world, &invite, 2, &format!("sip:balie@127.0.0.1:5060?Replaces={replaces}"));
    assert_eq!(sipfrags(&world), ["SIP/2.0 100 Trying [active]", "SIP/2.0 200 OK [terminated]"]);
    assert!(bridged(&world, caller, leg_media(&world, &desk_1)), "caller and the consulted member talk");
    assert_eq!(requests_to(&world, DESK_1, Method::Invite).len(), 1, "the member is not rung again");
    assert!(requests_to(&world, DESK_1, Method::Bye).is_empty(), "the member's leg is kept");
    assert_eq!(requests_to(&world, ANOUK, Method::Bye).len(), 2, "both of the agent's legs end");
    world.deliver(&in_dialog("BYE", "attended", &tag, 2, "z9hG4bK-attended-bye"));
    assert_eq!(requests_to(&world, DESK_1, Method::Bye).len(), 1, "the caller's hang-up ends the member's leg");
    let record = record(&world);
    assert_eq!(record.handling, "transferred_warm");
    assert_eq!(record.transfers[0].answered_by.as_deref(), Some("sip:balie1@127.0.0.1:5091"));
    assert_eq!(world.records.len(), 1, "the consultation leaves no record of its own");
    assert_eq!(byes_to_trunk(&world), 0);
}

#[test]
fn a_refer_naming_no_consultation_gets_481_and_another_agents_call_is_refused() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "attended-481");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:balie@127.0.0.1:5060?Replaces=nope%3Bto-tag%3D1%3Bfrom-tag%3D2");
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 481 Call/Transaction Does Not Exist [terminated]"));
    refer(&mut world, &invite, 3, "sip:balie@127.0.0.1:5060?Replaces=broken");
    assert_eq!(sipfrags(&world).last().map(String::as_str), Some("SIP/2.0 400 Bad Request [terminated]"));
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)), "the caller stays with the agent");
    // An INVITE from an agent's phone with a wrong password is refused, never routed.
    world.deliver_from(ANOUK, &consult_invite("balie", 1, None));
    let challenge = world.responses().last().cloned().cloned().expect("a challenge");
    let wrong = authorization(&challenge, "INVITE", "sip:balie@127.0.0.1:5060", "anouk", "00000000000000000000000000000000");
    world.deliver_from(ANOUK, &consult_invite("balie", 2, Some(&wrong)));
    assert!(matches!(world.responses().last().map(|r| r.status), Some(401 | 403)));
    assert!(requests_to(&world, DESK_1, Method::Invite).is_empty());
}

#[test]
fn an_invite_with_replaces_gets_the_rfc_3891_status() {
    let mut world = world();
    let tag = establish(&mut world, "replaced");
    let mut attempt = 0;
    let mut status_of = |world: &mut World, replaces: &[&str]| {
        attempt += 1;
        let lines: String = replaces.iter().map(|value| format!("Replaces: {value}\n")).collect();
        let request = invite("14036", &format!("replacer-{attempt}"), &format!("z9hG4bK-replacer-{attempt}"), OFFER)
            .replace("Contact:", &format!("Require: replaces\n{lines}Contact:"));
        world.take_sent();
        world.deliver(&request);
        world.responses().last().map(|r| r.status)
    };
    assert_eq!(status_of(&mut world, &["nope;to-tag=1;from-tag=2"]), Some(481), "no such dialog");
    let ours = format!("replaced;to-tag={tag};from-tag=caller1");
    assert_eq!(status_of(&mut world, &[&ours, &ours]), Some(400), "two Replaces headers");
    assert_eq!(status_of(&mut world, &["replaced;to-tag=1"]), Some(400), "no from-tag");
    assert_eq!(status_of(&mut world, &[&format!("{ours};early-only")]), Some(486), "early-only against a confirmed dialog");
    assert_eq!(status_of(&mut world, &[&ours]), Some(403), "the daemon replaces dialogs only on REFER");
    assert_eq!(world.arrived(), 1, "no call was created");
}

/// Media sessions the daemon opened, in order.
fn opened_media(world: &World) -> Vec<veertien::core::ids::MediaSessionId> {
    world
        .media
        .iter()
        .filter_map(|m| match m {
            MediaCommand::Open { session, .. } => Some(*session),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agent_on_a_groups_call_is_offered_no_queue_call_until_it_ends() {
    let mut world = world();
    register_phone(&mut world, "anouk", ANOUK_HA1_MD5, ANOUK);
    let tag = establish(&mut world, "member-first");
    press(&mut world, '3');
    let member = requests_to(&world, ANOUK, Method::Invite).pop().expect("anouk rings as the group's member");
    world.deliver_from(ANOUK, &phone_answer(&member, 200, "anouk-member", ANOUK));
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &member)), "the caller talks to anouk");
    let before = opened_media(&world).len();
    establish(&mut world, "queued-second");
    let second = opened_media(&world)[before];
    let now = world.now();
    world.engine.handle_input(Input::Media { now, event: MediaEvent::Digit { session: second, digit: '1' } });
    world.collect();
    world.advance(Duration::from_secs(20));
    assert_eq!(requests_to(&world, ANOUK, Method::Invite).len(), 1, "no queue call rings a phone that is on a group's call");
    world.deliver(&in_dialog("BYE", "member-first", &tag, 2, "z9hG4bK-member-first-bye"));
    let bye = requests_to(&world, ANOUK, Method::Bye).pop().expect("the member's leg ends with the caller");
    world.deliver_from(ANOUK, &phone_ok(&bye));
    let invites = requests_to(&world, ANOUK, Method::Invite);
    assert_eq!(invites.len(), 2, "free again, anouk is offered the waiting caller");
    assert_ne!(invites[1].headers.get(&HeaderName::CallId), member.headers.get(&HeaderName::CallId), "a new call, not the group's");
}

#[test]
fn a_transfer_to_a_group_whose_agent_is_on_a_queue_call_bounces_busy_without_ringing_it() {
    let mut world = world();
    let (_, invite) = connected_call(&mut world, "member-busy");
    world.take_sent();
    refer(&mut world, &invite, 2, "sip:leiding@127.0.0.1:5060");
    assert!(requests_to(&world, ANOUK, Method::Invite).is_empty(), "anouk is talking: her phone is not rung again");
    assert_eq!(transfer_outcomes(&world), [TransferOutcome::Bounced(veertien::engine::BounceReason::Busy)]);
    assert!(bridged(&world, caller_media(&world), leg_media(&world, &invite)), "the caller stays with anouk");
}
