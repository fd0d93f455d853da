//! Consultations and attended transfer (RFC 5589 §7): an agent's phone calls a backoffice
//! group or a colleague through the daemon (digest-authenticated like its REGISTER), talks
//! to whoever answers while the caller holds on the other line, then REFERs the caller's
//! dialog with `Refer-To: <sip:target@daemon?Replaces=consultation>`. The daemon holds
//! both dialogs, so it bridges caller and member directly, without ringing the member
//! again, and hangs up the agent's two legs.
//!
//! Decisions: the consultation is answered only once its target answered (the agent
//! hears ringing, then the member; nobody answering ends it with the failure status, as
//! a proxy would); it is counted in no figure and leaves no record of its own (the
//! transferred call's record lists the transfer and who took it); the group's
//! reachability counts it as an attempt.

use super::call::{CallKind, EndReason, TransferMode};
use super::leg::{LegState, Party};
use super::transfer::TransferTarget;
use super::Engine;
use crate::core::ids::{CallId, LegId, TransactionId};
use crate::sip::dialog::DialogKey;
use crate::sip::msg::{HeaderName, Replaces, Request};
use crate::sip::transport::Peer;

impl Engine {
    /// An INVITE from an agent's phone (not a trusted trunk): a consultation of the group,
    /// agent or queue its Request-URI names in the agent's tenant.
    pub(super) fn on_agent_invite(&mut self, tx: TransactionId, request: Request, peer: Peer, user: &str) {
        let Some((account, _)) = self.authenticate_agent(tx, &request, peer, user) else { return };
        let target_id = request.uri().ok().and_then(|uri| uri.user).unwrap_or_default();
        let target = self.plan.tenant(&account.tenant).and_then(|tenant| TransferTarget::resolve(tenant, &target_id));
        let Some(target @ (TransferTarget::Group(_) | TransferTarget::Agent(_))) = target else {
            self.stats.unknown_number += 1;
            self.reply(tx, &request, 404, "Not Found");
            return;
        };
        let kind = CallKind::Consult { agent: account.agent.clone() };
        let Some((call_id, leg_id)) = self.accept_invite(tx, request, peer, account.tenant.clone(), target_id, kind) else { return };
        tracing::info!(call = %call_id, agent = %account.agent, target = %target.label(), "agent consults");
        self.send_ringing(leg_id);
        self.ring_target(call_id, target, TransferMode::Warm, None, false);
    }

    /// A member answered a consultation: the agent's INVITE is answered and the two talk.
    pub(super) fn answer_consultation(&mut self, call_id: CallId, member_leg: LegId) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        call.transfer = None;
        let agent_leg = call.caller;
        self.answer_leg(agent_leg);
        self.bridge(call_id, agent_leg, member_leg);
        self.set_phase(call_id, super::call::Phase::Connected);
    }

    /// Nobody took a consultation: the agent's INVITE gets the failure status.
    pub(super) fn refuse_consultation(&mut self, call_id: CallId, status: u16, reason: &str) {
        let Some(leg) = self.calls.get(&call_id).and_then(|call| self.legs.get(call.caller)) else { return };
        if leg.state == LegState::Ringing {
            let response = self.build_response(&leg.invite, status, reason, &leg.local_tag());
            let invite_tx = leg.invite_tx;
            self.send_on(invite_tx, response);
        }
        self.end_call(call_id, EndReason::NotAnswered);
    }

    /// An INVITE with `Replaces` (RFC 3891 §3), answered with the status the RFC gives:
    /// 400 for more than one header or a malformed one, 481 when no dialog matches, 603
    /// when it ended, 486 for `early-only` against a confirmed dialog, and 403 otherwise.
    /// Decision: the daemon replaces dialogs only on a REFER inside a call it holds (the
    /// attended transfer above), where it knows who may; a phone cannot take over a leg
    /// by INVITE.
    pub(super) fn refuse_replacing_invite(&mut self, tx: TransactionId, request: &Request) {
        let values: Vec<&[u8]> = request.headers.get_all(&HeaderName::Replaces).map(|value| value.as_ref()).collect();
        let replaces = match values.as_slice() {
            [one] => std::str::from_utf8(one).ok().and_then(|text| Replaces::parse(text).ok()),
            _ => None,
        };
        let (status, reason) = match replaces {
            None => (400, "Bad Request (one valid Replaces)"),
            Some(replaces) => {
                let key = DialogKey { call_id: replaces.call_id.clone().into(), local_tag: replaces.to_tag, remote_tag: replaces.from_tag };
                match self.legs.by_dialog(&key).and_then(|leg| self.legs.get(leg)).map(|leg| leg.state) {
                    None => (481, "Call/Transaction Does Not Exist"),
                    Some(LegState::Ending) => (603, "Decline"),
                    Some(LegState::Connected) if replaces.early_only => (486, "Busy Here"),
                    Some(_) => (403, "Forbidden"),
                }
            }
        };
        self.stats.requests_rejected += 1;
        self.reply(tx, request, status, reason);
    }

    /// REFER with `Replaces` from `agent_leg` of `call_id`: the caller goes to the member
    /// the agent consulted. `Err` carries the final sipfrag status: 481 when no
    /// consultation matches (RFC 3891 §3), 603 when it already ended, 486 while it still
    /// rings, 403 when it is another agent's or the hop limit is reached.
    pub(super) fn attended_transfer(&mut self, call_id: CallId, agent_leg: LegId, replaces: &Replaces) -> Result<(), (u16, &'static str)> {
        const NO_DIALOG: (u16, &str) = (481, "Call/Transaction Does Not Exist");
        let as_named = DialogKey { call_id: replaces.call_id.clone().into(), local_tag: replaces.to_tag.clone(), remote_tag: replaces.from_tag.clone() };
        // Phones differ in which tag they call to-tag; accept the dialog either way round.
        let swapped = DialogKey { call_id: replaces.call_id.clone().into(), local_tag: replaces.from_tag.clone(), remote_tag: replaces.to_tag.clone() };
        let consult_leg = self.legs.by_dialog(&as_named).or_else(|| self.legs.by_dialog(&swapped)).ok_or(NO_DIALOG)?;
        let leg = self.legs.get(consult_leg).ok_or(NO_DIALOG)?;
        let consult_call = leg.call;
        let agent = self.legs.get(agent_leg).and_then(|leg| leg.agent().cloned());
        let consult = self.calls.get(&consult_call).ok_or(NO_DIALOG)?;
        if !matches!((&consult.kind, &agent), (CallKind::Consult { agent: consulting }, Some(agent)) if consulting == agent) {
            return Err((403, "Forbidden"));
        }
        match leg.state {
            // The phone has our 2xx: for it the consultation is confirmed.
            LegState::Connected | LegState::AwaitingAck => {}
            LegState::Ending => return Err((603, "Decline")),
            _ => return Err((486, "Busy Here")),
        }
        let member_leg = consult.caller_partner().ok_or(NO_DIALOG)?;
        let call = self.calls.get(&call_id).ok_or(NO_DIALOG)?;
        let max_transfers = self.plan.tenant(&call.tenant_id).map_or(0, |tenant| tenant.max_transfers);
        if call.transfers_made >= max_transfers || call.transfer.is_some() || call.caller_partner() != Some(agent_leg) {
            return Err((403, "Forbidden"));
        }
        self.move_member(consult_call, consult_leg, member_leg, call_id);
        self.complete_attended(call_id, agent_leg, member_leg);
        self.hang_up(consult_call, EndReason::NotAnswered);
        Ok(())
    }

    /// Takes the member's leg out of the consultation into the caller's call.
    fn move_member(&mut self, consult_call: CallId, consult_leg: LegId, member_leg: LegId, call_id: CallId) {
        self.unbridge(consult_call, consult_leg, member_leg);
        if let Some(consult) = self.calls.get_mut(&consult_call) {
            consult.legs.retain(|leg| *leg != member_leg);
        }
        if let Some(leg) = self.legs.get_mut(member_leg) {
            leg.call = call_id;
        }
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.legs.push(member_leg);
        }
    }

    /// The caller and the consulted member talk; the agent's leg ends.
    fn complete_attended(&mut self, call_id: CallId, agent_leg: LegId, member_leg: LegId) {
        let (target, label) = match self.legs.get(member_leg).map(|leg| &leg.party) {
            Some(Party::Member { group, target, .. }) => (target.clone(), group.as_ref().map_or_else(|| "agent".to_string(), ToString::to_string)),
            _ => return,
        };
        let now = self.now;
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        let caller = call.caller;
        call.transfers_made += 1;
        call.history.transfer_requested(now, TransferMode::Warm, &label);
        call.history.transfer_ended(now, "answered", Some(&target));
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), target = %label, "attended transfer completed");
        self.unbridge(call_id, caller, agent_leg);
        self.bridge(call_id, caller, member_leg);
        self.set_phase(call_id, super::call::Phase::Connected);
        self.notify_transferor(agent_leg, 200, "OK", true);
        self.end_agent_conversation(call_id);
        self.bye_leg(agent_leg);
    }
}

