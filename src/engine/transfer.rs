//! Transfers with supervision: an agent hands the caller to a backoffice group, one agent
//! or a queue, blind (REFER, RFC 3515 with RFC 7647, or the API) or warm (the API: the
//! agent talks to the target first). The daemon rings the target itself as new legs of the
//! same call, so it knows the outcome and owns the recovery (RFC 5589 §6 leaves recovery
//! to a transferor that real agents do not keep around):
//!
//! - answered: the caller is bridged to the member; the agent's leg is hung up;
//! - not answered (ring timeout, busy, any final error, unreachable, outside the group's
//!   hours): the call *bounces*, flagged with the reason: back to the transferring agent if
//!   that agent's leg is still up, else to the head of the queue it came from with a short
//!   prompt, with the same reference and context.
//!
//! The agent hanging up after the REFER does not withdraw the transfer (RFC 3515 §2.4.4).
//! A transfer's progress reaches a REFERring phone as NOTIFYs of the implicit
//! subscription with `message/sipfrag` bodies: 100 Trying, then the final status.

use super::call::{CallKind, Phase, TransferMode};
use super::leg::{LegState, Party};
use super::media_events::HOLD_MUSIC_PROMPT;
use super::timers::TimerKind;
use super::{Engine, Notification, OfferOutcome, Output};
use crate::acd::{calendar, OfferFailure, QueueRefusal};
use crate::core::ids::{CallId, LegId};
use crate::core::time::Instant;
use crate::dialplan::{AgentId, GroupId, GroupMember, QueueId, RingMode, Tenant};
use std::collections::VecDeque;
use std::time::Duration;

/// Played to a caller whose transfer bounced back to the queue.
pub const TRANSFER_FAILED_PROMPT: &str = "transfer_failed";
/// Priority of a bounced caller in its queue: ahead of every caller who arrived normally.
const BOUNCE_PRIORITY: u8 = u8::MAX;
/// Shortest time one member of an in-turn group rings.
const MIN_MEMBER_RING: Duration = Duration::from_secs(5);
/// Ring time of a transfer to one agent or to a group without its own setting.
const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a transfer goes, resolved in the caller's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// A backoffice group of the dial plan, rung by its `ring` mode and hours.
    Group(GroupId),
    /// One agent of the tenant, rung at its registration.
    Agent(AgentId),
    /// A front-office queue: the caller waits there like any caller.
    Queue(QueueId),
}

impl TransferTarget {
    /// The id in the target's URI or API request: a group, an agent or a queue of `tenant`
    /// (groups first, then agents, then queues). `None` for anything else.
    pub fn resolve(tenant: &Tenant, id: &str) -> Option<TransferTarget> {
        if let Some(group) = tenant.groups.iter().find(|g| g.id.as_str() == id) {
            return Some(TransferTarget::Group(group.id.clone()));
        }
        if let Some(agent) = tenant.agents.iter().find(|a| a.id.as_str() == id) {
            return Some(TransferTarget::Agent(agent.id.clone()));
        }
        tenant.queues.iter().find(|q| q.id.as_str() == id).map(|q| TransferTarget::Queue(q.id.clone()))
    }

    /// A label for metrics and records: the group or queue id, or `agent` (agent ids are
    /// people: not a metric label).
    pub fn label(&self) -> String {
        match self {
            TransferTarget::Group(group) => group.to_string(),
            TransferTarget::Agent(_) => "agent".to_string(),
            TransferTarget::Queue(queue) => queue.to_string(),
        }
    }
}

/// Why a transfer did not reach anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceReason {
    /// Nobody answered within the ring time.
    NoAnswer,
    /// Every member was busy.
    Busy,
    /// Members refused the call.
    Rejected,
    /// No member could be rung (not registered, no address, transport failure).
    Unreachable,
    /// Outside the group's hours.
    Closed,
    /// The member hung up the consultation of a warm transfer.
    ConsultEnded,
}

impl BounceReason {
    /// Stable name for records, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceReason::NoAnswer => "no_answer",
            BounceReason::Busy => "busy",
            BounceReason::Rejected => "rejected",
            BounceReason::Unreachable => "unreachable",
            BounceReason::Closed => "closed",
            BounceReason::ConsultEnded => "consult_ended",
        }
    }

    /// The final sipfrag status reported to a REFERring phone.
    pub(super) fn status(self) -> (u16, &'static str) {
        match self {
            BounceReason::NoAnswer | BounceReason::Closed | BounceReason::ConsultEnded => (480, "Temporarily Unavailable"),
            BounceReason::Busy => (486, "Busy Here"),
            BounceReason::Rejected => (603, "Decline"),
            BounceReason::Unreachable => (404, "Not Found"),
        }
    }

    fn from_failure(failure: OfferFailure) -> BounceReason {
        match failure {
            OfferFailure::NoAnswer => BounceReason::NoAnswer,
            OfferFailure::Busy => BounceReason::Busy,
            OfferFailure::Rejected => BounceReason::Rejected,
            OfferFailure::Unreachable => BounceReason::Unreachable,
        }
    }
}

/// How a transfer ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// A member (or the queue) took the call.
    Answered,
    /// Nobody took it: the call came back.
    Bounced(BounceReason),
    /// The agent withdrew it over the API.
    Cancelled,
}

impl TransferOutcome {
    /// Stable label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Answered => "answered",
            TransferOutcome::Bounced(reason) => reason.as_str(),
            TransferOutcome::Cancelled => "cancelled",
        }
    }
}

/// Why a transfer could not be started (the API's answer; REFERs get sipfrag statuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The target names no group, agent or queue of the caller's tenant.
    #[error("no group, agent or queue {0} in this tenant")]
    UnknownTarget(String),
    /// The call is not connected to an agent (or a transfer is already under way).
    #[error("the call is not connected to an agent")]
    NotConnected,
    /// The call made its tenant's `max_transfers` transfers already.
    #[error("the call was transferred {0} times already (max_transfers)")]
    HopLimit(u32),
    /// No warm transfer is consulting, or no transfer is under way.
    #[error("no transfer to complete or cancel")]
    NoTransfer,
}

/// A transfer under way.
#[derive(Debug)]
pub struct Transfer {
    pub target: TransferTarget,
    pub mode: TransferMode,
    /// The agent's leg that asked; `None` once that agent left (the transfer goes on).
    pub transferor: Option<LegId>,
    /// An agent's transfer (not a menu's route): counts against `max_transfers` when done.
    counts_as_hop: bool,
    /// The transferor asked with REFER: its implicit subscription gets NOTIFYs.
    pub subscribed: bool,
    /// Members still to ring, in turn.
    pending_members: VecDeque<GroupMember>,
    /// Whether members ring together or one after another.
    ring_mode: RingMode,
    /// How long each member rings in turn.
    member_ring: Duration,
    /// The legs ringing now.
    pub ringing: Vec<LegId>,
    /// A warm transfer's member, talking to the agent while the caller holds.
    pub consulting: Option<LegId>,
    /// Tells this transfer's timers from an earlier one's.
    seq: u32,
    started_at: Instant,
    /// How long the target rang before a member answered (a warm transfer ends later).
    rang_for: Option<Duration>,
    /// The most telling failure so far (busy beats no answer beats unreachable).
    failure: Option<BounceReason>,
}

impl Engine {
    /// The target named `id` in the call's tenant.
    ///
    /// A number of the tenant's dial plan (its 14-number or another of its numbers) names
    /// its front office: the queue the menu defaults to, else its first queue. Decision: a
    /// number of another tenant is unknown here: a caller is not handed across
    /// municipalities, whose reference numbers and records are their own.
    pub(super) fn resolve_target(&self, call: CallId, id: &str) -> Result<TransferTarget, TransferError> {
        let unknown = || TransferError::UnknownTarget(id.to_string());
        let tenant = self.calls.get(&call).and_then(|call| self.plan.tenant(&call.tenant_id)).ok_or_else(unknown)?;
        if let Some(target) = TransferTarget::resolve(tenant, id) {
            return Ok(target);
        }
        let own_number = self.plan.route(id).is_some_and(|routed| routed.id == tenant.id);
        match self.default_queue(call) {
            Some(queue) if own_number => Ok(TransferTarget::Queue(queue)),
            _ => Err(unknown()),
        }
    }

    /// Starts transferring the caller of `call_id`, talking to an agent, to `target`.
    pub(super) fn start_transfer(&mut self, call_id: CallId, target: TransferTarget, mode: TransferMode, subscribed: bool) -> Result<(), TransferError> {
        let Some(call) = self.calls.get(&call_id) else { return Err(TransferError::NotConnected) };
        let transferor = call.caller_partner().filter(|leg| self.legs.get(*leg).is_some_and(|leg| leg.agent().is_some()));
        let (Some(transferor), None) = (transferor, &call.transfer) else { return Err(TransferError::NotConnected) };
        if !matches!(call.phase, Phase::Connected) {
            return Err(TransferError::NotConnected);
        }
        let max_transfers = self.plan.tenant(&call.tenant_id).map_or(0, |tenant| tenant.max_transfers);
        if call.transfers_made >= max_transfers {
            return Err(TransferError::HopLimit(call.transfers_made));
        }
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), target = %target.label(), ?mode, "transfer started");
        match target {
            TransferTarget::Queue(queue) => self.transfer_to_queue(call_id, transferor, subscribed, queue),
            target => self.ring_target(call_id, target, mode, Some(transferor), subscribed),
        }
        Ok(())
    }

    /// A menu choice routes the caller to a backoffice group directly, with the same
    /// supervision as a transfer (no agent to return to: a bounce goes to a queue).
    pub(super) fn route_to_group(&mut self, call_id: CallId, group: GroupId) {
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), %group, "menu routes to a group");
        self.ring_target(call_id, TransferTarget::Group(group), TransferMode::Blind, None, false);
    }

    /// Puts the caller on hold and rings the target's members; `transferor` is the agent's
    /// leg bridged to the caller, if any.
    pub(super) fn ring_target(&mut self, call_id: CallId, target: TransferTarget, mode: TransferMode, transferor: Option<LegId>, subscribed: bool) {
        let Some(caller) = self.calls.get(&call_id).map(|call| call.caller) else { return };
        let (members, ring_timeout, ring_mode, open) = self.transfer_members(call_id, &target);
        self.transfer_seq += 1;
        let seq = self.transfer_seq;
        let member_ring = match ring_mode {
            RingMode::Together => ring_timeout,
            RingMode::InTurn => (ring_timeout / members.len().max(1) as u32).max(MIN_MEMBER_RING),
        };
        let now = self.now;
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.history.transfer_requested(now, mode, &target.label());
            call.transfer = Some(Transfer {
                target,
                mode,
                transferor,
                counts_as_hop: transferor.is_some(),
                subscribed,
                pending_members: members.into(),
                ring_mode,
                member_ring,
                ringing: Vec::new(),
                consulting: None,
                seq,
                started_at: now.mono,
                rang_for: None,
                failure: None,
            });
        }
        // The caller holds with music while the target rings.
        if let Some(agent_leg) = transferor {
            self.unbridge(call_id, caller, agent_leg);
        }
        self.set_phase(call_id, Phase::Transferring);
        let citizen = self.calls.get(&call_id).is_some_and(|call| call.kind == CallKind::Citizen);
        if let Some(media) = self.caller_media(call_id).filter(|_| citizen) {
            self.play_prompts(media, vec![HOLD_MUSIC_PROMPT.to_string()], true, false);
        }
        if !open {
            self.bounce(call_id, BounceReason::Closed);
            return;
        }
        self.timers.schedule_mono(now.mono + ring_timeout, TimerKind::TransferTimeout(call_id, seq));
        match ring_mode {
            RingMode::Together => while self.ring_next_member(call_id) {},
            RingMode::InTurn => {
                self.ring_next_member(call_id);
            }
        }
        self.bounce_if_nobody_rings(call_id);
    }

    /// The members a target rings, its ring time and mode, and whether it is open now.
    fn transfer_members(&self, call_id: CallId, target: &TransferTarget) -> (Vec<GroupMember>, Duration, RingMode, bool) {
        let tenant = self.calls.get(&call_id).and_then(|call| self.plan.tenant(&call.tenant_id));
        match (target, tenant) {
            (TransferTarget::Group(group_id), Some(tenant)) => match tenant.group(group_id) {
                Some(group) => {
                    let hours = group.hours.as_ref().unwrap_or(&tenant.hours);
                    let open = calendar::is_open(hours, &tenant.closed_days, self.now.wall);
                    (group.members.clone(), Duration::from_secs(u64::from(group.ring_timeout_s)), group.ring, open)
                }
                None => (Vec::new(), DEFAULT_RING_TIMEOUT, RingMode::Together, false),
            },
            (TransferTarget::Agent(agent), _) => (vec![GroupMember::Agent(agent.clone())], DEFAULT_RING_TIMEOUT, RingMode::Together, true),
            _ => (Vec::new(), DEFAULT_RING_TIMEOUT, RingMode::Together, false),
        }
    }

    /// Rings the next pending member that can be rung; false when none is left.
    fn ring_next_member(&mut self, call_id: CallId) -> bool {
        loop {
            let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) else { return false };
            let Some(member) = transfer.pending_members.pop_front() else { return false };
            let group = match &transfer.target {
                TransferTarget::Group(group) => Some(group.clone()),
                _ => None,
            };
            // Members ringing together stop at the transfer's own timeout.
            let turn = (transfer.ring_mode == RingMode::InTurn).then_some(transfer.member_ring);
            match self.dial_member(call_id, &member, group) {
                Ok(leg) => {
                    if let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
                        transfer.ringing.push(leg);
                    }
                    if let Some(member_ring) = turn {
                        self.timers.schedule_mono(self.now.mono + member_ring, TimerKind::MemberRingTimeout(leg));
                    }
                    return true;
                }
                Err(reason) => self.note_transfer_failure(call_id, reason),
            }
        }
    }

    /// A member's phone answered.
    pub(super) fn on_member_answered(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let call_id = leg.call;
        let transfer = self.calls.get(&call_id).and_then(|call| call.transfer.as_ref());
        let Some(transfer) = transfer.filter(|transfer| transfer.ringing.contains(&leg_id)) else {
            // The transfer ended meanwhile (another member was faster, it bounced).
            self.bye_leg(leg_id);
            return;
        };
        let (mode, transferor) = (transfer.mode, transfer.transferor);
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.state = LegState::Connected;
            leg.answered = true;
        }
        self.report_ring_ended(leg_id, OfferOutcome::Answered);
        let now = self.now.mono;
        let others: Vec<LegId> = match self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
            Some(transfer) => {
                transfer.rang_for = Some(now - transfer.started_at);
                transfer.ringing.retain(|leg| *leg != leg_id);
                std::mem::take(&mut transfer.ringing)
            }
            None => Vec::new(),
        };
        for other in others {
            // Another member was faster: a cancelled ring, not a missed one.
            self.report_ring_ended(other, OfferOutcome::Cancelled);
            self.cancel_leg(other);
        }
        let consultation = self.calls.get(&call_id).is_some_and(|call| call.kind != CallKind::Citizen);
        match (mode, transferor) {
            _ if consultation => self.answer_consultation(call_id, leg_id),
            (TransferMode::Warm, Some(agent_leg)) => {
                tracing::info!(call = %call_id, reference = %self.reference_label(call_id), "member answered; consulting");
                if let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
                    transfer.consulting = Some(leg_id);
                }
                self.bridge(call_id, agent_leg, leg_id);
            }
            _ => self.complete_transfer(call_id, leg_id),
        }
    }

    /// The member takes the caller over: caller and member are bridged, the agent leaves.
    fn complete_transfer(&mut self, call_id: CallId, member_leg: LegId) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        let Some(transfer) = call.transfer.take() else { return };
        let caller = call.caller;
        if transfer.counts_as_hop {
            call.transfers_made += 1;
        }
        let label = transfer.target.label();
        let now = self.now;
        let target = self.legs.get(member_leg).and_then(|leg| match &leg.party {
            Party::Member { target, .. } => Some(target.clone()),
            _ => None,
        });
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.history.transfer_ended(now, TransferOutcome::Answered.as_str(), target.as_deref());
        }
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), target = %label, mode = ?transfer.mode, "transfer answered");
        if let Some(agent_leg) = transfer.transferor {
            self.unbridge(call_id, agent_leg, member_leg);
            if transfer.subscribed {
                self.notify_transferor(agent_leg, 200, "OK", true);
            }
            self.end_agent_conversation(call_id);
            self.bye_leg(agent_leg);
        }
        self.bridge(call_id, caller, member_leg);
        self.set_phase(call_id, Phase::Connected);
        self.emit_transfer_ended(call_id, &transfer, TransferOutcome::Answered);
    }

    /// A blind transfer to a queue: the queue takes the caller at once; the agent leaves.
    fn transfer_to_queue(&mut self, call_id: CallId, transferor: LegId, subscribed: bool, queue: QueueId) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        call.transfers_made += 1;
        let caller = call.caller;
        let now = self.now;
        call.history.transfer_requested(now, TransferMode::Blind, queue.as_str());
        call.history.transfer_ended(now, TransferOutcome::Answered.as_str(), Some(queue.as_str()));
        self.unbridge(call_id, caller, transferor);
        if subscribed {
            self.notify_transferor(transferor, 200, "OK", true);
        }
        self.end_agent_conversation(call_id);
        self.bye_leg(transferor);
        if let Some(media) = self.caller_media(call_id) {
            self.play_prompts(media, vec![HOLD_MUSIC_PROMPT.to_string()], true, false);
        }
        self.requeue(call_id, &queue, 0);
    }

    /// A member could not take the call (final error, unreachable, no usable audio).
    pub(super) fn on_member_failed(&mut self, leg_id: LegId, failure: OfferFailure) {
        let Some(call_id) = self.legs.get(leg_id).map(|leg| leg.call) else { return };
        let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) else { return };
        if !transfer.ringing.contains(&leg_id) {
            return;
        }
        transfer.ringing.retain(|leg| *leg != leg_id);
        self.note_transfer_failure(call_id, BounceReason::from_failure(failure));
        self.ring_next_member(call_id);
        self.bounce_if_nobody_rings(call_id);
    }

    /// An in-turn member rang its share of the ring time: the next one rings.
    pub(super) fn on_member_ring_timeout(&mut self, leg_id: LegId) {
        let Some(leg) = self.legs.get(leg_id) else { return };
        let call_id = leg.call;
        let ringing = leg.state == LegState::Ringing
            && self.calls.get(&call_id).and_then(|call| call.transfer.as_ref()).is_some_and(|t| t.ringing.contains(&leg_id));
        if !ringing {
            return;
        }
        if let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
            transfer.ringing.retain(|leg| *leg != leg_id);
        }
        self.report_ring_ended(leg_id, OfferOutcome::NoAnswer);
        self.cancel_leg(leg_id);
        self.note_transfer_failure(call_id, BounceReason::NoAnswer);
        self.ring_next_member(call_id);
        self.bounce_if_nobody_rings(call_id);
    }

    /// The transfer's whole ring time ran out.
    pub(super) fn on_transfer_timeout(&mut self, call_id: CallId, seq: u32) {
        let due = self
            .calls
            .get(&call_id)
            .and_then(|call| call.transfer.as_ref())
            .is_some_and(|transfer| transfer.seq == seq && transfer.consulting.is_none());
        if due {
            self.bounce(call_id, BounceReason::NoAnswer);
        }
    }

    fn note_transfer_failure(&mut self, call_id: CallId, reason: BounceReason) {
        let rank = |reason: BounceReason| match reason {
            BounceReason::Busy => 3,
            BounceReason::Rejected => 2,
            BounceReason::NoAnswer => 1,
            _ => 0,
        };
        if let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
            if transfer.failure.is_none_or(|seen| rank(reason) > rank(seen)) {
                transfer.failure = Some(reason);
            }
        }
    }

    fn bounce_if_nobody_rings(&mut self, call_id: CallId) {
        let Some(transfer) = self.calls.get(&call_id).and_then(|call| call.transfer.as_ref()) else { return };
        if transfer.ringing.is_empty() && transfer.pending_members.is_empty() && transfer.consulting.is_none() {
            let reason = transfer.failure.unwrap_or(BounceReason::Unreachable);
            self.bounce(call_id, reason);
        }
    }

    /// Nobody took the call: it comes back, flagged, to the agent if still there, else to
    /// the head of its queue.
    fn bounce(&mut self, call_id: CallId, reason: BounceReason) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        let Some(transfer) = call.transfer.take() else { return };
        let caller = call.caller;
        call.history.transfer_ended(self.now, reason.as_str(), None);
        tracing::info!(call = %call_id, reference = %self.reference_label(call_id), target = %transfer.target.label(), reason = reason.as_str(), "transfer bounced");
        for leg in transfer.ringing.iter().chain(transfer.consulting.iter()) {
            self.cancel_leg(*leg);
        }
        self.emit_transfer_ended(call_id, &transfer, TransferOutcome::Bounced(reason));
        if self.calls.get(&call_id).is_some_and(|call| call.kind != CallKind::Citizen) {
            let (status, text) = reason.status();
            self.refuse_consultation(call_id, status, text);
            return;
        }
        self.return_caller(call_id, caller, transfer.transferor, transfer.subscribed.then_some(reason.status()));
    }

    /// Gives the caller back after a bounce or a cancelled transfer: to the transferring
    /// agent if that agent's leg is still up (with a final NOTIFY of `status` when it
    /// REFERred), else to the head of the queue the call came from.
    fn return_caller(&mut self, call_id: CallId, caller: LegId, transferor: Option<LegId>, status: Option<(u16, &str)>) {
        let agent_up = transferor.filter(|leg| self.legs.get(*leg).is_some_and(|leg| leg.state == LegState::Connected));
        if let Some(agent_leg) = agent_up {
            if let Some((code, reason)) = status {
                self.notify_transferor(agent_leg, code, reason, true);
            }
            self.bridge(call_id, caller, agent_leg);
            self.set_phase(call_id, Phase::Connected);
            return;
        }
        let queue = self.calls.get(&call_id).and_then(|call| call.queue.clone()).or_else(|| self.default_queue(call_id));
        if let Some(media) = self.caller_media(call_id) {
            // The prompt, then hold music as for every caller waiting (PlayoutFinished).
            self.play_prompts(media, vec![TRANSFER_FAILED_PROMPT.to_string()], false, false);
        }
        match queue {
            Some(queue) => self.requeue(call_id, &queue, BOUNCE_PRIORITY),
            None => self.hang_up(call_id, super::EndReason::Overflowed),
        }
    }

    /// Puts the call (back) in `queue` with `priority`; its first visit already counted
    /// it in the queue figures ([`crate::acd::Acd::call_requeued`]).
    fn requeue(&mut self, call_id: CallId, queue: &QueueId, priority: u8) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        call.phase = Phase::Queued;
        call.queue = Some(queue.clone());
        let tenant = call.tenant_id.clone();
        match self.acd.call_requeued(self.now.mono, call_id, &tenant, queue, priority) {
            Ok(()) => {}
            Err(QueueRefusal::QueueFull { destination }) => self.overflow(call_id, destination),
            Err(refusal) => {
                tracing::warn!(call = %call_id, reference = %self.reference_label(call_id), %refusal, "call not queued again");
                self.hang_up(call_id, super::EndReason::Overflowed);
            }
        }
    }

    /// The agent hung up while the transfer runs: the transfer goes on without them
    /// (RFC 3515 §2.4.4). A warm transfer whose agent leaves while consulting completes,
    /// as an attended transfer does when the transferor hangs up.
    pub(super) fn on_transferor_left(&mut self, call_id: CallId, leg_id: LegId) {
        self.end_agent_conversation(call_id);
        let consulting = match self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
            Some(transfer) => {
                transfer.transferor = None;
                transfer.consulting
            }
            None => None,
        };
        self.remove_leg(leg_id);
        if let Some(member_leg) = consulting {
            self.complete_transfer(call_id, member_leg);
        }
    }

    /// The member hung up a warm transfer's consultation: the caller goes back.
    pub(super) fn on_consult_ended(&mut self, call_id: CallId, leg_id: LegId) {
        self.remove_leg(leg_id);
        if let Some(transfer) = self.calls.get_mut(&call_id).and_then(|call| call.transfer.as_mut()) {
            transfer.consulting = None;
        }
        self.bounce(call_id, BounceReason::ConsultEnded);
    }

    /// The API completes a warm transfer whose member is consulting.
    pub(super) fn complete_warm_transfer(&mut self, call_id: CallId) -> Result<(), TransferError> {
        let consulting = self.calls.get(&call_id).and_then(|call| call.transfer.as_ref()).and_then(|t| t.consulting);
        let member_leg = consulting.ok_or(TransferError::NoTransfer)?;
        self.complete_transfer(call_id, member_leg);
        Ok(())
    }

    /// The API withdraws a transfer: ringing stops, a consultation ends, and caller and
    /// agent talk again. Not a bounce.
    pub(super) fn cancel_transfer(&mut self, call_id: CallId) -> Result<(), TransferError> {
        let call = self.calls.get_mut(&call_id).ok_or(TransferError::NoTransfer)?;
        let transfer = call.transfer.take().ok_or(TransferError::NoTransfer)?;
        let caller = call.caller;
        call.history.transfer_ended(self.now, TransferOutcome::Cancelled.as_str(), None);
        for leg in transfer.ringing.iter().chain(transfer.consulting.iter()) {
            self.cancel_leg(*leg);
        }
        self.emit_transfer_ended(call_id, &transfer, TransferOutcome::Cancelled);
        self.return_caller(call_id, caller, transfer.transferor, transfer.subscribed.then_some((487, "Request Terminated")));
        Ok(())
    }

    /// Tells the ACD the agent's conversation with this call is over (wrap-up starts),
    /// once.
    pub(super) fn end_agent_conversation(&mut self, call_id: CallId) {
        let Some(call) = self.calls.get_mut(&call_id) else { return };
        if !std::mem::take(&mut call.in_agent_conversation) {
            return;
        }
        if let Err(error) = self.acd.call_ended(self.now.mono, call_id) {
            tracing::debug!(call = %call_id, %error, "acd did not know the conversation");
        }
    }

    fn emit_transfer_ended(&mut self, call_id: CallId, transfer: &Transfer, outcome: TransferOutcome) {
        let Some(call) = self.calls.get(&call_id) else { return };
        let notification = Notification::TransferEnded {
            call: call_id,
            tenant: call.tenant_id.clone(),
            target: transfer.target.label(),
            mode: transfer.mode,
            outcome,
            ring_time: transfer.rang_for.unwrap_or(self.now.mono - transfer.started_at),
        };
        self.outputs.push_back(Output::Notify(notification));
    }
}
