//! Scenario tests of the engine in virtual time: raw SIP in, outputs checked. No sockets,
//! no sleeping: the test advances the engine's clock to its next deadline.

mod engine_world;

use engine_world::*;
use std::time::Duration;
use veertien::engine::{EndReason, Input, MediaCommand, Notification};
use veertien::sip::msg::{HeaderName, Message, Response};
use veertien::sip::transport::TransportKind;

#[test]
fn call_to_tenant_number_is_answered_with_sdp_and_ended_by_bye() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-a", "z9hG4bK-a", OFFER));
    assert_eq!(world.statuses(), vec![100, 200]);
    let ok = world.responses()[1].clone();
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(sdp.contains("m=audio 200"), "answer uses a port from the pool: {sdp}");
    assert!(ok.headers.get(&HeaderName::Contact).is_some(), "2xx to INVITE carries Contact");
    assert!(matches!(world.media.first(), Some(MediaCommand::Open { rtp_port: 20000, .. })));
    let tag = to_tag(&ok);
    world.deliver(&in_dialog("ACK", "call-a", &tag, 1, "z9hG4bK-a-ack"));
    assert!(world.notifications.iter().any(|n| matches!(n, Notification::CallEstablished { .. })));
    world.take_sent();
    world.deliver(&in_dialog("BYE", "call-a", &tag, 2, "z9hG4bK-a-bye"));
    assert_eq!(world.statuses(), vec![200]);
    assert_eq!(world.ended(), vec![EndReason::CallerHungUp]);
    assert!(matches!(world.media.last(), Some(MediaCommand::Close { rtp_port: 20000, .. })));
    assert_eq!(world.engine.active_calls(), 0);
}

#[test]
fn the_other_tenant_numbers_reach_almere_too() {
    let mut world = World::new(config(0));
    world.deliver(&invite("0365399911", "call-n", "z9hG4bK-n", OFFER));
    assert_eq!(world.statuses(), vec![100, 200]);
}

#[test]
fn retransmitted_invites_create_one_call() {
    let mut world = World::new(config(0));
    let text = invite("14036", "call-r", "z9hG4bK-r", OFFER);
    for _ in 0..50 {
        world.deliver(&text);
    }
    assert_eq!(world.arrived(), 1);
    assert_eq!(world.engine.active_calls(), 1);
    // RFC 6026 §7.1: after the 2xx the transaction absorbs retransmitted INVITEs; the 2xx
    // is retransmitted on the TU's own timer, not per received INVITE.
    assert_eq!(world.statuses().iter().filter(|s| **s == 200).count(), 1);
}

#[test]
fn unknown_number_gets_404() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14999", "call-u", "z9hG4bK-u", OFFER));
    assert_eq!(world.statuses(), vec![404]);
    assert_eq!(world.engine.stats().unknown_number, 1);
    assert_eq!(world.arrived(), 0);
}

#[test]
fn untrusted_source_gets_403() {
    let mut world = World::new(config(0));
    world.deliver_from("127.0.0.2:5070", &invite("14036", "call-t", "z9hG4bK-t", OFFER));
    assert_eq!(world.statuses(), vec![403]);
    assert_eq!(world.engine.stats().untrusted_source, 1);
}

#[test]
fn max_forwards_zero_gets_483() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-m", "z9hG4bK-m", OFFER).replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(world.statuses(), vec![483]);
}

#[test]
fn unsupported_methods_get_405_or_501_with_allow() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-s", "z9hG4bK-s", "").replace("INVITE", "SUBSCRIBE"));
    world.deliver(&invite("14036", "call-f", "z9hG4bK-f", "").replace("INVITE", "FROBNICATE"));
    assert_eq!(world.statuses(), vec![405, 501]);
    for response in world.responses() {
        let allow = response.headers.get_str(&HeaderName::Allow).expect("Allow");
        assert!(allow.contains("INVITE") && allow.contains("BYE"));
    }
}

#[test]
fn missing_call_id_gets_400_naming_it() {
    let mut world = World::new(config(0));
    let text = invite("14036", "call-x", "z9hG4bK-x", OFFER).replace("Call-ID: call-x\n", "");
    world.deliver(&text);
    let responses = world.responses();
    assert_eq!(responses.len(), 1, "exactly one answer");
    assert_eq!(responses[0].status, 400);
    assert!(String::from_utf8_lossy(&responses[0].reason).contains("Call-ID"));
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut world = World::new(config(0));
    world.deliver("\u{1}\u{2}hello there, not SIP\n\n");
    assert!(world.sent.is_empty());
    assert_eq!(world.engine.stats().malformed_dropped, 1);
}

#[test]
fn oversized_udp_request_gets_513() {
    let mut world = World::new(config(0));
    let padding = "X-Padding: ".to_string() + &"a".repeat(5000) + "\n";
    let text = invite("14036", "call-big", "z9hG4bK-big", "").replacen("Max-Forwards: 70\n", &format!("Max-Forwards: 70\n{padding}"), 1);
    world.deliver(&text);
    assert_eq!(world.statuses(), vec![513]);
    assert_eq!(world.arrived(), 0);
}

#[test]
fn options_probe_gets_200() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-o", "z9hG4bK-o", "").replace("INVITE", "OPTIONS"));
    assert_eq!(world.statuses(), vec![200]);
}

#[test]
fn offer_without_common_codec_gets_488() {
    let mut world = World::new(config(0));
    let g729_only = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 18\n";
    world.deliver(&invite("14036", "call-c", "z9hG4bK-c", g729_only));
    assert_eq!(world.statuses(), vec![488]);
    assert_eq!(world.engine.stats().no_common_codec, 1);
    assert_eq!(world.engine.active_calls(), 0);
}

#[test]
fn late_offer_gets_our_offer_in_the_200() {
    let mut world = World::new(config(0));
    world.deliver(&invite("14036", "call-l", "z9hG4bK-l", ""));
    let ok = world.responses().into_iter().find(|r| r.status == 200).expect("200").clone();
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio"));
}

#[test]
fn missing_ack_retransmits_200_then_hangs_up() {
    let mut world = World::new(config(0));
    let start = world.now;
    world.deliver(&invite("14036", "call-k", "z9hG4bK-k", OFFER));
    world.take_sent();
    let mut retransmissions = Vec::new();
    let mut bye_at = None;
    while world.now < start + Duration::from_secs(40) {
        let Some(deadline) = world.engine.poll_timeout() else { break };
        world.advance_to(deadline);
        for (_, message) in world.take_sent() {
            match message {
                Message::Response(r) if r.status == 200 => retransmissions.push(world.now - start),
                Message::Request(r) if r.method == veertien::sip::msg::Method::Bye => bye_at = Some(world.now - start),
                _ => {}
            }
        }
        if bye_at.is_some() {
            break;
        }
    }
    let expected_ms: Vec<u64> = vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500];
    let got_ms: Vec<u64> = retransmissions.iter().map(|d| d.as_millis() as u64).collect();
    assert_eq!(got_ms, expected_ms, "RFC 3261 §13.3.1.4: T1 doubling up to T2");
    assert_eq!(bye_at.map(|d| d.as_millis()), Some(32_000), "BYE after 64*T1 without ACK");
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut world = World::new(config(2000));
    world.deliver(&invite("14036", "call-cx", "z9hG4bK-cx", OFFER));
    assert_eq!(world.statuses(), vec![100, 180]);
    let cancel = invite("14036", "call-cx", "z9hG4bK-cx", "").replace("INVITE sip", "CANCEL sip").replace("1 INVITE", "1 CANCEL");
    world.take_sent();
    world.deliver(&cancel);
    let mut statuses = world.statuses();
    statuses.sort();
    assert_eq!(statuses, vec![200, 487]);
    assert_eq!(world.ended(), vec![EndReason::CallerCancelled]);
    world.take_sent();
    world.advance(Duration::from_secs(3));
    assert!(world.responses().iter().all(|r| r.status != 200), "a cancelled call is never answered");
}

#[test]
fn shutdown_refuses_new_calls_and_drains_established_ones() {
    let mut world = World::new(config(0));
    let tag = establish(&mut world, "call-d");
    let now = world.now();
    world.engine.handle_input(Input::Shutdown { now, drain: Duration::from_secs(10) });
    world.collect();
    world.take_sent();
    world.deliver(&invite("14036", "call-d2", "z9hG4bK-d2", OFFER));
    let refused = world.responses()[0].clone();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers.get_str(&HeaderName::RetryAfter), Some("30"));
    world.take_sent();
    world.advance(Duration::from_secs(11));
    let bye = world
        .take_sent()
        .into_iter()
        .find_map(|(_, m)| match m {
            Message::Request(r) if r.method == veertien::sip::msg::Method::Bye => Some(r),
            _ => None,
        })
        .expect("BYE after the drain time");
    assert_eq!(bye.from_header().expect("From").tag(), Some(tag.as_str()));
    let ok = Response::to_request(&bye, 200, "OK");
    let text = String::from_utf8_lossy(&ok.to_bytes()).replace("\r\n", "\n");
    world.deliver(&text);
    assert_eq!(world.ended(), vec![EndReason::ShutdownDrain]);
    assert!(world.engine.is_drained());
    assert!(world.notifications.contains(&Notification::Drained));
}

#[test]
fn tcp_responses_go_back_on_the_same_connection() {
    let mut world = World::new(config(0));
    let mut peer = world.peer(TRUNK, TransportKind::Tcp);
    peer.connection = Some(veertien::core::ids::ConnectionId(7));
    world.deliver_peer(peer, &invite("14036", "call-tcp", "z9hG4bK-tcp", OFFER).replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    assert_eq!(world.statuses(), vec![100, 200]);
    assert!(world.sent.iter().all(|(p, _)| p.connection == Some(veertien::core::ids::ConnectionId(7))));
}
