//! Offering a queued call to an agent: the daemon rings the agent's phone (a leg of the
//! call, `outbound.rs`) carrying the call's reference number and a link to its context,
//! reports how ringing ended to the ACD and the statistics, and bridges media once the
//! agent answers.

use super::call::Phase;
use super::leg::Party;
use super::outbound::Dial;
use super::{Engine, Notification, OfferOutcome, Output};
use crate::acd::OfferFailure;
use crate::core::ids::{CallId, LegId};
use crate::dialplan::{AgentId, TenantId};
use crate::sip::msg::HeaderName;
use bytes::Bytes;
use std::time::Duration;

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
        if self.legs.agent_has_leg(&tenant, &agent) {
            tracing::debug!(call = %call_id, reference = %self.reference_label(call_id), %agent, "agent's phone still clearing a leg; offer deferred");
            self.deferred_offers.insert((tenant, agent), call_id);
            return;
        }
        let account = self.agents.account(agent.as_str()).filter(|a| a.tenant == tenant).cloned();
        let target = account.as_ref().and_then(|account| self.agent_target(account));
        let leg = target.and_then(|(binding, peer)| {
            self.dial(Dial {
                call: call_id,
                party: Party::Agent(agent.clone()),
                request_uri: binding.contact.trim_matches(['<', '>']).to_string(),
                to: format!("<{}>", binding.aor),
                from_display: format!("Ref {reference}"),
                extra_headers: vec![
                    (HeaderName::Other(Bytes::from_static(super::REFERENCE_HEADER)), reference.clone()),
                    (HeaderName::CallInfo, format!("<{}/api/calls/{reference}>;purpose=info", self.config.http_base_url)),
                ],
                peer,
            })
        });
        match leg {
            Some(leg) => tracing::info!(call = %call_id, reference = %self.reference_label(call_id), %leg, %agent, "ringing agent"),
            None => {
                tracing::info!(call = %call_id, reference = %self.reference_label(call_id), %agent, "agent unreachable: no registration or no RTP port");
                if let Err(error) = self.acd.offer_failed(self.now.mono, call_id, &agent, OfferFailure::Unreachable) {
                    tracing::debug!(call = %call_id, %error, "acd no longer offered the call");
                }
            }
        }
    }

    /// Ringing a party failed (a final error, no answer, no usable audio, unreachable).
    pub(super) fn on_ring_failed(&mut self, leg_id: LegId, failure: OfferFailure) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let agent = match leg.party.clone() {
            Party::Agent(agent) => agent,
            Party::Member { .. } => {
                self.report_ring_ended(leg_id, offer_outcome(failure));
                self.on_member_failed(leg_id, failure);
                return;
            }
            Party::Caller => return,
        };
        let call = leg.call;
        tracing::info!(%call, reference = %self.reference_label(call), %agent, status = ?leg.final_status, "agent did not take the call");
        self.report_ring_ended(leg_id, offer_outcome(failure));
        if let Err(error) = self.acd.offer_failed(self.now.mono, call, &agent, failure) {
            tracing::debug!(%call, %error, "acd no longer offered the call");
        }
    }

    /// The party on a leg we rang answered with usable audio.
    pub(super) fn on_party_answered(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let agent = match leg.party.clone() {
            Party::Agent(agent) => agent,
            Party::Member { .. } => return self.on_member_answered(leg_id),
            Party::Caller => return,
        };
        let call = leg.call;
        if self.acd.offer_answered(self.now.mono, call, &agent).is_err() {
            // The caller left, or another agent was faster.
            self.bye_leg(leg_id);
            return;
        }
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.state = super::leg::LegState::Connected;
            leg.answered = true;
        }
        self.report_ring_ended(leg_id, OfferOutcome::Answered);
        let wrap_up = self.wrap_up_of(call);
        let now = self.now;
        let Some(caller) = self.calls.get_mut(&call) else { return };
        caller.history.answered(now, agent.as_str(), wrap_up);
        caller.phase = Phase::Connected;
        caller.in_agent_conversation = true;
        let caller_leg = caller.caller;
        tracing::info!(%call, reference = %self.reference_label(call), %agent, "agent answered; bridging");
        self.bridge(call, caller_leg, leg_id);
    }

    /// Reports how ringing a party ended, once: to the call's record, and for agents to
    /// the statistics (reachability per agent; a group's comes with its transfer).
    pub(super) fn report_ring_ended(&mut self, leg_id: LegId, outcome: OfferOutcome) {
        let Some(leg) = self.legs.get_mut(leg_id) else { return };
        if leg.reported {
            return;
        }
        leg.reported = true;
        let target = match &leg.party {
            Party::Agent(agent) => agent.as_str(),
            Party::Member { target, .. } => target.as_str(),
            Party::Caller => return,
        };
        let ring_time = self.now.mono - leg.started_at;
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&leg.call) {
            call.history.leg_ended_ringing(now, leg_id, leg.party.kind(), target, ring_time, outcome, leg.final_status);
        }
        if let Party::Agent(agent) = &leg.party {
            let notification = Notification::OfferEnded { call: leg.call, tenant: leg.tenant.clone(), agent: agent.clone(), outcome, ring_time };
            self.outputs.push_back(Output::Notify(notification));
        }
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

    /// An agent's phone has no leg left: an offer that waited for it goes out now.
    pub(super) fn on_agent_phone_cleared(&mut self, tenant: TenantId, agent: AgentId) {
        if self.legs.agent_has_leg(&tenant, &agent) {
            return;
        }
        let key = (tenant, agent);
        if let Some(call) = self.deferred_offers.remove(&key) {
            self.offer_to_agent(call, key.1);
        }
    }
}
