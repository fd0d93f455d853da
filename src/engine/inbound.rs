//! Requests from callers and trunks: who may call, which number reaches which tenant,
//! and the life of an inbound call from INVITE to BYE.

use super::call::{Call, CallState, EndReason, Phase};
use super::call_history::CallHistory;
use super::record::{caller_hash, Record};
use super::responses::{ALLOWED_METHODS, REFERENCE_HEADER};
use super::timers::TimerKind;
use super::media_commands::{MediaCommand, MediaFormat};
use super::{DialogOwner, Engine, Notification, Output};
use crate::core::addr_text::{IpText, SocketAddrText};
use crate::core::ids::{CallId, LegId, TransactionId};
use crate::media::sdp;
use crate::sip::dialog::{Dialog, DialogKey, LocalSide};
use crate::sip::msg::{HeaderName, Method, NameAddr, Param, Request, Response, SipUri};
use crate::sip::transport::{Peer, TransportKind};
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
            (Method::Invite | Method::Bye | Method::Info | Method::Options, true) => {
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
        if !self.is_trusted(peer.remote.ip()) {
            self.stats.untrusted_source += 1;
            tracing::info!(remote = %peer.remote, "INVITE from an untrusted source refused");
            self.reply(tx, &request, 403, "Forbidden");
            return;
        }
        let dialled = request.uri().ok().and_then(|uri| uri.user).unwrap_or_default();
        let Some(tenant_id) = self.plan.route(&dialled).map(|tenant| tenant.id.clone()) else {
            self.stats.unknown_number += 1;
            tracing::info!(dialled = %crate::core::redact::Redacted(&dialled), "INVITE to an unknown number");
            self.reply(tx, &request, 404, "Not Found");
            return;
        };
        if self.calls.len() >= self.config.max_calls {
            self.stats.capacity_refused += 1;
            self.reply_with(tx, &request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, "5".into())]);
            return;
        }
        if let Some((status, reason)) = unacceptable_content(&request) {
            self.stats.requests_rejected += 1;
            self.reply_with(tx, &request, status, reason, &[(HeaderName::Accept, "application/sdp".into())]);
            return;
        }
        let Some(rtp_port) = self.ports.allocate() else {
            self.stats.capacity_refused += 1;
            tracing::warn!("RTP port pool exhausted; refusing call");
            self.reply_with(tx, &request, 503, "Service Unavailable", &[(HeaderName::RetryAfter, "5".into())]);
            return;
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
                    return;
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
                return;
            }
        };
        let id = self.next_call_id();
        let media = self.next_media_id();
        let reference = self.next_reference(&tenant_id);
        let caller_hash = super::caller_id::caller_number(&request).map(|number| caller_hash(&self.config.caller_hash_key, &number));
        let history = CallHistory::new(self.now, dialled, caller_hash);
        let tenant = tenant_id.to_string();
        self.dialogs.insert(dialog.id.clone(), DialogOwner::Caller(id));
        let call = Call {
            id,
            tenant: tenant.clone(),
            tenant_id,
            reference,
            state: CallState::Ringing,
            phase: Phase::Answering,
            queue: None,
            legs: Vec::new(),
            dialog,
            peer,
            invite: request,
            invite_tx: tx,
            media,
            rtp_port,
            local_sdp: Bytes::from(local_sdp),
            late_offer,
            ok_response: None,
            ok_retransmit_interval: Duration::from_millis(self.config.timers.t1_ms),
            arrived_at: self.now.mono,
            established_at: None,
            bye_tx: None,
            end_reason: None,
            history,
        };
        tracing::info!(call = %id, reference = %self.reference_label(id), %tenant, %reference, "call arrived");
        self.outputs.push_back(Output::Notify(Notification::CallArrived { call: id, tenant }));
        self.outputs.push_back(Output::Media(MediaCommand::Open { session: media, call: id, rtp_port, remote: remote_rtp, format }));
        // RFC 3261 §17.2.1: the TU sends 100 Trying at once so the caller stops
        // retransmitting; the transaction layer absorbs any retransmission that crosses it.
        let trying = self.build_response(&call.invite, 100, "Trying", &local_tag);
        let invite_tx = call.invite_tx;
        let answer_delay_ms = self.config.answer_delay_ms;
        let ringing = (answer_delay_ms > 0).then(|| self.build_ringing(&call, &local_tag));
        self.call_by_media.insert(media, id);
        self.flows.insert(&call.peer, super::connections::FlowUser::Call(id));
        self.calls.insert(id, call);
        self.send_on(invite_tx, trying);
        match ringing {
            Some(ringing) => {
                self.send_on(invite_tx, ringing);
                self.timers.schedule_mono(self.now.mono + Duration::from_millis(answer_delay_ms), TimerKind::Answer(id));
            }
            None => self.answer_call(id),
        }
    }

    fn build_ringing(&self, call: &Call, local_tag: &str) -> Response {
        let mut ringing = self.build_response(&call.invite, 180, "Ringing", local_tag);
        ringing.headers.push(HeaderName::Contact, call.dialog.local_contact.to_string());
        ringing
    }

    /// Sends the 200 OK with our SDP and starts retransmitting it until the ACK.
    pub(super) fn answer_call(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.state != CallState::Ringing {
            return;
        }
        let mut ok = self.build_response(&call.invite, 200, "OK", call.dialog.id.local_tag.as_str());
        ok.headers.push(HeaderName::Contact, call.dialog.local_contact.to_string());
        ok.headers.push(HeaderName::Allow, ALLOWED_METHODS);
        // The upstream municipal phone system logs the reference number the caller may
        // quote later; it is the same value the agent's INVITE carries.
        ok.headers.push(HeaderName::Other(Bytes::from_static(REFERENCE_HEADER)), call.reference.to_string().replace(' ', ""));
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        ok.body = call.local_sdp.clone();
        let invite_tx = call.invite_tx;
        let t1 = Duration::from_millis(self.config.timers.t1_ms);
        if let Some(call) = self.calls.get_mut(&id) {
            call.state = CallState::AwaitingAck;
            call.ok_response = Some(ok.clone());
        }
        self.send_on(invite_tx, ok);
        // RFC 3261 §13.3.1.4: the UAS core retransmits the 2xx at T1, doubling up to T2,
        // until the ACK arrives, and gives up after 64*T1 (then sends BYE).
        self.timers.schedule_mono(self.now.mono + t1, TimerKind::RetransmitOk(id));
        self.timers.schedule_mono(self.now.mono + t1 * 64, TimerKind::AckTimeout(id));
    }

    pub(super) fn retransmit_ok(&mut self, id: CallId) {
        let t2 = Duration::from_millis(self.config.timers.t2_ms);
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.state != CallState::AwaitingAck {
            return;
        }
        let Some(ok) = call.ok_response.clone() else { return };
        call.ok_retransmit_interval = (call.ok_retransmit_interval * 2).min(t2);
        let next = self.now.mono + call.ok_retransmit_interval;
        let peer = call.peer;
        self.timers.schedule_mono(next, TimerKind::RetransmitOk(id));
        self.send_stateless(ok, peer);
    }

    pub(super) fn on_ack_timeout(&mut self, id: CallId) {
        if self.calls.get(&id).map(|call| call.state == CallState::AwaitingAck) == Some(true) {
            tracing::info!(call = %id, reference = %self.reference_label(id), "no ACK for our 200 OK");
            self.hang_up(id, EndReason::NoAck);
        }
    }

    /// CANCEL matched our INVITE server transaction (RFC 3261 §9.2): 200 for the CANCEL,
    /// and 487 for the INVITE if it has no final response yet.
    pub(super) fn on_cancel(&mut self, invite_tx: TransactionId, cancel_tx: TransactionId, request: Request, _peer: Peer) {
        self.reply(cancel_tx, &request, 200, "OK");
        let ringing = self
            .calls
            .values()
            .find(|call| call.invite_tx == invite_tx && call.state == CallState::Ringing)
            .map(|call| call.id);
        if let Some(id) = ringing {
            let Some(call) = self.calls.get(&id) else { return };
            let terminated = self.build_response(&call.invite, 487, "Request Terminated", call.dialog.id.local_tag.as_str());
            self.send_on(invite_tx, terminated);
            self.end_call(id, EndReason::CallerCancelled);
        }
    }

    /// ACK for our 2xx (non-2xx ACKs are absorbed by the transaction layer).
    pub(super) fn on_ack(&mut self, request: Request, _peer: Peer) {
        let Some(DialogOwner::Caller(id)) = self.dialog_owner(&request) else {
            tracing::debug!("ACK matching no caller dialog dropped");
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.state != CallState::AwaitingAck {
            return; // a retransmitted ACK
        }
        if call.late_offer {
            let answer = String::from_utf8_lossy(&request.body).into_owned();
            match sdp::parse_answer(&answer) {
                Ok(negotiated) => {
                    let update = MediaCommand::Update {
                        session: call.media,
                        remote: negotiated.remote_rtp,
                        format: media_format(&negotiated),
                    };
                    self.outputs.push_back(Output::Media(update));
                }
                Err(error) => {
                    tracing::info!(call = %id, reference = call.reference.value(), %error, "late-offer answer in ACK unusable");
                    call.state = CallState::Established;
                    self.hang_up(id, EndReason::NoCommonCodec);
                    return;
                }
            }
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.state = CallState::Established;
        call.established_at = Some(self.now.mono);
        call.history.established(self.now);
        call.ok_response = None;
        call.dialog.confirm();
        let tenant = call.tenant.clone();
        self.stats.calls_established += 1;
        tracing::info!(call = %id, reference = %self.reference_label(id), "call established");
        self.outputs.push_back(Output::Notify(Notification::CallEstablished { call: id, tenant }));
        self.route_established(id);
    }

    /// A request inside one of our dialogs.
    fn on_in_dialog(&mut self, tx: TransactionId, request: Request) {
        let id = match self.dialog_owner(&request) {
            Some(DialogOwner::Caller(id)) => id,
            Some(DialogOwner::Leg(leg)) => {
                self.on_leg_request(leg, tx, &request);
                return;
            }
            None => {
                self.reply(tx, &request, 481, "Call/Transaction Does Not Exist");
                return;
            }
        };
        let Some(call) = self.calls.get_mut(&id) else { return };
        if let Err(error) = call.dialog.handle_request(&request) {
            // RFC 3261 §12.2.2: a lower CSeq than the last one is answered 500.
            tracing::debug!(call = %id, reference = call.reference.value(), %error, "in-dialog request refused");
            let tag = call.dialog.id.local_tag.as_str().to_string();
            let response = self.build_response(&request, 500, "Server Internal Error", &tag);
            self.send_on(tx, response);
            return;
        }
        let tag = call.dialog.id.local_tag.clone();
        let contact = call.dialog.local_contact.to_string();
        let local_sdp = call.local_sdp.clone();
        match request.method {
            Method::Bye => {
                let ok = self.build_response(&request, 200, "OK", &tag);
                self.send_on(tx, ok);
                tracing::info!(call = %id, reference = %self.reference_label(id), "caller hung up");
                self.end_call(id, EndReason::CallerHungUp);
            }
            Method::Invite => {
                // Re-INVITE: session refresh or hold. We keep our media as it is and answer
                // with our current SDP (with a new version), which RFC 3264 §8 allows. A
                // hold while connected counts as hold time in the record.
                self.note_hold(id, &request.body);
                let mut ok = self.build_response(&request, 200, "OK", &tag);
                ok.headers.push(HeaderName::Contact, contact);
                ok.headers.push(HeaderName::ContentType, "application/sdp");
                ok.body = local_sdp;
                self.send_on(tx, ok);
            }
            _ => {
                let ok = self.build_response(&request, 200, "OK", &tag);
                self.send_on(tx, ok);
            }
        }
    }

    /// A response to one of our client transactions (so far only BYE).
    pub(super) fn on_response(&mut self, tx: TransactionId, response: Response) {
        if let Some(leg) = self.leg_by_tx.get(&tx).copied() {
            self.on_leg_response(leg, tx, response);
            return;
        }
        if response.is_provisional() {
            return;
        }
        let ended = self.calls.values().find(|call| call.bye_tx == Some(tx)).map(|call| call.id);
        if let Some(id) = ended {
            self.finish_ending(id);
        }
    }

    /// A response no transaction wanted, e.g. a 2xx retransmission to a request of ours
    /// after its transaction ended. Nothing to do; counted in the log only.
    pub(super) fn on_stray_response(&mut self, response: Response, peer: Peer) {
        // A 2xx retransmitted by an agent's phone after its INVITE transaction ended: it
        // did not get our ACK, so ACK again (RFC 3261 §13.2.2.4).
        let key = DialogKey::from_response(&response, LocalSide::Sender).ok();
        if let Some(DialogOwner::Leg(leg)) = key.and_then(|key| self.dialogs.get(&key).copied()) {
            if response.status / 100 == 2 {
                self.resend_leg_ack(leg);
                return;
            }
        }
        tracing::debug!(status = response.status, remote = %peer.remote, "stray response ignored");
    }

    /// A transaction failed: our BYE got no answer (the call is over anyway), or the
    /// caller's INVITE transaction timed out.
    pub(super) fn on_transaction_failed(&mut self, tx: TransactionId) {
        if let Some(leg) = self.leg_by_tx.get(&tx).copied() {
            self.on_leg_failed(leg, tx);
            return;
        }
        let affected = self
            .calls
            .values()
            .find(|call| call.bye_tx == Some(tx) || (call.invite_tx == tx && call.state != CallState::Established))
            .map(|call| (call.id, call.bye_tx == Some(tx)));
        match affected {
            Some((id, true)) => self.finish_ending(id),
            Some((id, false)) => self.end_call(id, EndReason::TransportFailure),
            None => {}
        }
    }

    /// We end the call: send BYE in the caller's dialog, end when it is answered.
    pub(super) fn hang_up(&mut self, id: CallId, reason: EndReason) {
        let branch = self.new_branch();
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.state == CallState::Ending {
            return;
        }
        if call.state == CallState::Ringing {
            // Not answered yet: a final error response ends it.
            let invite_tx = call.invite_tx;
            let tag = call.dialog.id.local_tag.clone();
            let invite = call.invite.clone();
            let response = self.build_response(&invite, 480, "Temporarily Unavailable", &tag);
            self.send_on(invite_tx, response);
            self.end_call(id, reason);
            return;
        }
        call.state = CallState::Ending;
        call.end_reason = Some(reason);
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let bye = call.dialog.make_request(Method::Bye, branch, &sent_by, call.peer.transport);
        let peer = call.peer;
        let tx = self.transactions.send_request(self.now.mono, bye, peer);
        self.flush_transmits();
        if let Some(call) = self.calls.get_mut(&id) {
            call.bye_tx = Some(tx);
        }
    }

    fn finish_ending(&mut self, id: CallId) {
        let reason = self.calls.get(&id).and_then(|call| call.end_reason.clone()).unwrap_or(EndReason::TransportFailure);
        self.end_call(id, reason);
    }

    /// Removes the call, releases its media and emits its one disposition.
    pub(super) fn end_call(&mut self, id: CallId, reason: EndReason) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let legs = call.legs.clone();
        for leg in &legs {
            if self.legs.get(leg).is_some_and(|l| l.answered) {
                call.history.leg_hung_up(self.now, *leg);
            }
        }
        // Not waiting any more: a ringing agent leg is cancelled, not a missed offer.
        call.phase = Phase::Leaving(reason.clone());
        for leg in legs {
            self.cancel_leg(leg);
        }
        // The ACD learns the caller is gone: an abandon while waiting, the end of the
        // conversation when connected; unknown to it (menu, closed) is fine.
        // Unknown to the ACD (menu, closed) is not an error: such a call has no disposition.
        if self.acd.caller_abandoned(self.now.mono, id).is_ok() {
            // The ACD's disposition (abandoned) goes into the record before it is finished.
            self.drain_acd_actions();
        }
        let Some(call) = self.calls.remove(&id) else { return };
        self.flows.remove(&call.peer, super::connections::FlowUser::Call(id));
        self.call_by_media.remove(&call.media);
        self.dialogs.remove(&call.dialog.id);
        self.ports.release(call.rtp_port);
        self.stats.calls_ended += 1;
        let duration = self.now.mono - call.established_at.unwrap_or(call.arrived_at);
        tracing::info!(call = %id, reference = call.reference.value(), reason = %reason.as_str(), duration_ms = duration.as_millis() as u64, "call ended");
        self.outputs.push_back(Output::Media(MediaCommand::Close { session: call.media, rtp_port: call.rtp_port }));
        let record = call.history.finish(self.now, call.reference.value().to_string(), call.tenant.clone(), reason.as_str());
        self.outputs.push_back(Output::Notify(Notification::CallEnded { call: id, tenant: call.tenant, reason, duration }));
        self.persist_record(Record::Call(record));
        self.check_drained();
    }

    /// Whose dialog this in-dialog request belongs to (the To tag is our tag).
    fn dialog_owner(&self, request: &Request) -> Option<DialogOwner> {
        let key = DialogKey::from_request(request, LocalSide::Receiver).ok()?;
        self.dialogs.get(&key).copied()
    }

    /// A request from an agent's phone inside its leg's dialog.
    fn on_leg_request(&mut self, leg: LegId, tx: TransactionId, request: &Request) {
        if request.method == Method::Bye {
            self.on_leg_bye(leg, tx, request);
            return;
        }
        if request.method == Method::Invite {
            if let Some(call) = self.legs.get(&leg).map(|l| l.call) {
                self.note_hold(call, &request.body);
            }
        }
        let Some(agent_leg) = self.legs.get_mut(&leg) else { return };
        let Some(dialog) = agent_leg.dialog.as_mut() else { return };
        let tag = dialog.id.local_tag.clone();
        let accepted = dialog.handle_request(request).is_ok();
        let contact = dialog.local_contact.to_string();
        let local_sdp = agent_leg.local_sdp.clone();
        if !accepted {
            let response = self.build_response(request, 500, "Server Internal Error", &tag);
            self.send_on(tx, response);
            return;
        }
        let mut ok = self.build_response(request, 200, "OK", &tag);
        if request.method == Method::Invite {
            // Re-INVITE from the agent's phone (hold, refresh): our media stays as offered.
            ok.headers.push(HeaderName::Contact, contact);
            ok.headers.push(HeaderName::ContentType, "application/sdp");
            ok.body = local_sdp;
        }
        self.send_on(tx, ok);
    }

    /// A re-INVITE's offer (from the caller or the agent) put the other party on hold or
    /// took them off it: counted as hold time while the call is connected.
    pub(super) fn note_hold(&mut self, id: CallId, body: &[u8]) {
        let Some(on_hold) = std::str::from_utf8(body).ok().and_then(sdp::holds) else { return };
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&id) {
            if matches!(call.phase, Phase::Connected(_)) {
                call.history.hold(now, on_hold);
            }
        }
    }

    /// Our Contact for a dialog on `peer`'s transport.
    fn local_contact(&self, peer: &Peer) -> NameAddr {
        let mut params = Vec::new();
        if peer.transport == TransportKind::Tcp {
            params.push(Param::new("transport", "tcp"));
        }
        NameAddr::from_uri(SipUri {
            scheme: "sip".into(),
            user: Some("veertien".into()),
            password: None,
            host: IpText(self.config.advertised.ip()).to_string(),
            port: Some(self.config.advertised.port()),
            params,
            headers: Vec::new(),
        })
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
