//! REFER from an agent's phone (RFC 3515 with RFC 7647) and the NOTIFYs of its implicit
//! subscription: the phone's way to ask for a blind transfer, and to hear how it went.
//! The transfer itself runs in `transfer.rs`.

use super::call::TransferMode;
use super::leg::{LegState, Party};
use super::transfer::TransferError;
use super::Engine;
use crate::core::addr_text::SocketAddrText;
use crate::core::ids::{LegId, TransactionId};
use crate::sip::msg::{HeaderName, Method, NameAddr, Replaces, Request};
use bytes::Bytes;

impl Engine {
    /// REFER in a leg's dialog (RFC 3515 §2.4): one `Refer-To` or 400; only the agent
    /// talking to the caller may transfer (403); then 200 (RFC 7647 §5) and the transfer
    /// runs, reported by NOTIFY.
    pub(super) fn on_refer(&mut self, leg_id: LegId, tx: TransactionId, request: &Request, tag: &str) {
        let refer_to: Vec<&Bytes> = request.headers.get_all(&HeaderName::ReferTo).collect();
        let target_uri = match refer_to.as_slice() {
            [one] => NameAddr::parse(one).ok().map(|name_addr| name_addr.uri),
            _ => None,
        };
        let Some(target_uri) = target_uri else {
            self.stats.transfers_refused += 1;
            let response = self.build_response(request, 400, "Bad Request (exactly one Refer-To)", tag);
            self.send_on(tx, response);
            return;
        };
        let Some(leg) = self.legs.get(leg_id) else { return };
        let call_id = leg.call;
        let transferring = self.calls.get(&call_id).is_some_and(|call| call.caller_partner() == Some(leg_id) && call.transfer.is_none());
        if !matches!(leg.party, Party::Agent(_)) || !transferring {
            self.stats.transfers_refused += 1;
            let response = self.build_response(request, 403, "Forbidden", tag);
            self.send_on(tx, response);
            return;
        }
        // REFER is a target refresh request that creates a subscription, as SUBSCRIBE
        // does (RFC 6665): its 2xx carries our Contact.
        let contact = leg.dialog.as_ref().map(|dialog| dialog.local_contact.to_string());
        let mut ok = self.build_response(request, 200, "OK", tag);
        if let Some(contact) = contact {
            ok.headers.push(HeaderName::Contact, contact);
        }
        self.send_on(tx, ok);
        self.notify_transferor(leg_id, 100, "Trying", false);
        if let Some(replaces) = Replaces::from_uri(&target_uri) {
            // Attended: the Refer-To names the agent's consultation (RFC 5589 §7).
            let result = replaces.map_err(|_| (400, "Bad Request")).and_then(|replaces| self.attended_transfer(call_id, leg_id, &replaces));
            if let Err((status, reason)) = result {
                self.stats.transfers_refused += 1;
                tracing::info!(call = %call_id, reference = %self.reference_label(call_id), status, "attended transfer refused");
                self.notify_transferor(leg_id, status, reason, true);
            }
            return;
        }
        let user = target_uri.user_unescaped().unwrap_or_default();
        let result = self
            .resolve_target(call_id, &user)
            .and_then(|target| self.start_transfer(call_id, target, TransferMode::Blind, true));
        if let Err(error) = result {
            self.stats.transfers_refused += 1;
            tracing::info!(call = %call_id, reference = %self.reference_label(call_id), %error, "transfer refused");
            let (status, reason) = match error {
                TransferError::UnknownTarget(_) => (404, "Not Found"),
                _ => (403, "Forbidden"),
            };
            self.notify_transferor(leg_id, status, reason, true);
        }
    }

    /// NOTIFY in the transferor's dialog with the transfer's progress (RFC 3515 §2.4.5).
    pub(super) fn notify_transferor(&mut self, leg_id: LegId, status: u16, reason: &str, last: bool) {
        let branch = self.new_branch();
        let sent_by = SocketAddrText(self.config.advertised).to_string();
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        if leg.state != LegState::Connected {
            return;
        }
        let Some(dialog) = leg.dialog.as_mut() else { return };
        let mut notify = dialog.make_request(Method::Notify, branch, &sent_by, leg.peer.transport);
        notify.headers.push(HeaderName::Other(Bytes::from_static(b"Event")), "refer");
        let state = if last { "terminated;reason=noresource" } else { "active;expires=60" };
        notify.headers.push(HeaderName::Other(Bytes::from_static(b"Subscription-State")), state);
        notify.headers.push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        notify.body = Bytes::from(format!("SIP/2.0 {status} {reason}\r\n"));
        let peer = leg.peer;
        let tx = self.transactions.send_request(self.now.mono, notify, peer);
        self.flush_transmits();
        self.legs.add_transaction(tx, leg_id);
    }
}
