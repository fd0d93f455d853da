//! Requests and responses inside the dialogs of every leg, written once whatever the
//! party: BYE, re-INVITE (hold and refresh), INFO and OPTIONS in a dialog, our BYE and
//! its answer, failed transactions, and our Contact. What a leg's end means to its call
//! is decided by [`Engine::on_party_left`] (`call_end.rs`).

use super::call::{EndReason, Phase};
use super::leg::{LegState, Party, Side};
use super::Engine;
use crate::core::addr_text::{IpText, SocketAddrText};
use crate::core::ids::{CallId, LegId, TransactionId};
use crate::media::sdp;
use crate::sip::dialog::{DialogKey, LocalSide};
use crate::sip::msg::{HeaderName, Method, NameAddr, Param, Request, Response, SipUri};
use crate::sip::transport::{Peer, TransportKind};

/// Why a party left a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The party sent BYE.
    HungUp,
    /// The party's connection was lost (RFC 3261 §17.1.4: the transport failed).
    ConnectionLost,
}

impl Engine {
    /// The leg whose dialog this request, received by us, belongs to (the To tag is ours).
    pub(super) fn dialog_leg(&self, request: &Request) -> Option<LegId> {
        let key = DialogKey::from_request(request, LocalSide::Receiver).ok()?;
        self.legs.by_dialog(&key)
    }

    /// A request inside one of our dialogs, from any party.
    pub(super) fn on_in_dialog(&mut self, tx: TransactionId, request: Request) {
        let Some(leg_id) = self.dialog_leg(&request) else {
            self.reply(tx, &request, 481, "Call/Transaction Does Not Exist");
            return;
        };
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        let call = leg.call;
        let local_sdp = leg.local_sdp.clone();
        let Some(dialog) = leg.dialog.as_mut() else { return };
        let tag = dialog.id.local_tag.clone();
        let contact = dialog.local_contact.to_string();
        if let Err(error) = dialog.handle_request(&request) {
            // RFC 3261 §12.2.2: a lower CSeq than the last one is answered 500.
            tracing::debug!(%call, leg = %leg_id, %error, "in-dialog request refused");
            let response = self.build_response(&request, 500, "Server Internal Error", &tag);
            self.send_on(tx, response);
            return;
        }
        let mut ok = self.build_response(&request, 200, "OK", &tag);
        match request.method {
            Method::Bye => {
                self.send_on(tx, ok);
                self.on_party_left(leg_id, Departure::HungUp);
            }
            Method::Refer => self.on_refer(leg_id, tx, &request, &tag),
            Method::Invite => {
                // Re-INVITE: session refresh or hold. We keep our media as it is and answer
                // with our current SDP, which RFC 3264 §8 allows. A hold while connected
                // counts as hold time in the record.
                self.note_hold(call, &request.body);
                ok.headers.push(HeaderName::Contact, contact);
                ok.headers.push(HeaderName::ContentType, "application/sdp");
                ok.body = local_sdp;
                self.send_on(tx, ok);
            }
            _ => self.send_on(tx, ok),
        }
    }

    /// A re-INVITE's offer (from any party) put the other party on hold or took them off
    /// it: counted as hold time while the call is connected.
    fn note_hold(&mut self, id: CallId, body: &[u8]) {
        let Some(on_hold) = std::str::from_utf8(body).ok().and_then(sdp::holds) else { return };
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&id) {
            if matches!(call.phase, Phase::Connected | Phase::Transferring) {
                call.history.hold(now, on_hold);
            }
        }
    }

    /// A response to one of our client transactions.
    pub(super) fn on_response(&mut self, tx: TransactionId, response: Response) {
        let Some(leg_id) = self.legs.by_transaction(tx) else { return };
        let Some(leg) = self.legs.get(leg_id) else { return };
        if tx == leg.invite_tx {
            self.on_invite_response(leg_id, response);
        } else if leg.bye_tx == Some(tx) && !response.is_provisional() {
            // The final response to our BYE ends the leg; the answers to our CANCEL and
            // NOTIFY change nothing.
            self.on_bye_done(leg_id);
        }
    }

    /// A response no transaction wanted, e.g. a 2xx retransmission to a request of ours
    /// after its transaction ended.
    pub(super) fn on_stray_response(&mut self, response: Response, peer: Peer) {
        // A 2xx retransmitted by a phone we called after its INVITE transaction ended: it
        // did not get our ACK, so ACK again (RFC 3261 §13.2.2.4).
        let key = DialogKey::from_response(&response, LocalSide::Sender).ok();
        if let Some(leg) = key.and_then(|key| self.legs.by_dialog(&key)) {
            if response.status / 100 == 2 {
                self.send_ack(leg);
                return;
            }
        }
        tracing::debug!(status = response.status, remote = %peer.remote, "stray response ignored");
    }

    /// A client or server transaction of a leg failed (timeout or transport error).
    pub(super) fn on_transaction_failed(&mut self, tx: TransactionId) {
        let Some(leg_id) = self.legs.by_transaction(tx) else { return };
        let Some(leg) = self.legs.get(leg_id) else { return };
        let (call, is_invite) = (leg.call, tx == leg.invite_tx);
        match (&leg.side, leg.state) {
            // Our BYE got no answer: the leg is over anyway.
            _ if leg.bye_tx == Some(tx) => self.on_bye_done(leg_id),
            // The caller's INVITE transaction failed before the ACK.
            (Side::Uas(_), LegState::Ringing | LegState::AwaitingAck) if is_invite => {
                self.end_call(call, EndReason::TransportFailure)
            }
            (Side::Uac, _) if is_invite => self.on_outbound_failed(leg_id),
            // Our CANCEL got no answer: the phone is gone.
            (Side::Uac, LegState::Cancelling) => self.remove_leg(leg_id),
            // An in-dialog request of ours (a NOTIFY) failed: the dialog's own BYE or the
            // party's decides the leg's end.
            _ => tracing::debug!(%call, leg = %leg_id, "in-dialog request failed"),
        }
    }

    /// Sends BYE in a leg's dialog (RFC 3261 §15.1.1); a leg without a dialog is simply
    /// dropped.
    pub(super) fn bye_leg(&mut self, leg_id: LegId) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        if leg.state == LegState::Ending {
            return;
        }
        let Some(dialog) = leg.dialog.as_mut() else {
            self.remove_leg(leg_id);
            return;
        };
        leg.state = LegState::Ending;
        let bye = dialog.make_request(Method::Bye, branch, &sent_by, leg.peer.transport);
        let peer = leg.peer;
        let tx = self.transactions.send_request(self.now.mono, bye, peer);
        self.flush_transmits();
        self.legs.add_transaction(tx, leg_id);
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.bye_tx = Some(tx);
        }
    }

    /// Our BYE was answered (or timed out): the caller's ends the call, another party's
    /// ends its leg.
    fn on_bye_done(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        match leg.party {
            Party::Caller => self.finish_ending(leg.call),
            Party::Agent(_) | Party::Member { .. } => self.remove_leg(leg_id),
        }
    }

    /// Our Contact for a dialog on `peer`'s transport.
    pub(super) fn local_contact(&self, peer: &Peer) -> NameAddr {
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
