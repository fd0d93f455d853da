//! The B2BUA's second leg: the daemon calls an agent's phone (RFC 3261 §13.2 as UAC),
//! carrying the call's reference number and a link to its context, and bridges media
//! once the agent answers.

use super::call::{EndReason, Phase};
use super::media_commands::{MediaCommand, MediaFormat};
use super::{DialogOwner, Engine, Notification, OfferOutcome, Output};
use crate::acd::OfferFailure;
use crate::core::addr_text::SocketAddrText;
use crate::core::ids::{CallId, LegId, MediaSessionId, TransactionId};
use crate::core::time::Instant;
use crate::dialplan::{AgentId, TenantId};
use crate::media::sdp::{self, Direction};
use crate::sip::dialog::Dialog;
use crate::sip::msg::{HeaderName, Message, Method, Request, Response};
use crate::sip::transaction::cancel_for;
use crate::sip::transport::Peer;
use bytes::Bytes;
use std::time::Duration;

/// Where an agent leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
    /// INVITE sent, the phone rings.
    Ringing,
    /// We sent CANCEL; waiting for the 487.
    Cancelling,
    /// The agent answered; media is bridged.
    Connected,
    /// We sent BYE.
    Ending,
}

/// One agent leg.
#[derive(Debug)]
pub struct AgentLeg {
    pub id: LegId,
    pub call: CallId,
    pub agent: AgentId,
    pub invite: Request,
    pub invite_tx: TransactionId,
    pub peer: Peer,
    pub media: MediaSessionId,
    pub rtp_port: u16,
    pub state: LegState,
    pub dialog: Option<Dialog>,
    pub local_sdp: Bytes,
    pub tenant: TenantId,
    pub rung_at: Instant,
    /// Set once the offer's outcome was reported.
    pub reported: bool,
    /// The final status the phone answered the INVITE with.
    pub final_status: Option<u16>,
    /// The agent answered (the leg was connected to the caller).
    pub answered: bool,
}

/// The ACD's reading of a final non-2xx answer from an agent's phone.
fn offer_failure(status: u16) -> OfferFailure {
    match status {
        486 | 600 => OfferFailure::Busy,
        603 => OfferFailure::Rejected,
        408 | 480 | 487 => OfferFailure::NoAnswer,
        _ => OfferFailure::Unreachable,
    }
}

fn offer_outcome(failure: OfferFailure) -> OfferOutcome {
    match failure {
        OfferFailure::NoAnswer => OfferOutcome::NoAnswer,
        OfferFailure::Busy => OfferOutcome::Busy,
        OfferFailure::Rejected => OfferOutcome::Rejected,
        OfferFailure::Unreachable => OfferOutcome::Unreachable,
    }
}

impl Engine {
    /// Rings `agent` for `call`. A failure to even send is reported to the ACD at once.
    pub(super) fn offer_to_agent(&mut self, call_id: CallId, agent: AgentId) {
        let Some(call) = self.calls.get(&call_id) else { return };
        let tenant = call.tenant_id.clone();
        let reference = call.reference.to_string().replace(' ', "");
        // A phone still clearing an earlier leg (our CANCEL or BYE not yet answered) would
        // see a second call arrive while the first is up: the INVITE waits until that leg
        // is gone (one round trip); the ACD's ring timeout runs meanwhile.
        if self.legs.values().any(|leg| leg.agent == agent && leg.tenant == tenant) {
            tracing::debug!(call = %call_id, reference = %self.reference_label(call_id), %agent, "agent's phone still clearing a leg; offer deferred");
            self.deferred_offers.insert((tenant, agent), call_id);
            return;
        }
        let account = self.agents.account(agent.as_str()).filter(|a| a.tenant == tenant).cloned();
        let target = account.as_ref().and_then(|account| self.agent_target(account));
        let port = target.as_ref().and_then(|_| self.ports.allocate());
        let (Some((binding, peer)), Some(rtp_port)) = (target, port) else {
            tracing::info!(call = %call_id, reference = %self.reference_label(call_id), %agent, "agent unreachable: no registration or no RTP port");
            let _ = self.acd.offer_failed(self.now.mono, call_id, &agent, OfferFailure::Unreachable);
            return;
        };
        let local = self.local_media(rtp_port);
        let offer = sdp::offer(&local, Direction::SendRecv);
        let advertised = SocketAddrText(self.config.advertised);
        let mut invite = Request::new(Method::Invite, Bytes::from(binding.contact.trim_matches(['<', '>']).to_string()));
        let branch = self.new_branch();
        invite.headers.push(HeaderName::Via, format!("SIP/2.0/{} {advertised};branch={branch};rport", peer.transport.via_token()));
        invite.headers.push(HeaderName::MaxForwards, "70");
        invite.headers.push(HeaderName::From, format!("\"Ref {reference}\" <sip:veertien@{advertised}>;tag={}", self.new_tag()));
        invite.headers.push(HeaderName::To, format!("<{}>", binding.aor));
        invite.headers.push(HeaderName::CallId, format!("{}@veertien", self.tags.token(20)));
        invite.headers.push(HeaderName::CSeq, "1 INVITE");
        invite.headers.push(HeaderName::Contact, format!("<sip:veertien@{advertised}>"));
        invite.headers.push(HeaderName::Other(Bytes::from_static(super::REFERENCE_HEADER)), reference.clone());
        invite.headers.push(HeaderName::CallInfo, format!("<{}/api/calls/{reference}>;purpose=info", self.config.http_base_url));
        invite.headers.push(HeaderName::UserAgent, self.config.user_agent.clone());
        invite.headers.push(HeaderName::ContentType, "application/sdp");
        invite.body = Bytes::from(offer);
        let invite_tx = self.transactions.send_request(self.now.mono, invite.clone(), peer);
        self.flush_transmits();
        let id = LegId(self.leg_ids.next_raw());
        let media = self.next_media_id();
        self.outputs.push_back(Output::Media(MediaCommand::Open { session: media, call: call_id, rtp_port, remote: None, format: None }));
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), leg = %id, %agent, "ringing agent");
        self.leg_by_tx.insert(invite_tx, id);
        self.legs.insert(
            id,
            AgentLeg {
                id,
                call: call_id,
                agent,
                tenant,
                rung_at: self.now.mono,
                reported: false,
                final_status: None,
                answered: false,
                local_sdp: invite.body.clone(),
                invite,
                invite_tx,
                peer,
                media,
                rtp_port,
                state: LegState::Ringing,
                dialog: None,
            },
        );
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.legs.push(id);
        }
    }

    /// A response on one of a leg's client transactions (INVITE, CANCEL or BYE).
    pub(super) fn on_leg_response(&mut self, leg_id: LegId, tx: TransactionId, response: Response) {
        let Some(leg) = self.legs.get(&leg_id) else { return };
        if tx != leg.invite_tx {
            // The final response to our BYE ends the leg; a CANCEL's 200 changes nothing.
            if leg.state == LegState::Ending && !response.is_provisional() {
                self.remove_leg(leg_id);
            }
            return;
        }
        match response.status {
            100..=199 => {}
            200..=299 => self.on_leg_answered(leg_id, response),
            status => {
                let (state, call, agent) = (leg.state, leg.call, leg.agent.clone());
                if let Some(leg) = self.legs.get_mut(&leg_id) {
                    leg.final_status.get_or_insert(status);
                }
                if state == LegState::Ringing {
                    tracing::info!(call = %call, reference = %self.reference_label(call), %agent, status, "agent did not take the call");
                    let failure = offer_failure(status);
                    self.report_offer(leg_id, offer_outcome(failure));
                    let _ = self.acd.offer_failed(self.now.mono, call, &agent, failure);
                }
                self.remove_leg(leg_id);
            }
        }
    }

    fn on_leg_answered(&mut self, leg_id: LegId, response: Response) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get_mut(&leg_id) else { return };
        leg.final_status.get_or_insert(response.status);
        if leg.dialog.is_none() {
            match Dialog::uac_from_response(&leg.invite, &response) {
                Ok(dialog) => {
                    self.dialogs.insert(dialog.id.clone(), DialogOwner::Leg(leg_id));
                    leg.dialog = Some(dialog);
                }
                Err(error) => {
                    tracing::info!(leg = %leg_id, %error, "agent's 2xx unusable");
                    return;
                }
            }
        }
        // RFC 3261 §13.2.2.4: the UAC core ACKs every 2xx, retransmissions included.
        let Some(dialog) = leg.dialog.as_ref() else { return };
        let ack = dialog.make_ack(1, branch, &sent_by, leg.peer.transport);
        let peer = leg.peer;
        self.transactions.send_stateless(Message::Request(ack), peer);
        self.flush_transmits();
        let Some(leg) = self.legs.get_mut(&leg_id) else { return };
        if leg.state != LegState::Ringing {
            if leg.state == LegState::Cancelling {
                // The answer crossed our CANCEL: the call went elsewhere, so hang up.
                self.bye_leg(leg_id);
            }
            return;
        }
        let answer = String::from_utf8_lossy(&response.body).into_owned();
        let negotiated = sdp::parse_answer(&answer);
        let (call, agent, media) = (leg.call, leg.agent.clone(), leg.media);
        match negotiated {
            Ok(negotiated) => {
                let format = MediaFormat {
                    codec: negotiated.codec,
                    payload_type: negotiated.payload_type,
                    telephone_event_pt: negotiated.telephone_event_pt,
                };
                self.outputs.push_back(Output::Media(MediaCommand::Update { session: media, remote: negotiated.remote_rtp, format }));
            }
            Err(error) => {
                tracing::info!(leg = %leg_id, %error, "agent's answer has no usable audio");
                let _ = self.acd.offer_failed(self.now.mono, call, &agent, OfferFailure::Rejected);
                self.bye_leg(leg_id);
                return;
            }
        }
        if self.acd.offer_answered(self.now.mono, call, &agent).is_err() {
            // The caller left, or another agent was faster.
            self.bye_leg(leg_id);
            return;
        }
        if let Some(leg) = self.legs.get_mut(&leg_id) {
            leg.state = LegState::Connected;
            leg.answered = true;
        }
        self.report_offer(leg_id, OfferOutcome::Answered);
        let wrap_up = self.wrap_up_of(call);
        let now = self.now;
        let Some(caller) = self.calls.get_mut(&call) else { return };
        caller.history.answered(now, agent.as_str(), wrap_up);
        caller.phase = Phase::Connected(leg_id);
        let caller_media = caller.media;
        tracing::info!(call = %call, reference = %self.reference_label(call), %agent, "agent answered; bridging");
        self.outputs.push_back(Output::Media(MediaCommand::Bridge { a: caller_media, b: media }));
    }

    /// ACKs a retransmitted 2xx again.
    pub(super) fn resend_leg_ack(&mut self, leg_id: LegId) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get(&leg_id) else { return };
        let Some(dialog) = leg.dialog.as_ref() else { return };
        let ack = dialog.make_ack(1, branch, &sent_by, leg.peer.transport);
        self.transactions.send_stateless(Message::Request(ack), leg.peer);
        self.flush_transmits();
    }

    /// Stops ringing (CANCEL, RFC 3261 §9.1) or hangs up a connected leg.
    pub(super) fn cancel_leg(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(&leg_id) else { return };
        if leg.state == LegState::Ringing {
            // A caller still waiting with nobody connected means the ring timed out; else
            // another agent answered or the caller left.
            let still_waiting = self.calls.get(&leg.call).is_some_and(|call| call.phase == Phase::Queued);
            self.report_offer(leg_id, if still_waiting { OfferOutcome::NoAnswer } else { OfferOutcome::Cancelled });
        }
        let Some(leg) = self.legs.get_mut(&leg_id) else { return };
        match leg.state {
            LegState::Ringing => {
                leg.state = LegState::Cancelling;
                let cancel = cancel_for(&leg.invite);
                let peer = leg.peer;
                let tx = self.transactions.send_request(self.now.mono, cancel, peer);
                self.flush_transmits();
                self.leg_by_tx.insert(tx, leg_id);
            }
            LegState::Connected => self.bye_leg(leg_id),
            LegState::Cancelling | LegState::Ending => {}
        }
    }

    /// Sends BYE on a leg with a dialog; a leg without one is simply dropped.
    pub(super) fn bye_leg(&mut self, leg_id: LegId) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get_mut(&leg_id) else { return };
        let Some(dialog) = leg.dialog.as_mut() else {
            self.remove_leg(leg_id);
            return;
        };
        leg.state = LegState::Ending;
        let bye = dialog.make_request(Method::Bye, branch, &sent_by, leg.peer.transport);
        let peer = leg.peer;
        let tx = self.transactions.send_request(self.now.mono, bye, peer);
        self.flush_transmits();
        self.leg_by_tx.insert(tx, leg_id);
    }

    /// The agent hung up (BYE in the leg's dialog): the conversation is over.
    pub(super) fn on_leg_bye(&mut self, leg_id: LegId, tx: TransactionId, request: &Request) {
        let Some(leg) = self.legs.get(&leg_id) else { return };
        let tag = leg.dialog.as_ref().map(|d| d.id.local_tag.clone()).unwrap_or_default();
        let call = leg.call;
        let ok = self.build_response(request, 200, "OK", &tag);
        self.send_on(tx, ok);
        self.remove_leg(leg_id);
        let _ = self.acd.call_ended(self.now.mono, call);
        self.hang_up(call, EndReason::AgentHungUp);
    }

    /// The leg's INVITE or BYE transaction failed.
    pub(super) fn on_leg_failed(&mut self, leg_id: LegId, tx: TransactionId) {
        let Some(leg) = self.legs.get(&leg_id) else { return };
        if tx == leg.invite_tx && leg.state == LegState::Ringing {
            let (call, agent) = (leg.call, leg.agent.clone());
            self.report_offer(leg_id, OfferOutcome::Unreachable);
            let _ = self.acd.offer_failed(self.now.mono, call, &agent, OfferFailure::Unreachable);
        }
        self.remove_leg(leg_id);
    }

    /// Reports how ringing this leg ended, once.
    fn report_offer(&mut self, leg_id: LegId, outcome: OfferOutcome) {
        let Some(leg) = self.legs.get_mut(&leg_id) else { return };
        if leg.reported {
            return;
        }
        leg.reported = true;
        let ring_time = self.now.mono - leg.rung_at;
        let notification = Notification::OfferEnded {
            call: leg.call,
            tenant: leg.tenant.clone(),
            agent: leg.agent.clone(),
            outcome,
            ring_time,
        };
        let final_status = leg.final_status;
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&leg.call) {
            call.history.leg_ended_ringing(now, leg_id, "agent", leg.agent.as_str(), ring_time, outcome, final_status);
        }
        self.outputs.push_back(Output::Notify(notification));
    }

    /// The after-call work the ACD gives an agent answering `call`: its queue's wrap-up.
    fn wrap_up_of(&self, call: CallId) -> Duration {
        let Some(call) = self.calls.get(&call) else { return Duration::ZERO };
        let wrap_up_s = self
            .plan
            .tenant(&call.tenant_id)
            .and_then(|tenant| tenant.queues.iter().find(|queue| Some(&queue.id) == call.queue.as_ref()))
            .map_or(0, |queue| queue.wrap_up_s);
        Duration::from_secs(u64::from(wrap_up_s))
    }

    /// Forgets a leg and releases its media.
    pub(super) fn remove_leg(&mut self, leg_id: LegId) {
        self.report_offer(leg_id, OfferOutcome::Cancelled);
        let Some(leg) = self.legs.remove(&leg_id) else { return };
        if leg.answered {
            let now = self.now;
            if let Some(call) = self.calls.get_mut(&leg.call) {
                call.history.leg_hung_up(now, leg_id);
            }
        }
        self.leg_by_tx.retain(|_, owner| *owner != leg_id);
        if let Some(dialog) = &leg.dialog {
            self.dialogs.remove(&dialog.id);
        }
        if let Some(call) = self.calls.get_mut(&leg.call) {
            call.legs.retain(|l| *l != leg_id);
        }
        self.ports.release(leg.rtp_port);
        self.outputs.push_back(Output::Media(MediaCommand::Close { session: leg.media, rtp_port: leg.rtp_port }));
        let key = (leg.tenant, leg.agent);
        let still_clearing = self.legs.values().any(|other| other.agent == key.1 && other.tenant == key.0);
        if !still_clearing {
            if let Some(call) = self.deferred_offers.remove(&key) {
                self.offer_to_agent(call, key.1);
            }
        }
    }
}
