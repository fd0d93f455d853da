//! The ACD state machine: all tenants' queues and agents of one deployment, driven by the
//! engine's inputs in virtual time. Modelled on Asterisk app_queue and FreeSWITCH
//! mod_callcenter, with these choices made explicit:
//!
//! - **Order**: callers are served by priority (higher first), then first arrival, then
//!   arrival order. An agent serving several queues gets the caller that comes first in that
//!   order over all its queues.
//! - **Offers**: each waiting caller that is not ringing anyone is offered to the agents its
//!   queue's strategy picks among the free ones (one agent, or all for ring-all). An agent
//!   rings for one caller at a time. A failed or timed-out offer puts the agent back (or
//!   pauses it, see below) and the caller keeps its place.
//! - **Retry cooldown**: after any failed offer (no answer, busy, rejected, unreachable)
//!   that agent is not offered *the same* call again for one ring timeout of the queue, so
//!   the next agent is tried first; if nobody else is free the caller is re-offered to that
//!   agent when the cooldown ends. Meanwhile that agent may take a caller further back; the
//!   skipped caller keeps its position and comes first for every other agent.
//! - **Auto-pause**: no answer and unreachable count as a miss; `max_missed_offers` misses
//!   in a row pause the agent with [`PauseReason::NoAnswer`]. An answer or an explicit
//!   rejection (the agent is evidently present) resets the count; busy leaves it.
//! - **Overflow**: at arrival (queue at `max_length`) or after `max_wait` in a queue. Into
//!   another queue the caller keeps its first arrival time, both for its place (it has
//!   waited longest) and for its service-level wait; `max_wait` and announcements restart
//!   in the new queue. A queue is never entered twice by one call: a loop in the dial plan
//!   ends with [`AcdConfig::overflow_loop_prompt`] and hang-up.
//! - **Dispositions**: a call leaves the ACD exactly once: answered (the conversation
//!   continues, the ACD keeps only the agent's wrap-up), abandoned, overflowed out of the
//!   queues, closed or failed.
//! - **Announcements**: every `announce_interval_s` after entering a queue, also while an
//!   agent rings (the engine may hold the prompt until the offer resolves).
//! - **Bound**: at [`AcdConfig::max_waiting_calls`] waiting callers new arrivals are refused
//!   with [`QueueRefusal::DeploymentFull`] before they enter any queue.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::core::ids::CallId;
use crate::core::rng::SeededRng;
use crate::core::time::Instant;
use crate::dialplan::{AgentId, Overflow, QueueId, Tenant, TenantId};

use super::action::{
    AcdAction, AcdError, Disposition, OfferFailure, Outcome, OverflowDestination, QueueRefusal,
};
use super::agent::{AfterCall, AgentRecord, AgentState, PauseReason};
use super::call::{CallEntry, ConnectedCall, WaitingCall};
use super::config::{AcdConfig, QueueSettings};
use super::service_level::{is_short_abandon, is_within_target, ServiceLevelCounts};
use super::stats::{AgentStateCounts, QueueStats};
use super::strategy::{choose, Candidate};
use super::wait_estimate::{HandleTimeAverage, WaitEstimate};
use super::waiting_calls::WaitingCalls;

type QueueKey = (TenantId, QueueId);
type AgentKey = (TenantId, AgentId);

/// One queue's settings, members and counters.
#[derive(Debug, Clone)]
struct QueueState {
    settings: QueueSettings,
    /// Agents serving the queue, in dial-plan order.
    members: Vec<AgentId>,
    counts: ServiceLevelCounts,
    offered: u64,
    overflowed: u64,
    closed: u64,
    handle_time: HandleTimeAverage,
    /// Member position offered last, for round-robin.
    last_offered_order: Option<usize>,
}

/// The ACD of one deployment. See the module documentation for its rules.
#[derive(Debug)]
pub struct Acd {
    config: AcdConfig,
    queues: BTreeMap<QueueKey, QueueState>,
    agents: BTreeMap<AgentKey, AgentRecord>,
    waiting: WaitingCalls,
    connected: BTreeMap<CallId, ConnectedCall>,
    next_seq: u64,
    actions: VecDeque<AcdAction>,
    rng: SeededRng,
    /// Every call disposed so far, to assert "exactly one disposition" in debug builds.
    #[cfg(debug_assertions)]
    disposed: std::collections::HashSet<CallId>,
}

impl Acd {
    /// An ACD for `tenants`, every agent logged out and unregistered.
    pub fn new(config: AcdConfig, tenants: &[Tenant]) -> Self {
        let default_handle_time = Duration::from_secs(u64::from(config.default_handle_time_s));
        let mut queues = BTreeMap::new();
        let mut agents = BTreeMap::new();
        for tenant in tenants {
            for queue in &tenant.queues {
                let members = tenant
                    .agents
                    .iter()
                    .filter(|a| a.queues.contains(&queue.id))
                    .map(|a| a.id.clone())
                    .collect();
                let state = QueueState {
                    settings: QueueSettings::from_dialplan(queue),
                    members,
                    counts: ServiceLevelCounts::default(),
                    offered: 0,
                    overflowed: 0,
                    closed: 0,
                    handle_time: HandleTimeAverage::seeded(default_handle_time),
                    last_offered_order: None,
                };
                queues.insert((tenant.id.clone(), queue.id.clone()), state);
            }
            for agent in &tenant.agents {
                let record = AgentRecord::new(agent.queues.clone(), agent.skills.clone());
                agents.insert((tenant.id.clone(), agent.id.clone()), record);
            }
        }
        let rng = SeededRng::fork(config.seed, "acd-tie-break");
        Acd {
            config,
            queues,
            agents,
            waiting: WaitingCalls::default(),
            connected: BTreeMap::new(),
            next_seq: 0,
            actions: VecDeque::new(),
            rng,
            #[cfg(debug_assertions)]
            disposed: std::collections::HashSet::new(),
        }
    }

    /// The next instruction for the engine.
    pub fn poll_action(&mut self) -> Option<AcdAction> {
        self.actions.pop_front()
    }

    /// When [`Acd::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let wrap_ups = self.agents.values().filter_map(|a| match a.state {
            AgentState::WrapUp { until } => Some(until),
            _ => None,
        });
        wrap_ups.chain(self.waiting.next_deadline()).min()
    }

    /// A caller enters `queue` with `priority` (higher is served first).
    ///
    /// A full queue overflows at once: into another queue the call is queued there (an
    /// [`AcdAction::Overflow`] reports the move) and this returns `Ok`; to a prompt the call
    /// is disposed as overflowed and this returns [`QueueRefusal::QueueFull`].
    pub fn call_arrived(
        &mut self,
        now: Instant,
        call: CallId,
        tenant: &TenantId,
        queue: &QueueId,
        priority: u8,
    ) -> Result<(), QueueRefusal> {
        self.enqueue(now, call, tenant, queue, priority, false)
    }

    /// A caller already counted by an earlier visit enters `queue` again: its transfer
    /// bounced (the engine gives it the highest priority, the head of the queue) or an
    /// agent transferred it to this queue. The visit is dispatched like any other but
    /// counts in no queue figure (offered, answered, abandoned, closed, overflowed, service
    /// level), and its [`Disposition`] says `requeued`: every citizen call counts once
    /// against the norm, at its first queue.
    pub fn call_requeued(
        &mut self,
        now: Instant,
        call: CallId,
        tenant: &TenantId,
        queue: &QueueId,
        priority: u8,
    ) -> Result<(), QueueRefusal> {
        self.enqueue(now, call, tenant, queue, priority, true)
    }

    fn enqueue(
        &mut self,
        now: Instant,
        call: CallId,
        tenant: &TenantId,
        queue: &QueueId,
        priority: u8,
        requeued: bool,
    ) -> Result<(), QueueRefusal> {
        if self.waiting.contains(&call) || self.connected.contains_key(&call) {
            return Err(QueueRefusal::DuplicateCall(call));
        }
        if !self.queues.contains_key(&(tenant.clone(), queue.clone())) {
            return Err(QueueRefusal::UnknownQueue {
                tenant: tenant.clone(),
                queue: queue.clone(),
            });
        }
        if self.waiting.len() >= self.config.max_waiting_calls {
            return Err(QueueRefusal::DeploymentFull);
        }
        self.next_seq += 1;
        let mut entry = CallEntry {
            tenant: tenant.clone(),
            priority,
            arrived: now,
            seq: self.next_seq,
            visited: Vec::new(),
            requeued,
        };
        let result = if self.try_place(now, call, &mut entry, queue) {
            Ok(())
        } else {
            match self.overflow_from(now, call, entry, queue.clone(), true) {
                None => Ok(()),
                Some(destination) => Err(QueueRefusal::QueueFull { destination }),
            }
        };
        self.dispatch(now);
        result
    }

    /// The caller hung up. While waiting this is an abandon; after an answer it ends the
    /// conversation like [`Acd::call_ended`].
    pub fn caller_abandoned(&mut self, now: Instant, call: CallId) -> Result<(), AcdError> {
        if self.connected.contains_key(&call) {
            return self.call_ended(now, call);
        }
        let waiting = self.take_waiting(call)?;
        let wait = now - waiting.entry.arrived;
        let short_threshold = Duration::from_secs(u64::from(self.config.short_abandon_s));
        if !waiting.entry.requeued {
            let queue = self.queue_mut(&waiting.entry.tenant, &waiting.queue);
            queue.counts.abandoned += 1;
            if is_short_abandon(wait, short_threshold) {
                queue.counts.abandoned_short += 1;
            }
        }
        self.dispose(call, &waiting, Outcome::Abandoned { wait });
        self.dispatch(now);
        Ok(())
    }

    /// The call ended. After an answer the agent goes to wrap-up for the queue's
    /// `wrap_up_s` (then becomes available) and the handle time feeds the wait estimate;
    /// for a waiting call this is an abandon.
    pub fn call_ended(&mut self, now: Instant, call: CallId) -> Result<(), AcdError> {
        let Some(connected) = self.connected.remove(&call) else {
            if self.waiting.contains(&call) {
                return self.caller_abandoned(now, call);
            }
            return Err(AcdError::UnknownCall(call));
        };
        let queue = self.queue_mut(&connected.tenant, &connected.queue);
        let wrap_up = queue.settings.wrap_up;
        queue
            .handle_time
            .record((now - connected.answered_at) + wrap_up);
        let key = (connected.tenant, connected.agent);
        if let Some(agent) = self.agents.get_mut(&key) {
            if agent.state == (AgentState::OnCall { call }) {
                if wrap_up.is_zero() {
                    finish_wrap_up(agent, now);
                } else {
                    agent.state = AgentState::WrapUp {
                        until: now + wrap_up,
                    };
                }
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// The engine lost a waiting call for a reason of its own (e.g. media failure).
    /// After an answer this ends the conversation like [`Acd::call_ended`].
    pub fn call_failed(
        &mut self,
        now: Instant,
        call: CallId,
        reason: &str,
    ) -> Result<(), AcdError> {
        if self.connected.contains_key(&call) {
            return self.call_ended(now, call);
        }
        let waiting = self.take_waiting(call)?;
        self.dispose(
            call,
            &waiting,
            Outcome::Failed {
                reason: reason.to_owned(),
            },
        );
        self.dispatch(now);
        Ok(())
    }

    /// The queue closed (end of opening hours): every caller waiting in it is disposed as
    /// closed; the engine plays the closed prompt.
    pub fn queue_closed(&mut self, now: Instant, tenant: &TenantId, queue: &QueueId) {
        let calls: Vec<CallId> = self
            .waiting
            .iter()
            .filter(|(_, w)| &w.entry.tenant == tenant && &w.queue == queue)
            .map(|(call, _)| *call)
            .collect();
        for call in calls {
            if let Ok(waiting) = self.take_waiting(call) {
                if !waiting.entry.requeued {
                    self.queue_mut(tenant, queue).closed += 1;
                }
                self.dispose(call, &waiting, Outcome::Closed);
            }
        }
        self.dispatch(now);
    }

    /// The agent logs in and becomes available.
    pub fn agent_login(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let record = self.agent_mut(tenant, agent)?;
        if record.state == AgentState::LoggedOut {
            record.missed_in_row = 0;
            make_available(record, now);
        } else if record.after_call == Some(AfterCall::LogOut) {
            record.after_call = None;
        }
        self.dispatch(now);
        Ok(())
    }

    /// The agent logs out: at once, or after the current call and wrap-up. A ringing offer
    /// is withdrawn and the caller keeps its place.
    pub fn agent_logout(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        self.leave(now, tenant, agent, AfterCall::LogOut)
    }

    /// The agent pauses: at once, or after the current call and wrap-up.
    pub fn agent_pause(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
        reason: PauseReason,
    ) -> Result<(), AcdError> {
        if self.agent_mut(tenant, agent)?.state == AgentState::LoggedOut {
            return Err(AcdError::NotLoggedIn(agent.clone()));
        }
        self.leave(now, tenant, agent, AfterCall::Pause(reason))
    }

    /// The agent is ready again: a pause (including an auto-pause) ends, or a pause or
    /// logout requested during a call is cancelled.
    pub fn agent_ready(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let record = self.agent_mut(tenant, agent)?;
        match record.state {
            AgentState::LoggedOut => return Err(AcdError::NotLoggedIn(agent.clone())),
            AgentState::Paused { .. } => {
                record.missed_in_row = 0;
                make_available(record, now);
            }
            AgentState::OnCall { .. } | AgentState::WrapUp { .. } => record.after_call = None,
            AgentState::Available { .. } | AgentState::Offered { .. } => {}
        }
        self.dispatch(now);
        Ok(())
    }

    /// The agent's phone registered (`reachable`) or its registration ended. An agent
    /// without a registration is never offered; a ringing offer is withdrawn.
    pub fn agent_registered(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
        reachable: bool,
    ) -> Result<(), AcdError> {
        let record = self.agent_mut(tenant, agent)?;
        record.registered = reachable;
        if let AgentState::Offered { call } = record.state {
            if !reachable {
                make_available(record, record.idle_since);
                self.withdraw_offer(call, agent);
            }
        }
        self.dispatch(now);
        Ok(())
    }

    /// `agent` answered `call`: the other ringing agents are cancelled and the call is
    /// disposed as answered. [`AcdError::NoSuchOffer`] means the answer came too late (the
    /// caller left or the offer was withdrawn); the engine hangs up the agent's leg.
    pub fn offer_answered(
        &mut self,
        now: Instant,
        call: CallId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let ringing = self.waiting.get(&call).is_some_and(|w| w.is_ringing(agent));
        if !ringing {
            return Err(AcdError::NoSuchOffer {
                call,
                agent: agent.clone(),
            });
        }
        let mut waiting = self.take_waiting_keeping(call, agent)?;
        waiting.ringing.clear();
        let tenant = waiting.entry.tenant.clone();
        if let Some(record) = self.agents.get_mut(&(tenant.clone(), agent.clone())) {
            record.state = AgentState::OnCall { call };
            record.missed_in_row = 0;
            record.calls_answered += 1;
        }
        let wait = now - waiting.entry.arrived;
        if !waiting.entry.requeued {
            let queue = self.queue_mut(&tenant, &waiting.queue);
            queue.counts.answered += 1;
            if is_within_target(wait, queue.settings.service_level_target) {
                queue.counts.answered_within_target += 1;
            }
        }
        self.connected.insert(
            call,
            ConnectedCall {
                tenant,
                queue: waiting.queue.clone(),
                agent: agent.clone(),
                answered_at: now,
            },
        );
        self.dispose(
            call,
            &waiting,
            Outcome::Answered {
                agent: agent.clone(),
                wait,
            },
        );
        self.dispatch(now);
        Ok(())
    }

    /// Ringing `agent` for `call` failed; the caller keeps its place and the next agent is
    /// tried (see the module doc for misses and the retry cooldown).
    pub fn offer_failed(
        &mut self,
        now: Instant,
        call: CallId,
        agent: &AgentId,
        failure: OfferFailure,
    ) -> Result<(), AcdError> {
        let ringing = self.waiting.get(&call).is_some_and(|w| w.is_ringing(agent));
        if !ringing {
            return Err(AcdError::NoSuchOffer {
                call,
                agent: agent.clone(),
            });
        }
        self.offer_not_connected(now, call, agent, failure);
        self.dispatch(now);
        Ok(())
    }

    /// Runs every timer due at `now`: wrap-up ends, overflow, ring timeouts (as no answer,
    /// with a [`AcdAction::CancelOffer`]) and announcements.
    pub fn handle_timeout(&mut self, now: Instant) {
        for agent in self.agents.values_mut() {
            if let AgentState::WrapUp { until } = agent.state {
                if until <= now {
                    finish_wrap_up(agent, until);
                }
            }
        }
        // Only calls with something due can change; the rest would be visited for nothing.
        for call in self.waiting.due(now) {
            let Some(waiting) = self.waiting.get(&call) else {
                continue;
            };
            if waiting.overflow_at <= now {
                if let Ok(waiting) = self.take_waiting(call) {
                    self.overflow_from(now, call, waiting.entry, waiting.queue, false);
                }
                continue;
            }
            let expired: Vec<AgentId> = waiting
                .ringing
                .iter()
                .filter(|(_, deadline)| *deadline <= now)
                .map(|(agent, _)| agent.clone())
                .collect();
            for agent in expired {
                self.actions.push_back(AcdAction::CancelOffer {
                    call,
                    agent: agent.clone(),
                });
                self.offer_not_connected(now, call, &agent, OfferFailure::NoAnswer);
            }
            self.announce_if_due(now, call);
            self.waiting.update(&call, |waiting| waiting.cooldown.retain(|(_, until)| *until > now));
        }
        self.dispatch(now);
    }

    /// Whether a transfer may ring `agent` as a member of a group or by name: its phone is
    /// registered and it is neither ringing nor talking for a queue nor on another
    /// transfer's leg. Paused, wrapping up or logged out of the queues do not matter: a
    /// backoffice employee takes transfers without serving a queue.
    pub fn can_take_transfer(&self, tenant: &TenantId, agent: &AgentId) -> bool {
        self.agents.get(&(tenant.clone(), agent.clone())).is_some_and(|record| {
            record.registered
                && record.legs_outside_queues == 0
                && !matches!(record.state, AgentState::Offered { .. } | AgentState::OnCall { .. })
        })
    }

    /// The engine rings `agent`'s phone for a transfer: no queue offers it a call until
    /// [`Acd::agent_released`] (the ACD would otherwise ring a phone that is busy).
    pub fn agent_engaged(&mut self, tenant: &TenantId, agent: &AgentId) -> Result<(), AcdError> {
        self.agent_mut(tenant, agent)?.legs_outside_queues += 1;
        Ok(())
    }

    /// A transfer's leg to `agent`'s phone is gone (not answered, or the conversation
    /// ended): the agent may take queue calls again.
    pub fn agent_released(&mut self, now: Instant, tenant: &TenantId, agent: &AgentId) -> Result<(), AcdError> {
        let record = self.agent_mut(tenant, agent)?;
        record.legs_outside_queues = record.legs_outside_queues.saturating_sub(1);
        self.dispatch(now);
        Ok(())
    }

    /// The agent's current state.
    pub fn agent_state(&self, tenant: &TenantId, agent: &AgentId) -> Option<&AgentState> {
        self.agents
            .get(&(tenant.clone(), agent.clone()))
            .map(|a| &a.state)
    }

    /// The caller's 1-based position in its queue, while it waits.
    pub fn position(&self, call: CallId) -> Option<usize> {
        let waiting = self.waiting.get(&call)?;
        let order = waiting.service_order();
        let ahead = self
            .waiting
            .values()
            .filter(|w| w.entry.tenant == waiting.entry.tenant && w.queue == waiting.queue)
            .filter(|w| w.service_order() < order)
            .count();
        Some(ahead + 1)
    }

    /// Callers waiting in all queues.
    pub fn waiting_calls(&self) -> usize {
        self.waiting.len()
    }

    /// A snapshot of one queue at `now`.
    pub fn queue_stats(
        &self,
        now: Instant,
        tenant: &TenantId,
        queue: &QueueId,
    ) -> Option<QueueStats> {
        let state = self.queues.get(&(tenant.clone(), queue.clone()))?;
        let in_queue = || {
            self.waiting
                .values()
                .filter(|w| &w.entry.tenant == tenant && &w.queue == queue)
        };
        let mut agents = AgentStateCounts::default();
        for member in &state.members {
            if let Some(record) = self.agents.get(&(tenant.clone(), member.clone())) {
                agents.add(&record.state, record.registered);
            }
        }
        Some(QueueStats {
            waiting: in_queue().count(),
            longest_wait: in_queue()
                .map(|w| now - w.entry.arrived)
                .max()
                .unwrap_or_default(),
            offered: state.offered,
            service_level: state.counts,
            overflowed: state.overflowed,
            closed: state.closed,
            average_handle_time: state.handle_time.average(),
            agents,
        })
    }

    /// Offers every waiting, non-ringing caller (in service order) to free agents.
    fn dispatch(&mut self, now: Instant) {
        // Agents that could take a call now. When there are none (the usual state of a
        // busy contact centre) an arrival costs nothing; otherwise every offer uses some
        // up and the scan stops when they are gone, so dispatch never walks all waiting
        // callers times all members for nothing.
        let free: Vec<(&TenantId, &AgentRecord)> = self
            .agents
            .iter()
            .filter(|(_, record)| {
                record.registered && record.legs_outside_queues == 0 && matches!(record.state, AgentState::Available { .. })
            })
            .map(|((tenant, _), record)| (tenant, record))
            .collect();
        let mut free_agents = free.len();
        if free_agents == 0 {
            return;
        }
        // Queues with a free member and someone waiting. Offers only take agents, so a
        // caller in any other queue cannot be served in this dispatch: it is passed over
        // without the candidate search, and with no such queue there is nothing to walk.
        let mut servable: Vec<(&TenantId, &QueueId)> = Vec::new();
        for (tenant, record) in free {
            for queue in &record.queues {
                if !servable.contains(&(tenant, queue)) && self.waiting.count_in(tenant, queue) > 0 {
                    servable.push((tenant, queue));
                }
            }
        }
        if servable.is_empty() {
            return;
        }
        // Owned, as offering changes the agents the references point into.
        let servable: Vec<QueueKey> = servable.into_iter().map(|(t, q)| (t.clone(), q.clone())).collect();
        // Callers in service order; only the caller being offered changes in the walk, so
        // walking the index is the same as walking a sorted snapshot.
        let mut place = None;
        while let Some(next) = self.waiting.next_in_service_order(place) {
            place = Some(next);
            let call = next.1;
            let Some(waiting) = self.waiting.get(&call) else {
                continue;
            };
            if !waiting.ringing.is_empty()
                || !servable.iter().any(|(t, q)| *t == waiting.entry.tenant && *q == waiting.queue)
            {
                continue;
            }
            let tenant = waiting.entry.tenant.clone();
            let queue_id = waiting.queue.clone();
            let Some(queue) = self.queues.get(&(tenant.clone(), queue_id.clone())) else {
                continue;
            };
            let candidates: Vec<Candidate> = queue
                .members
                .iter()
                .enumerate()
                .filter_map(|(order, agent)| {
                    let record = self.agents.get(&(tenant.clone(), agent.clone()))?;
                    let AgentState::Available { since } = record.state else {
                        return None;
                    };
                    (record.registered && !waiting.in_cooldown(agent, now)).then(|| Candidate {
                        agent: agent.clone(),
                        idle_since: since,
                        calls_answered: record.calls_answered,
                        skill: record.skills.get(&queue_id).copied().unwrap_or(0),
                        order,
                    })
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let chosen = choose(
                queue.settings.strategy,
                &candidates,
                queue.last_offered_order,
                &mut self.rng,
            );
            let ring_timeout = queue.settings.ring_timeout;
            let last_order = candidates
                .iter()
                .filter(|c| chosen.contains(&c.agent))
                .map(|c| c.order)
                .max();
            self.queue_mut(&tenant, &queue_id).last_offered_order = last_order;
            for agent in &chosen {
                if let Some(record) = self.agents.get_mut(&(tenant.clone(), agent.clone())) {
                    record.state = AgentState::Offered { call };
                }
            }
            free_agents = free_agents.saturating_sub(chosen.len());
            self.waiting.update(&call, |waiting| {
                waiting.ringing = chosen
                    .iter()
                    .map(|a| (a.clone(), now + ring_timeout))
                    .collect();
            });
            self.actions.push_back(AcdAction::OfferToAgents {
                call,
                agents: chosen,
                ring_timeout,
            });
            if free_agents == 0 {
                break;
            }
        }
    }

    /// Emits the announcement of `call` if due and schedules the next one.
    fn announce_if_due(&mut self, now: Instant, call: CallId) {
        let Some(waiting) = self.waiting.get(&call) else {
            return;
        };
        // Not due yet, the usual case on every timeout: decide that before the queue
        // lookup, which clones the key.
        if waiting.next_announce.is_none_or(|due| due > now) {
            return;
        }
        let (Some(due), Some(queue)) = (
            waiting.next_announce,
            self.queues
                .get(&(waiting.entry.tenant.clone(), waiting.queue.clone())),
        ) else {
            return;
        };
        let Some(interval) = queue.settings.announce_interval else {
            return;
        };
        if due > now {
            return;
        }
        let position = self.position(call).unwrap_or(1);
        let staffed = queue
            .members
            .iter()
            .filter_map(|m| self.agents.get(&(waiting.entry.tenant.clone(), m.clone())))
            .filter(|a| a.staffs(&waiting.queue))
            .count();
        let expected_wait = WaitEstimate::compute(
            position,
            staffed,
            queue.handle_time.average(),
            queue.settings.max_wait,
        );
        let mut next = due;
        while next <= now {
            next += interval;
        }
        self.waiting.update(&call, |waiting| waiting.next_announce = Some(next));
        self.actions.push_back(AcdAction::Announce {
            call,
            position,
            expected_wait,
        });
    }

    /// Enters `queue` if it has room; records the call as offered to the queue either way.
    fn try_place(
        &mut self,
        now: Instant,
        call: CallId,
        entry: &mut CallEntry,
        queue: &QueueId,
    ) -> bool {
        entry.visited.push(queue.clone());
        let in_queue = self.waiting.count_in(&entry.tenant, queue);
        let state = self.queue_mut(&entry.tenant, queue);
        if !entry.requeued {
            state.offered += 1;
        }
        if in_queue >= state.settings.max_length {
            return false;
        }
        let waiting = WaitingCall {
            entry: entry.clone(),
            queue: queue.clone(),
            overflow_at: now + state.settings.max_wait,
            next_announce: state
                .settings
                .announce_interval
                .map(|interval| now + interval),
            ringing: Vec::new(),
            cooldown: Vec::new(),
        };
        self.waiting.insert(call, waiting);
        true
    }

    /// Moves a call out of `from` along the overflow chain. Returns `None` when it was
    /// queued somewhere, or the final destination (the call is then disposed). At arrival
    /// the final destination is reported by the caller's `Err`, not by an action.
    fn overflow_from(
        &mut self,
        now: Instant,
        call: CallId,
        mut entry: CallEntry,
        mut from: QueueId,
        at_arrival: bool,
    ) -> Option<OverflowDestination> {
        loop {
            if !entry.requeued {
                self.queue_mut(&entry.tenant, &from).overflowed += 1;
            }
            let destination = self.resolve_overflow(&entry, &from);
            if let OverflowDestination::Queue(next) = &destination {
                self.actions.push_back(AcdAction::Overflow {
                    call,
                    destination: destination.clone(),
                });
                if self.try_place(now, call, &mut entry, next) {
                    return None;
                }
                from = next.clone();
                continue;
            }
            if !at_arrival {
                self.actions.push_back(AcdAction::Overflow {
                    call,
                    destination: destination.clone(),
                });
            }
            let wait = now - entry.arrived;
            let outcome = Outcome::Overflowed {
                destination: destination.clone(),
                wait,
            };
            self.emit_disposition(call, &entry, &from, outcome);
            return Some(destination);
        }
    }

    /// Where a call overflowing out of `from` goes, never back into a visited queue.
    fn resolve_overflow(&self, entry: &CallEntry, from: &QueueId) -> OverflowDestination {
        let overflow = self
            .queues
            .get(&(entry.tenant.clone(), from.clone()))
            .map(|q| &q.settings.overflow);
        match overflow {
            Some(Overflow::Queue(next))
                if !entry.visited.contains(next)
                    && self
                        .queues
                        .contains_key(&(entry.tenant.clone(), next.clone())) =>
            {
                OverflowDestination::Queue(next.clone())
            }
            Some(Overflow::PromptThenHangup(prompt)) => {
                OverflowDestination::PromptThenHangup(prompt.clone())
            }
            _ => OverflowDestination::PromptThenHangup(self.config.overflow_loop_prompt.clone()),
        }
    }

    /// A ringing offer ended without an answer: count the miss, free or pause the agent,
    /// and keep the agent off this call for one ring timeout.
    fn offer_not_connected(
        &mut self,
        now: Instant,
        call: CallId,
        agent: &AgentId,
        failure: OfferFailure,
    ) {
        let Some(waiting) = self.waiting.get(&call) else {
            return;
        };
        let key = (waiting.entry.tenant.clone(), waiting.queue.clone());
        let Some(queue) = self.queues.get(&key) else {
            self.waiting.update(&call, |waiting| waiting.ringing.retain(|(a, _)| a != agent));
            return;
        };
        let settings = &queue.settings;
        let cooldown_until = now + settings.ring_timeout;
        self.waiting.update(&call, |waiting| {
            waiting.ringing.retain(|(a, _)| a != agent);
            waiting.cooldown.retain(|(a, _)| a != agent);
            waiting.cooldown.push((agent.clone(), cooldown_until));
        });
        let Some(record) = self.agents.get_mut(&(key.0, agent.clone())) else {
            return;
        };
        if record.state != (AgentState::Offered { call }) {
            return;
        }
        match failure {
            OfferFailure::NoAnswer | OfferFailure::Unreachable => record.missed_in_row += 1,
            OfferFailure::Rejected => record.missed_in_row = 0,
            OfferFailure::Busy => {}
        }
        if record.missed_in_row >= settings.max_missed_offers {
            record.state = AgentState::Paused {
                reason: PauseReason::NoAnswer,
            };
        } else {
            make_available(record, record.idle_since);
        }
    }

    /// Logout or pause: now, or after the call.
    fn leave(
        &mut self,
        now: Instant,
        tenant: &TenantId,
        agent: &AgentId,
        after: AfterCall,
    ) -> Result<(), AcdError> {
        let record = self.agent_mut(tenant, agent)?;
        let offered = match record.state {
            AgentState::OnCall { .. } | AgentState::WrapUp { .. } => {
                record.after_call = Some(after);
                None
            }
            AgentState::Offered { call } => {
                apply_after_call(record, after);
                Some(call)
            }
            _ => {
                apply_after_call(record, after);
                None
            }
        };
        if let Some(call) = offered {
            self.withdraw_offer(call, agent);
        }
        self.dispatch(now);
        Ok(())
    }

    /// Stops `agent` ringing for `call` without counting a miss.
    fn withdraw_offer(&mut self, call: CallId, agent: &AgentId) {
        self.waiting.update(&call, |waiting| waiting.ringing.retain(|(a, _)| a != agent));
        self.actions.push_back(AcdAction::CancelOffer {
            call,
            agent: agent.clone(),
        });
    }

    /// Removes a waiting call, cancelling every agent still ringing for it.
    fn take_waiting(&mut self, call: CallId) -> Result<WaitingCall, AcdError> {
        let waiting = self
            .waiting
            .remove(&call)
            .ok_or(AcdError::UnknownCall(call))?;
        for (agent, _) in &waiting.ringing {
            self.release_ringing_agent(&waiting.entry.tenant, call, agent);
        }
        Ok(waiting)
    }

    /// Removes a waiting call, cancelling every ringing agent except `keep`.
    fn take_waiting_keeping(
        &mut self,
        call: CallId,
        keep: &AgentId,
    ) -> Result<WaitingCall, AcdError> {
        let waiting = self
            .waiting
            .remove(&call)
            .ok_or(AcdError::UnknownCall(call))?;
        for (agent, _) in waiting.ringing.iter().filter(|(a, _)| a != keep) {
            self.release_ringing_agent(&waiting.entry.tenant, call, agent);
        }
        Ok(waiting)
    }

    fn release_ringing_agent(&mut self, tenant: &TenantId, call: CallId, agent: &AgentId) {
        self.actions.push_back(AcdAction::CancelOffer {
            call,
            agent: agent.clone(),
        });
        if let Some(record) = self.agents.get_mut(&(tenant.clone(), agent.clone())) {
            if record.state == (AgentState::Offered { call }) {
                make_available(record, record.idle_since);
            }
        }
    }

    fn dispose(&mut self, call: CallId, waiting: &WaitingCall, outcome: Outcome) {
        self.emit_disposition(call, &waiting.entry, &waiting.queue, outcome);
    }

    fn emit_disposition(&mut self, call: CallId, entry: &CallEntry, queue: &QueueId, outcome: Outcome) {
        #[cfg(debug_assertions)]
        if !entry.requeued {
            let first = self.disposed.insert(call);
            debug_assert!(first, "{call} disposed twice");
        }
        self.actions.push_back(AcdAction::Disposition(Disposition {
            call,
            tenant: entry.tenant.clone(),
            queue: queue.clone(),
            outcome,
            requeued: entry.requeued,
        }));
    }

    fn agent_mut(
        &mut self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<&mut AgentRecord, AcdError> {
        self.agents
            .get_mut(&(tenant.clone(), agent.clone()))
            .ok_or_else(|| AcdError::UnknownAgent {
                tenant: tenant.clone(),
                agent: agent.clone(),
            })
    }

    fn queue_mut(&mut self, tenant: &TenantId, queue: &QueueId) -> &mut QueueState {
        self.queues
            .get_mut(&(tenant.clone(), queue.clone()))
            .expect("calls only ever reference queues that exist")
    }
}

fn make_available(record: &mut AgentRecord, since: Instant) {
    record.idle_since = since;
    record.state = AgentState::Available { since };
}

fn apply_after_call(record: &mut AgentRecord, after: AfterCall) {
    record.after_call = None;
    record.state = match after {
        AfterCall::Pause(reason) => AgentState::Paused { reason },
        AfterCall::LogOut => AgentState::LoggedOut,
    };
}

/// Wrap-up ended at `at`: the agent becomes available, or takes the state it asked for.
fn finish_wrap_up(record: &mut AgentRecord, at: Instant) {
    match record.after_call.take() {
        Some(after) => apply_after_call(record, after),
        None => make_available(record, at),
    }
}
