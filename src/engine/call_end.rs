//! How calls end: a party leaving (BYE, lost connection), the daemon hanging up on the
//! caller, and the removal of a call with its one disposition and record.

use super::call::{CallKind, EndReason, Phase};
use super::call_history::handling;
use super::dialog_requests::Departure;
use super::leg::{LegState, Party};
use super::media_commands::MediaCommand;
use super::record::Record;
use super::{Engine, Notification, Output};
use crate::core::ids::{CallId, LegId};

impl Engine {
    /// A party left its leg: the caller leaving ends the call; an agent leaving a
    /// conversation ends it too (the caller is hung up on). A party that was not (yet)
    /// talking to the caller only loses its leg.
    pub(super) fn on_party_left(&mut self, leg_id: LegId, departure: Departure) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let call = leg.call;
        match &leg.party {
            Party::Caller => {
                tracing::info!(%call, reference = %self.reference_label(call), ?departure, "caller left");
                let reason = match departure {
                    Departure::HungUp => EndReason::CallerHungUp,
                    Departure::ConnectionLost => EndReason::TransportFailure,
                };
                self.end_call(call, reason);
            }
            Party::Agent(_) | Party::Member { .. } => {
                let call_state = self.calls.get(&call);
                let talking = call_state.is_some_and(|c| c.caller_partner() == Some(leg_id));
                let transfer = call_state.and_then(|c| c.transfer.as_ref());
                if transfer.is_some_and(|t| t.transferor == Some(leg_id)) {
                    return self.on_transferor_left(call, leg_id);
                }
                if transfer.is_some_and(|t| t.consulting == Some(leg_id)) {
                    return self.on_consult_ended(call, leg_id);
                }
                if !talking {
                    if departure == Departure::HungUp || leg.state == LegState::Connected {
                        self.remove_leg(leg_id);
                    }
                    // Legs still ringing or clearing are left to their failing transactions.
                    return;
                }
                let reason = match (departure, &leg.party) {
                    (Departure::ConnectionLost, _) => EndReason::TransportFailure,
                    (Departure::HungUp, Party::Member { .. }) => EndReason::BackofficeHungUp,
                    (Departure::HungUp, _) => EndReason::AgentHungUp,
                };
                tracing::info!(%call, reference = %self.reference_label(call), party = leg.party.kind(), ?departure, "the caller's partner left the conversation");
                self.remove_leg(leg_id);
                self.end_agent_conversation(call);
                self.hang_up(call, reason);
            }
        }
    }

    /// We end the call: a final error while the caller's INVITE is unanswered, else BYE in
    /// the caller's dialog; the call ends when the BYE is answered.
    pub(super) fn hang_up(&mut self, id: CallId, reason: EndReason) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let caller = call.caller;
        let Some(leg) = self.legs.get(caller) else { return };
        match leg.state {
            LegState::Ending => {}
            LegState::Ringing => {
                let response = self.build_response(&leg.invite, 480, "Temporarily Unavailable", &leg.local_tag());
                let invite_tx = leg.invite_tx;
                self.send_on(invite_tx, response);
                self.end_call(id, reason);
            }
            _ => {
                call.end_reason = Some(reason);
                self.bye_leg(caller);
            }
        }
    }

    /// Our BYE to the caller was answered or timed out.
    pub(super) fn finish_ending(&mut self, id: CallId) {
        let reason = self.calls.get(&id).and_then(|call| call.end_reason.clone()).unwrap_or(EndReason::TransportFailure);
        self.end_call(id, reason);
    }

    /// Removes the call with all its legs, releases their media and emits its one
    /// disposition and record.
    pub(super) fn end_call(&mut self, id: CallId, reason: EndReason) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        // Not waiting any more: a ringing leg is cancelled, not a missed offer.
        call.phase = Phase::Leaving(reason.clone());
        call.bridges.clear();
        let legs = call.legs.clone();
        for &leg in &legs {
            if self.legs.get(leg).is_some_and(|leg| leg.answered) {
                call.history.leg_hung_up(self.now, leg);
            }
        }
        for leg in legs {
            self.cancel_leg(leg);
        }
        // The ACD learns the caller is gone: an abandon while waiting, the end of the
        // conversation when connected. Unknown to it (menu, closed) is not an error: such a
        // call has no disposition.
        if self.acd.caller_abandoned(self.now.mono, id).is_ok() {
            // The ACD's disposition (abandoned) goes into the record before it is finished.
            self.drain_acd_actions();
        }
        let Some(call) = self.calls.remove(&id) else { return };
        self.calls_by_reference.remove(&call.reference);
        let caller = self.legs.remove(call.caller);
        if let Some(leg) = &caller {
            self.flows.remove(&leg.peer, leg.id);
            self.ports.release(leg.rtp_port);
        }
        self.stats.calls_ended += 1;
        let duration = self.now.mono - call.established_at.unwrap_or(call.arrived_at);
        tracing::info!(call = %id, reference = call.reference.value(), reason = %reason.as_str(), duration_ms = duration.as_millis() as u64, "call ended");
        if let Some(leg) = caller {
            self.outputs.push_back(Output::Media(MediaCommand::Close { session: leg.media, rtp_port: leg.rtp_port }));
        }
        if call.kind == CallKind::Citizen {
            let record = call.history.finish(self.now, call.reference.value().to_string(), call.tenant.clone(), reason.as_str(), &call.context);
            let handling = handling(record.answered_at_ms.is_some(), &record.transfers);
            self.outputs.push_back(Output::Notify(Notification::CallHandled { call: id, tenant: call.tenant_id, queue: call.queue, handling }));
            self.outputs.push_back(Output::Notify(Notification::CallEnded { call: id, tenant: call.tenant, reason, duration }));
            self.persist_record(Record::Call(record));
        }
        self.check_drained();
    }
}

