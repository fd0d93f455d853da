//! The engine's command API: what supervisors and agents ask through the HTTP API (log in,
//! pause, list queues, look up a call by its reference number). The live driver owns the
//! engine and applies commands between inputs; after one, it drains outputs as after any
//! input, because an agent becoming ready may let the ACD offer a waiting call.
//!
//! Replies carry no phone number: calls are named by their reference number only.

use std::time::Duration;

use serde::Serialize;

use crate::acd::reference::ReferenceNumber;
use crate::acd::{AcdError, AgentState, PauseReason};
use crate::core::time::Now;
use crate::dialplan::{AgentId, TenantId};

use super::call::{Call, Phase, TransferMode};
use super::leg::{LegState, Party};
use super::transfer::TransferError;
use crate::core::ids::CallId;
use super::Engine;

/// A request to the engine from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The agent logs in and becomes available.
    AgentLogin { tenant: TenantId, agent: AgentId },
    /// The agent logs out (after its current call).
    AgentLogout { tenant: TenantId, agent: AgentId },
    /// The agent pauses (after its current call).
    AgentPause { tenant: TenantId, agent: AgentId, reason: PauseReason },
    /// The agent is ready again.
    AgentReady { tenant: TenantId, agent: AgentId },
    /// Every agent of every tenant with its state.
    ListAgents,
    /// Every queue with its live numbers.
    ListQueues,
    /// Calls in progress.
    ActiveCalls,
    /// One call by its 8-digit reference number (spaces and dashes allowed).
    CallByReference(String),
    /// Sets what the call is about; what is `None` stays as it was.
    SetContext { reference: String, context: ContextUpdate },
    /// Transfers the caller, talking to an agent, to a group, agent or queue of its
    /// tenant (`warm`: the agent talks to the target first), with context.
    Transfer { reference: String, target: String, mode: TransferMode, context: ContextUpdate },
    /// Completes a warm transfer whose target is consulting.
    CompleteTransfer(String),
    /// Withdraws a transfer under way: caller and agent talk again.
    CancelTransfer(String),
}

/// Context set over the API; bounded ([`MAX_SUBJECT_CHARS`], [`MAX_NOTES_CHARS`],
/// [`MAX_PREVIOUS_REFERENCES`]) because it travels with the call and into its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextUpdate {
    pub subject: Option<String>,
    pub notes: Option<String>,
    pub previous_references: Option<Vec<String>>,
}

/// Longest subject (characters).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest notes (characters).
pub const MAX_NOTES_CHARS: usize = 2000;
/// Most previous reference numbers on one call.
pub const MAX_PREVIOUS_REFERENCES: usize = 10;

/// The engine's answer to a [`Command`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The agent after an agent command.
    Agent(AgentView),
    /// All agents.
    Agents(Vec<AgentView>),
    /// All queues.
    Queues(Vec<QueueView>),
    /// Calls in progress.
    Calls(Vec<CallView>),
    /// One call.
    Call(CallView),
}

/// Why a command could not be applied; the engine is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such agent in that tenant.
    #[error("unknown agent {agent} of tenant {tenant}")]
    UnknownAgent { tenant: TenantId, agent: AgentId },
    /// The agent must log in first.
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    /// The text is not a reference number.
    #[error("bad reference number: {0}")]
    BadReference(String),
    /// No call in progress has that reference.
    #[error("no call in progress with that reference")]
    UnknownCall,
    /// Context beyond its bounds, or a previous reference that is not one.
    #[error("bad context: {0}")]
    BadContext(String),
    /// The transfer could not be started, completed or cancelled.
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

/// One agent as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub tenant: String,
    pub agent: String,
    pub name: String,
    /// `logged_out`, `available`, `offered`, `on_call`, `wrap_up` or `paused`.
    pub state: &'static str,
    /// The pause reason while paused.
    pub pause_reason: Option<&'static str>,
}

/// One queue as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    pub tenant: String,
    pub queue: String,
    pub name: String,
    pub waiting: usize,
    pub longest_wait_s: f64,
    pub service_level_target_s: u32,
    /// Service level since start-up; `None` before any counted call.
    pub service_level: Option<f64>,
    pub agents_available: usize,
    pub agents_offered: usize,
    pub agents_on_call: usize,
    pub agents_wrap_up: usize,
    pub agents_paused: usize,
    pub agents_logged_out: usize,
}

/// One call as the API shows it: never the caller's number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallView {
    /// 8 digits, as in the `Call-Info` URL.
    pub reference: String,
    pub tenant: String,
    /// The queue the call is (or was last) in.
    pub queue: Option<String>,
    /// `answering`, `menu`, `queued`, `connected` or `leaving`.
    pub phase: &'static str,
    /// Seconds since the call arrived.
    pub age_s: f64,
    /// The agent talking to the caller, when connected.
    pub agent: Option<String>,
    /// What the call is about (set over the API); notes are personal data, shown only to
    /// API tokens, never logged.
    pub subject: Option<String>,
    pub notes: Option<String>,
    pub previous_references: Vec<String>,
    /// Every leg of the call, the caller's first: who, and where the leg is.
    pub legs: Vec<LegView>,
    /// A transfer under way: its target and mode.
    pub transfer: Option<TransferView>,
    /// Transfers completed so far.
    pub transfers_made: u32,
}

/// One leg of a call as the API shows it (never the caller's number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegView {
    /// `caller`, `agent` or `backoffice`.
    pub party: &'static str,
    /// The agent id or the member's id or desk phone URI; none for the caller.
    pub target: Option<String>,
    /// `ringing`, `awaiting_ack`, `cancelling`, `connected` or `ending`.
    pub state: &'static str,
}

/// A transfer under way as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferView {
    pub target: String,
    /// `cold` or `warm`.
    pub mode: &'static str,
    /// `ringing` or `consulting`.
    pub state: &'static str,
}

/// Stable name of an agent state.
pub fn agent_state_name(state: &AgentState) -> &'static str {
    match state {
        AgentState::LoggedOut => "logged_out",
        AgentState::Available { .. } => "available",
        AgentState::Offered { .. } => "offered",
        AgentState::OnCall { .. } => "on_call",
        AgentState::WrapUp { .. } => "wrap_up",
        AgentState::Paused { .. } => "paused",
    }
}

/// Stable name of a pause reason (also what the API accepts).
pub fn pause_reason_name(reason: PauseReason) -> &'static str {
    match reason {
        PauseReason::Break => "break",
        PauseReason::Training => "training",
        PauseReason::Backoffice => "backoffice",
        PauseReason::NoAnswer => "no_answer",
    }
}

/// The pause reason an API caller may set by name (`no_answer` is the ACD's own).
pub fn parse_pause_reason(name: &str) -> Option<PauseReason> {
    match name {
        "break" => Some(PauseReason::Break),
        "training" => Some(PauseReason::Training),
        "backoffice" => Some(PauseReason::Backoffice),
        _ => None,
    }
}

fn leg_state_name(state: LegState) -> &'static str {
    match state {
        LegState::Ringing => "ringing",
        LegState::AwaitingAck => "awaiting_ack",
        LegState::Cancelling => "cancelling",
        LegState::Connected => "connected",
        LegState::Ending => "ending",
    }
}

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Answering => "answering",
        Phase::Menu => "menu",
        Phase::Queued => "queued",
        Phase::Connected => "connected",
        Phase::Transferring => "transferring",
        Phase::Leaving(_) => "leaving",
    }
}

impl Engine {
    /// Applies one command at `now`. Drain [`Engine::poll_output`] afterwards.
    pub fn handle_command(&mut self, now: Now, command: Command) -> Result<Reply, CommandError> {
        self.now = now;
        let reply = self.apply_command(command);
        self.settle();
        reply
    }

    fn apply_command(&mut self, command: Command) -> Result<Reply, CommandError> {
        let now = self.now.mono;
        match command {
            Command::AgentLogin { tenant, agent } => {
                let result = self.acd.agent_login(now, &tenant, &agent);
                self.agent_reply(result, tenant, agent)
            }
            Command::AgentLogout { tenant, agent } => {
                let result = self.acd.agent_logout(now, &tenant, &agent);
                self.agent_reply(result, tenant, agent)
            }
            Command::AgentPause { tenant, agent, reason } => {
                let result = self.acd.agent_pause(now, &tenant, &agent, reason);
                self.agent_reply(result, tenant, agent)
            }
            Command::AgentReady { tenant, agent } => {
                let result = self.acd.agent_ready(now, &tenant, &agent);
                self.agent_reply(result, tenant, agent)
            }
            Command::ListAgents => Ok(Reply::Agents(self.agent_views())),
            Command::ListQueues => Ok(Reply::Queues(self.queue_views())),
            Command::ActiveCalls => {
                let mut calls: Vec<CallView> = self.calls.values().map(|call| self.call_view(call)).collect();
                calls.sort_by(|a, b| a.reference.cmp(&b.reference));
                Ok(Reply::Calls(calls))
            }
            Command::CallByReference(text) => {
                let reference =
                    ReferenceNumber::parse(&text).map_err(|error| CommandError::BadReference(error.to_string()))?;
                let call = self.calls_by_reference.get(&reference).and_then(|id| self.calls.get(id)).ok_or(CommandError::UnknownCall)?;
                Ok(Reply::Call(self.call_view(call)))
            }
            Command::SetContext { reference, context } => {
                let id = self.call_by_reference_text(&reference)?;
                self.update_context(id, context)?;
                self.call_reply(id)
            }
            Command::Transfer { reference, target, mode, context } => {
                let id = self.call_by_reference_text(&reference)?;
                self.update_context(id, context)?;
                let target = self.resolve_target(id, &target)?;
                self.start_transfer(id, target, mode, false)?;
                self.call_reply(id)
            }
            Command::CompleteTransfer(reference) => {
                let id = self.call_by_reference_text(&reference)?;
                self.complete_warm_transfer(id)?;
                self.call_reply(id)
            }
            Command::CancelTransfer(reference) => {
                let id = self.call_by_reference_text(&reference)?;
                self.cancel_transfer(id)?;
                self.call_reply(id)
            }
        }
    }

    fn call_by_reference_text(&self, text: &str) -> Result<CallId, CommandError> {
        let reference = ReferenceNumber::parse(text).map_err(|error| CommandError::BadReference(error.to_string()))?;
        self.calls_by_reference.get(&reference).copied().ok_or(CommandError::UnknownCall)
    }

    fn call_reply(&self, id: CallId) -> Result<Reply, CommandError> {
        self.calls.get(&id).map(|call| Reply::Call(self.call_view(call))).ok_or(CommandError::UnknownCall)
    }

    /// Applies a context update after checking all of it (nothing changes on an error).
    fn update_context(&mut self, id: CallId, update: ContextUpdate) -> Result<(), CommandError> {
        let too_long = |text: &Option<String>, max: usize| text.as_ref().is_some_and(|t| t.chars().count() > max);
        if too_long(&update.subject, MAX_SUBJECT_CHARS) {
            return Err(CommandError::BadContext(format!("subject longer than {MAX_SUBJECT_CHARS} characters")));
        }
        if too_long(&update.notes, MAX_NOTES_CHARS) {
            return Err(CommandError::BadContext(format!("notes longer than {MAX_NOTES_CHARS} characters")));
        }
        let previous = match update.previous_references {
            Some(list) if list.len() > MAX_PREVIOUS_REFERENCES => {
                return Err(CommandError::BadContext(format!("more than {MAX_PREVIOUS_REFERENCES} previous references")))
            }
            Some(list) => Some(
                list.iter()
                    .map(|text| ReferenceNumber::parse(text).map(|r| format!("{:08}", r.value())))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| CommandError::BadContext(format!("previous reference: {error}")))?,
            ),
            None => None,
        };
        let Some(call) = self.calls.get_mut(&id) else { return Err(CommandError::UnknownCall) };
        if let Some(subject) = update.subject {
            call.context.subject = Some(subject);
        }
        if let Some(notes) = update.notes {
            call.context.notes = Some(notes);
        }
        if let Some(previous) = previous {
            call.context.previous_references = previous;
        }
        Ok(())
    }

    fn agent_reply(&self, result: Result<(), AcdError>, tenant: TenantId, agent: AgentId) -> Result<Reply, CommandError> {
        match result {
            Ok(()) => self.agent_view(&tenant, &agent).map(Reply::Agent).ok_or(CommandError::UnknownAgent { tenant, agent }),
            Err(AcdError::NotLoggedIn(agent)) => Err(CommandError::NotLoggedIn(agent)),
            Err(_) => Err(CommandError::UnknownAgent { tenant, agent }),
        }
    }

    fn agent_view(&self, tenant: &TenantId, agent: &AgentId) -> Option<AgentView> {
        let name = self.plan.tenant(tenant)?.agent(agent)?.name.clone();
        let state = self.acd.agent_state(tenant, agent)?;
        let pause_reason = match state {
            AgentState::Paused { reason } => Some(pause_reason_name(*reason)),
            _ => None,
        };
        Some(AgentView {
            tenant: tenant.to_string(),
            agent: agent.to_string(),
            name,
            state: agent_state_name(state),
            pause_reason,
        })
    }

    fn agent_views(&self) -> Vec<AgentView> {
        self.plan
            .tenants()
            .iter()
            .flat_map(|tenant| tenant.agents.iter().filter_map(|agent| self.agent_view(&tenant.id, &agent.id)))
            .collect()
    }

    fn queue_views(&self) -> Vec<QueueView> {
        let now = self.now.mono;
        let mut views = Vec::new();
        for tenant in self.plan.tenants() {
            for queue in &tenant.queues {
                let Some(stats) = self.acd.queue_stats(now, &tenant.id, &queue.id) else { continue };
                views.push(QueueView {
                    tenant: tenant.id.to_string(),
                    queue: queue.id.to_string(),
                    name: queue.name.clone(),
                    waiting: stats.waiting,
                    longest_wait_s: stats.longest_wait.as_secs_f64(),
                    service_level_target_s: queue.service_level_target_s,
                    service_level: stats.service_level.service_level(),
                    agents_available: stats.agents.available,
                    agents_offered: stats.agents.offered,
                    agents_on_call: stats.agents.on_call,
                    agents_wrap_up: stats.agents.wrap_up,
                    agents_paused: stats.agents.paused,
                    agents_logged_out: stats.agents.logged_out,
                });
            }
        }
        views
    }

    fn call_view(&self, call: &Call) -> CallView {
        let agent = call.caller_partner().and_then(|leg| self.legs.get(leg)).and_then(|leg| leg.agent()).map(ToString::to_string);
        let age: Duration = self.now.mono - call.arrived_at;
        let legs = std::iter::once(call.caller)
            .chain(call.legs.iter().copied())
            .filter_map(|id| self.legs.get(id))
            .map(|leg| LegView {
                party: leg.party.kind(),
                target: match &leg.party {
                    Party::Caller => None,
                    Party::Agent(agent) => Some(agent.to_string()),
                    Party::Member { target, .. } => Some(target.clone()),
                },
                state: leg_state_name(leg.state),
            })
            .collect();
        let transfer = call.transfer.as_ref().map(|transfer| TransferView {
            target: transfer.target.label(),
            mode: transfer.mode.as_str(),
            state: if transfer.consulting.is_some() { "consulting" } else { "ringing" },
        });
        CallView {
            reference: format!("{:08}", call.reference.value()),
            tenant: call.tenant.clone(),
            queue: call.queue.as_ref().map(ToString::to_string),
            phase: phase_name(&call.phase),
            age_s: age.as_secs_f64(),
            agent,
            subject: call.context.subject.clone(),
            notes: call.context.notes.clone(),
            previous_references: call.context.previous_references.clone(),
            legs,
            transfer,
            transfers_made: call.transfers_made,
        }
    }
}
