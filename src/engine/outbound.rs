//! Legs the daemon originates (RFC 3261 §13.2, we are UAC), whoever the party: the
//! INVITE assembled once, its responses, the ACK for every 2xx, CANCEL, and the removal
//! of a leg with its media. What an answer or a refusal means is the party's business
//! (`agent_offer.rs` for agents).

use super::call::Phase;
use super::leg::{Leg, LegState, Party, Side};
use super::media_commands::{MediaCommand, MediaFormat};
use super::{Engine, OfferOutcome, Output};
use crate::acd::OfferFailure;
use crate::core::addr_text::SocketAddrText;
use crate::core::ids::{CallId, LegId};
use crate::media::sdp::{self, Direction};
use crate::sip::dialog::Dialog;
use crate::sip::msg::{HeaderName, Message, Method, Request, Response};
use crate::sip::transaction::cancel_for;
use crate::sip::transport::Peer;
use bytes::Bytes;

/// A party to call for a call.
#[derive(Debug, Clone)]
pub struct Dial {
    pub call: CallId,
    pub party: Party,
    /// Where the INVITE goes (the phone's registered Contact, or a static URI).
    pub request_uri: String,
    /// The To header's value (the party's address of record).
    pub to: String,
    /// The display name the phone shows for us (the call's reference number).
    pub from_display: String,
    /// Headers that hand the call's context over.
    pub extra_headers: Vec<(HeaderName, String)>,
    pub peer: Peer,
}

/// The ACD's reading of a final non-2xx answer from a phone we rang.
pub(super) fn ring_failure(status: u16) -> OfferFailure {
    match status {
        486 | 600 => OfferFailure::Busy,
        603 => OfferFailure::Rejected,
        408 | 480 | 487 => OfferFailure::NoAnswer,
        _ => OfferFailure::Unreachable,
    }
}

impl Engine {
    /// Sends the INVITE for a new leg of `dial.call` with our SDP offer and opens its media
    /// session. `None` when no RTP port is free (nothing was sent).
    pub(super) fn dial(&mut self, dial: Dial) -> Option<LegId> {
        let tenant = self.calls.get(&dial.call)?.tenant_id.clone();
        let rtp_port = self.ports.allocate()?;
        let local = self.local_media(rtp_port);
        let offer = sdp::offer(&local, Direction::SendRecv);
        let advertised = SocketAddrText(self.config.advertised);
        let peer = dial.peer;
        let mut invite = Request::new(Method::Invite, Bytes::from(dial.request_uri));
        let branch = self.new_branch();
        invite.headers.push(HeaderName::Via, format!("SIP/2.0/{} {advertised};branch={branch};rport", peer.transport.via_token()));
        invite.headers.push(HeaderName::MaxForwards, "70");
        invite.headers.push(HeaderName::From, format!("\"{}\" <sip:veertien@{advertised}>;tag={}", dial.from_display, self.new_tag()));
        invite.headers.push(HeaderName::To, dial.to);
        invite.headers.push(HeaderName::CallId, format!("{}@veertien", self.tags.token(20)));
        invite.headers.push(HeaderName::CSeq, "1 INVITE");
        invite.headers.push(HeaderName::Contact, self.local_contact(&peer).to_string());
        for (name, value) in dial.extra_headers {
            invite.headers.push(name, value);
        }
        invite.headers.push(HeaderName::UserAgent, self.config.user_agent.clone());
        invite.headers.push(HeaderName::ContentType, "application/sdp");
        invite.body = Bytes::from(offer);
        let invite_tx = self.transactions.send_request(self.now.mono, invite.clone(), peer);
        self.flush_transmits();
        let id = self.legs.next_id();
        let media = self.next_media_id();
        self.outputs.push_back(Output::Media(MediaCommand::Open { session: media, call: dial.call, rtp_port, remote: None, format: None }));
        self.flows.insert(&peer, id);
        self.legs.insert(Leg {
            id,
            call: dial.call,
            tenant,
            party: dial.party,
            side: Side::Uac,
            state: LegState::Ringing,
            local_sdp: invite.body.clone(),
            invite,
            invite_tx,
            dialog: None,
            peer,
            media,
            rtp_port,
            started_at: self.now.mono,
            final_status: None,
            answered: false,
            reported: false,
            bye_tx: None,
        });
        if let Some(call) = self.calls.get_mut(&dial.call) {
            call.legs.push(id);
        }
        Some(id)
    }

    /// A response to the INVITE of a leg we originated.
    pub(super) fn on_invite_response(&mut self, leg_id: LegId, response: Response) {
        match response.status {
            100..=199 => {}
            200..=299 => self.on_outbound_answered(leg_id, response),
            status => {
                let Some(leg) = self.legs.get_mut(leg_id) else { return };
                leg.final_status.get_or_insert(status);
                if leg.state == LegState::Ringing {
                    self.on_ring_failed(leg_id, ring_failure(status));
                }
                self.remove_leg(leg_id);
            }
        }
    }

    fn on_outbound_answered(&mut self, leg_id: LegId, response: Response) {
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        leg.final_status.get_or_insert(response.status);
        if leg.dialog.is_none() {
            match Dialog::uac_from_response(&leg.invite, &response) {
                Ok(dialog) => self.legs.set_dialog(leg_id, dialog),
                Err(error) => {
                    tracing::info!(leg = %leg_id, %error, "2xx unusable");
                    return;
                }
            }
        }
        // RFC 3261 §13.2.2.4: the UAC core ACKs every 2xx, retransmissions included.
        self.send_ack(leg_id);
        let Some(leg) = self.legs.get(leg_id) else { return };
        if leg.state != LegState::Ringing {
            if leg.state == LegState::Cancelling {
                // The answer crossed our CANCEL: the call went elsewhere, so hang up.
                self.bye_leg(leg_id);
            }
            return;
        }
        let media = leg.media;
        match sdp::parse_answer(&String::from_utf8_lossy(&response.body)) {
            Ok(negotiated) => {
                let format = MediaFormat {
                    codec: negotiated.codec,
                    payload_type: negotiated.payload_type,
                    telephone_event_pt: negotiated.telephone_event_pt,
                };
                self.outputs.push_back(Output::Media(MediaCommand::Update { session: media, remote: negotiated.remote_rtp, format }));
                self.on_party_answered(leg_id);
            }
            Err(error) => {
                tracing::info!(leg = %leg_id, %error, "answer has no usable audio");
                self.on_ring_failed(leg_id, OfferFailure::Rejected);
                self.bye_leg(leg_id);
            }
        }
    }

    /// ACKs a leg's 2xx (again, for a retransmission).
    pub(super) fn send_ack(&mut self, leg_id: LegId) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get(leg_id) else { return };
        let Some(dialog) = leg.dialog.as_ref() else { return };
        let ack = dialog.make_ack(1, branch, &sent_by, leg.peer.transport);
        self.transactions.send_stateless(Message::Request(ack), leg.peer);
        self.flush_transmits();
    }

    /// Stops ringing (CANCEL, RFC 3261 §9.1) or hangs up a connected leg.
    pub(super) fn cancel_leg(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        match leg.state {
            LegState::Ringing if matches!(leg.side, Side::Uac) => {
                // A caller still waiting with nobody connected means the ring timed out;
                // else another party answered or the caller left.
                let still_waiting = self.calls.get(&leg.call).is_some_and(|call| matches!(call.phase, Phase::Queued | Phase::Transferring));
                let cancel = cancel_for(&leg.invite);
                let peer = leg.peer;
                self.report_ring_ended(leg_id, if still_waiting { OfferOutcome::NoAnswer } else { OfferOutcome::Cancelled });
                if let Some(leg) = self.legs.get_mut(leg_id) {
                    leg.state = LegState::Cancelling;
                }
                let tx = self.transactions.send_request(self.now.mono, cancel, peer);
                self.flush_transmits();
                self.legs.add_transaction(tx, leg_id);
            }
            LegState::Connected | LegState::AwaitingAck => self.bye_leg(leg_id),
            LegState::Ringing | LegState::Cancelling | LegState::Ending => {}
        }
    }

    /// The INVITE transaction of a leg we originated failed: a ringing party is
    /// unreachable; the leg is forgotten, except a connected one whose INVITE transaction
    /// merely ended.
    pub(super) fn on_outbound_failed(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        match leg.state {
            LegState::Connected => {}
            LegState::Ringing => {
                self.on_ring_failed(leg_id, OfferFailure::Unreachable);
                self.remove_leg(leg_id);
            }
            _ => self.remove_leg(leg_id),
        }
    }

    /// Forgets a leg we originated and releases its media.
    pub(super) fn remove_leg(&mut self, leg_id: LegId) {
        self.report_ring_ended(leg_id, OfferOutcome::Cancelled);
        let Some(leg) = self.legs.remove(leg_id) else { return };
        self.flows.remove(&leg.peer, leg_id);
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&leg.call) {
            if leg.answered {
                call.history.leg_hung_up(now, leg_id);
            }
            call.legs.retain(|l| *l != leg_id);
            call.bridges.retain(|&(a, b)| a != leg_id && b != leg_id);
        }
        self.ports.release(leg.rtp_port);
        self.outputs.push_back(Output::Media(MediaCommand::Close { session: leg.media, rtp_port: leg.rtp_port }));
        match leg.party {
            Party::Agent(agent) => self.on_agent_phone_cleared(leg.tenant, agent),
            Party::Member { agent: Some(agent), .. } => {
                if let Err(error) = self.acd.agent_released(self.now.mono, &leg.tenant, &agent) {
                    tracing::warn!(%agent, %error, "transfer leg of an agent the ACD does not know");
                }
                self.on_agent_phone_cleared(leg.tenant, agent);
            }
            Party::Caller | Party::Member { agent: None, .. } => {}
        }
    }
}
