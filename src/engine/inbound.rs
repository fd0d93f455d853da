//! Requests from callers and trunks: who may call, which number reaches which tenant,
//! and the caller's leg from INVITE to ACK (we are its UAS). In-dialog requests and the
//! end of a call are handled for every leg alike (`dialog_requests.rs`, `call_end.rs`).

use super::call::{Call, CallContext, CallKind, EndReason, Phase};
use super::call_history::CallHistory;
use super::leg::{Leg, LegState, Party, Side, UasAnswer};
use super::media_commands::{MediaCommand, MediaFormat};
use super::record::caller_hash;
use super::responses::{ALLOWED_METHODS, REFERENCE_HEADER};
use super::timers::TimerKind;
use super::{Engine, Notification, Output};
use crate::core::ids::{CallId, LegId, TransactionId};
use crate::dialplan::TenantId;
use crate::media::sdp;
use crate::sip::dialog::Dialog;
use crate::sip::msg::{HeaderName, Method, Request};
use crate::sip::transport::Peer;
use bytes::Bytes;
use std::time::Duration;

impl Engine {
    /// A new server transaction's request (not ACK, not a matched CANCEL).
    pub(super) fn on_request(&mut self, tx: TransactionId, request: Request, peer: Peer) {
        // RFC 3261 §16.3 step 2 / §8.2: a request that arrives with Max-Forwards 0 and is not
        // for us to consume would loop; OPTIONS with 0 may be answered (§11), others get 483.
        if request.max_forwards().ok().flatten() == Some(0) && request.method != Method::Options {
            self.stats.too_many_hops += 1;
            self.reply(tx, &request, 483, "Too Many Hops");
            return;
        }
        let in_dialog = request.to_header().map(|to| to.tag().is_some()).unwrap_or(false);
        match (&request.method, in_dialog) {
            (Method::Invite, false) => self.on_initial_invite(tx, request, peer),
            (Method::Options, false) => self.on_options(tx, &request),
            (Method::Register, false) => self.on_register(tx, request, peer),
            (Method::Invite | Method::Bye | Method::Info | Method::Options | Method::Refer | Method::Notify, true) => {
                self.on_in_dialog(tx, request)
            }
            (Method::Bye | Method::Info, false) => {
                self.reply(tx, &request, 481, "Call/Transaction Does Not Exist")
            }
            (Method::Cancel, _) => self.reply(tx, &request, 481, "Call/Transaction Does Not Exist"),
            (Method::Extension(_), _) => {
                // RFC 3261 §8.2.1: a method we do not recognise gets 501 with Allow.
                self.stats.method_not_allowed += 1;
                self.reply_with(tx, &request, 501, "Not Implemented", &[(HeaderName::Allow, ALLOWED_METHODS.into())]);
            }
            _ => {
                // A method we recognise but do not support here: 405 with Allow (§8.2.1).
                self.stats.method_not_allowed += 1;
                self.reply_with(tx, &request, 405, "Method Not Allowed", &[(HeaderName::Allow, ALLOWED_METHODS.into())]);
            }
        }
    }

    /// OPTIONS out of dialog: trunks and load balancers probe with it. While draining we
    /// answer 503 so they move traffic elsewhere before we stop.
    fn on_options(&mut self, tx: TransactionId, request: &Request) {
        if self.draining {
            let retry = self.config.retry_after_s.to_string();
            self.reply_with(tx, request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, retry)]);
            return;
        }
        self.reply_with(
            tx,
            request,
            200,
            "OK",
            &[
                (HeaderName::Allow, ALLOWED_METHODS.into()),
                (HeaderName::Accept, "application/sdp".into()),
            ],
        );
    }

    fn on_initial_invite(&mut self, tx: TransactionId, request: Request, peer: Peer) {
        if self.draining {
            self.stats.shutdown_refused += 1;
            let retry = self.config.retry_after_s.to_string();
            self.reply_with(tx, &request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, retry)]);
            return;
        }
        if request.headers.get(&HeaderName::Replaces).is_some() {
            self.refuse_replacing_invite(tx, &request);
            return;
        }
        let dialled = request.uri().ok().and_then(|uri| uri.user).unwrap_or_default();
        let trusted = self.is_trusted(peer.remote.ip());
        let tenant_id = self.plan.route(&dialled).map(|tenant| tenant.id.clone()).filter(|_| trusted);
        let Some(tenant_id) = tenant_id else {
            // Not a trunk's call to a tenant's number: an agent's phone may call a group or
            // colleague through the daemon (a consultation), authenticated by digest like
            // its REGISTER.
            let from_user = request.from_header().ok().and_then(|from| from.uri.user).unwrap_or_default();
            if self.agents.account(&from_user).is_some() {
                self.on_agent_invite(tx, request, peer, &from_user);
            } else if !trusted {
                self.stats.untrusted_source += 1;
                tracing::info!(remote = %peer.remote, "INVITE from an untrusted source refused");
                self.reply(tx, &request, 403, "Forbidden");
            } else {
                self.stats.unknown_number += 1;
                tracing::info!(dialled = %crate::core::redact::Redacted(&dialled), "INVITE to an unknown number");
                self.reply(tx, &request, 404, "Not Found");
            }
            return;
        };
        let Some((_, leg_id)) = self.accept_invite(tx, request, peer, tenant_id, dialled, CallKind::Citizen) else { return };
        let answer_delay_ms = self.config.answer_delay_ms;
        if answer_delay_ms == 0 {
            self.answer_leg(leg_id);
            return;
        }
        self.send_ringing(leg_id);
        self.timers.schedule_mono(self.now.mono + Duration::from_millis(answer_delay_ms), TimerKind::Answer(leg_id));
    }

    /// Takes an INVITE for `tenant_id`: checks capacity and content, answers the offer on
    /// a fresh RTP port, creates the call with its caller leg (UAS, early dialog) and sends
    /// 100 Trying. `None` when it was refused (the response is sent).
    pub(super) fn accept_invite(
        &mut self,
        tx: TransactionId,
        request: Request,
        peer: Peer,
        tenant_id: TenantId,
        dialled: String,
        kind: CallKind,
    ) -> Option<(CallId, LegId)> {
        if self.calls.len() >= self.config.max_calls {
            self.stats.capacity_refused += 1;
            self.reply_with(tx, &request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, "5".into())]);
            return None;
        }
        if let Some((status, reason)) = unacceptable_content(&request) {
            self.stats.requests_rejected += 1;
            self.reply_with(tx, &request, status, reason, &[(HeaderName::Accept, "application/sdp".into())]);
            return None;
        }
        let Some(rtp_port) = self.ports.allocate() else {
            self.stats.capacity_refused += 1;
            tracing::warn!("RTP port pool exhausted; refusing call");
            self.reply_with(tx, &request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, "5".into())]);
            return None;
        };
        let local = self.local_media(rtp_port);
        let (local_sdp, late_offer, remote_rtp, format) = if request.body.is_empty() {
            // Late offer (RFC 3261 §13.2.1): we offer in the 200, the answer comes in the ACK.
            (sdp::offer(&local, sdp::Direction::SendRecv), true, None, None)
        } else {
            match sdp::answer(&String::from_utf8_lossy(&request.body), &local) {
                Ok((answer, negotiated)) => {
                    let format = media_format(&negotiated);
                    (answer, false, negotiated.remote_rtp, Some(format))
                }
                Err(error) => {
                    self.ports.release(rtp_port);
                    self.stats.no_common_codec += 1;
                    tracing::info!(%error, "offer refused");
                    self.reply_with(
                        tx,
                        &request,
                        488,
                        "Not Acceptable Here",
                        &[(HeaderName::Warning, "304 veertien \"No common audio codec\"".into())],
                    );
                    return None;
                }
            }
        };
        let local_tag = self.new_tag();
        let contact = self.local_contact(&peer);
        let dialog = match Dialog::uas_from_request(&request, local_tag.clone(), contact) {
            Ok(dialog) => dialog,
            Err(error) => {
                self.ports.release(rtp_port);
                self.stats.requests_rejected += 1;
                self.reply(tx, &request, 400, &format!("Bad Request ({error})"));
                return None;
            }
        };
        let id = self.next_call_id();
        let media = self.next_media_id();
        let leg_id = self.legs.next_id();
        let reference = self.next_reference(&tenant_id);
        let caller_hash = super::caller_id::caller_number(&request).map(|number| caller_hash(&self.config.caller_hash_key, &number));
        let history = CallHistory::new(self.now, dialled, caller_hash);
        let tenant = tenant_id.to_string();
        let trying = self.build_response(&request, 100, "Trying", &local_tag);
        let citizen = kind == CallKind::Citizen;
        self.legs.insert(Leg {
            id: leg_id,
            call: id,
            tenant: tenant_id.clone(),
            party: Party::Caller,
            side: Side::Uas(UasAnswer {
                late_offer,
                ok_response: None,
                retransmit_interval: Duration::from_millis(self.config.timers.t1_ms),
            }),
            state: LegState::Ringing,
            invite: request,
            invite_tx: tx,
            dialog: Some(dialog),
            peer,
            media,
            rtp_port,
            local_sdp: Bytes::from(local_sdp),
            started_at: self.now.mono,
            final_status: None,
            answered: false,
            // Ringing is reported for legs we originate only.
            reported: true,
            bye_tx: None,
        });
        self.flows.insert(&peer, leg_id);
        self.calls_by_reference.insert(reference, id);
        self.calls.insert(
            id,
            Call {
                tenant: tenant.clone(),
                tenant_id,
                reference,
                kind,
                phase: Phase::Answering,
                queue: None,
                caller: leg_id,
                legs: Vec::new(),
                bridges: Vec::new(),
                context: CallContext::default(),
                transfer: None,
                transfers_made: 0,
                in_agent_conversation: false,
                arrived_at: self.now.mono,
                established_at: None,
                end_reason: None,
                history,
            },
        );
        tracing::info!(call = %id, reference = %self.reference_label(id), %tenant, %reference, citizen, "call arrived");
        if citizen {
            self.outputs.push_back(Output::Notify(Notification::CallArrived { call: id, tenant }));
        }
        self.outputs.push_back(Output::Media(MediaCommand::Open { session: media, call: id, rtp_port, remote: remote_rtp, format }));
        // RFC 3261 §17.2.1: the TU sends 100 Trying at once so the caller stops
        // retransmitting; the transaction layer absorbs any retransmission that crosses it.
        self.send_on(tx, trying);
        Some((id, leg_id))
    }

    /// 180 Ringing with our Contact on a ringing UAS leg.
    pub(super) fn send_ringing(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let (LegState::Ringing, Some(dialog)) = (leg.state, leg.dialog.as_ref()) else { return };
        let mut ringing = self.build_response(&leg.invite, 180, "Ringing", dialog.id.local_tag.as_str());
        ringing.headers.push(HeaderName::Contact, dialog.local_contact.to_string());
        let invite_tx = leg.invite_tx;
        self.send_on(invite_tx, ringing);
    }

    /// Sends the 200 OK with our SDP on a ringing UAS leg and retransmits it until the ACK.
    pub(super) fn answer_leg(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let (Side::Uas(_), LegState::Ringing, Some(dialog)) = (&leg.side, leg.state, leg.dialog.as_ref()) else { return };
        let reference = self.calls.get(&leg.call).map(|call| call.reference.to_string().replace(' ', "")).unwrap_or_default();
        let mut ok = self.build_response(&leg.invite, 200, "OK", dialog.id.local_tag.as_str());
        ok.headers.push(HeaderName::Contact, dialog.local_contact.to_string());
        ok.headers.push(HeaderName::Allow, ALLOWED_METHODS);
        // The upstream municipal phone system logs the reference number the caller may
        // quote later; it is the same value the agent's INVITE carries.
        ok.headers.push(HeaderName::Other(Bytes::from_static(REFERENCE_HEADER)), reference);
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        ok.body = leg.local_sdp.clone();
        let invite_tx = leg.invite_tx;
        let t1 = Duration::from_millis(self.config.timers.t1_ms);
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.state = LegState::AwaitingAck;
            if let Side::Uas(answer) = &mut leg.side {
                answer.ok_response = Some(ok.clone());
            }
        }
        self.send_on(invite_tx, ok);
        // RFC 3261 §13.3.1.4: the UAS core retransmits the 2xx at T1, doubling up to T2,
        // until the ACK arrives, and gives up after 64*T1 (then sends BYE).
        self.timers.schedule_mono(self.now.mono + t1, TimerKind::RetransmitOk(leg_id));
        self.timers.schedule_mono(self.now.mono + t1 * 64, TimerKind::AckTimeout(leg_id));
    }

    pub(super) fn retransmit_ok(&mut self, leg_id: LegId) {
        let t2 = Duration::from_millis(self.config.timers.t2_ms);
        let now = self.now.mono;
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        let peer = leg.peer;
        let (LegState::AwaitingAck, Side::Uas(answer)) = (leg.state, &mut leg.side) else { return };
        let Some(ok) = answer.ok_response.clone() else { return };
        answer.retransmit_interval = (answer.retransmit_interval * 2).min(t2);
        let next = now + answer.retransmit_interval;
        self.timers.schedule_mono(next, TimerKind::RetransmitOk(leg_id));
        self.send_stateless(ok, peer);
    }

    pub(super) fn on_ack_timeout(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        if leg.state == LegState::AwaitingAck {
            let call = leg.call;
            tracing::info!(%call, reference = %self.reference_label(call), "no ACK for our 200 OK");
            self.hang_up(call, EndReason::NoAck);
        }
    }

    /// CANCEL matched our INVITE server transaction (RFC 3261 §9.2): 200 for the CANCEL,
    /// and 487 for the INVITE if it has no final response yet.
    pub(super) fn on_cancel(&mut self, invite_tx: TransactionId, cancel_tx: TransactionId, request: Request, _peer: Peer) {
        self.reply(cancel_tx, &request, 200, "OK");
        let Some(leg) = self.legs.by_transaction(invite_tx).and_then(|id| self.legs.get(id)) else { return };
        if leg.state != LegState::Ringing || !matches!(leg.side, Side::Uas(_)) {
            return;
        }
        let call = leg.call;
        let terminated = self.build_response(&leg.invite, 487, "Request Terminated", &leg.local_tag());
        self.send_on(invite_tx, terminated);
        self.end_call(call, EndReason::CallerCancelled);
    }

    /// ACK for our 2xx (non-2xx ACKs are absorbed by the transaction layer).
    pub(super) fn on_ack(&mut self, request: Request, _peer: Peer) {
        let Some(leg_id) = self.dialog_leg(&request) else {
            tracing::debug!("ACK matching no dialog of ours dropped");
            return;
        };
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        let (LegState::AwaitingAck, Side::Uas(answer)) = (leg.state, &mut leg.side) else {
            return; // a retransmitted ACK
        };
        answer.ok_response = None;
        let late_offer = answer.late_offer;
        leg.state = LegState::Connected;
        if let Some(dialog) = leg.dialog.as_mut() {
            dialog.confirm();
        }
        let (id, media) = (leg.call, leg.media);
        if late_offer {
            match sdp::parse_answer(&String::from_utf8_lossy(&request.body)) {
                Ok(negotiated) => {
                    let update = MediaCommand::Update { session: media, remote: negotiated.remote_rtp, format: media_format(&negotiated) };
                    self.outputs.push_back(Output::Media(update));
                }
                Err(error) => {
                    tracing::info!(call = %id, reference = %self.reference_label(id), %error, "late-offer answer in ACK unusable");
                    self.hang_up(id, EndReason::NoCommonCodec);
                    return;
                }
            }
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.established_at = Some(self.now.mono);
        call.history.established(self.now);
        if call.kind != CallKind::Citizen {
            // A consultation is answered once its target answered: it is bridged already.
            return;
        }
        let tenant = call.tenant.clone();
        self.stats.calls_established += 1;
        tracing::info!(call = %id, reference = %self.reference_label(id), "call established");
        self.outputs.push_back(Output::Notify(Notification::CallEstablished { call: id, tenant }));
        self.route_established(id);
    }
}

/// A body we cannot read gets 415 (RFC 3261 §21.4.13, RFC 4475 §3.3.6); an Accept that
/// excludes SDP, which every answer of ours carries, gets 406 (§21.4.7, RFC 4475 §3.3.15).
fn unacceptable_content(request: &Request) -> Option<(u16, &'static str)> {
    let media_type = |value: &str| value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !request.body.is_empty() {
        let content_type = request.headers.get_str(&HeaderName::ContentType).map(media_type);
        if content_type.as_deref() != Some("application/sdp") {
            return Some((415, "Unsupported Media Type"));
        }
    }
    let accepts: Vec<String> = request
        .headers
        .get_all(&HeaderName::Accept)
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(',').map(media_type).collect::<Vec<_>>())
        .filter(|value| !value.is_empty())
        .collect();
    let sdp_acceptable = accepts.is_empty()
        || accepts.iter().any(|a| a == "application/sdp" || a == "application/*" || a == "*/*");
    (!sdp_acceptable).then_some((406, "Not Acceptable"))
}

/// The media format a negotiation settled on.
fn media_format(negotiated: &sdp::Negotiated) -> MediaFormat {
    MediaFormat {
        codec: negotiated.codec,
        payload_type: negotiated.payload_type,
        telephone_event_pt: negotiated.telephone_event_pt,
    }
}
