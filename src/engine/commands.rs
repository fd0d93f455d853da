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

use super::call::{Call, Phase};
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
}

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

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Answering => "answering",
        Phase::Menu => "menu",
        Phase::Queued => "queued",
        Phase::Connected => "connected",
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
        }
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
        CallView {
            reference: format!("{:08}", call.reference.value()),
            tenant: call.tenant.clone(),
            queue: call.queue.as_ref().map(ToString::to_string),
            phase: phase_name(&call.phase),
            age_s: age.as_secs_f64(),
            agent,
        }
    }
}
