//! Handlers of `/api/`: queues, agents and calls. Reads need a `read` token, agent
//! changes a `supervise` token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::authorize;
use super::error::ApiError;
use super::HttpState;
use crate::config::ApiRole;
use crate::dialplan::{AgentId, TenantId};
use crate::engine::{parse_pause_reason, Command, ContextUpdate, Reply, TransferMode};

/// Body of `POST .../pause`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    reason: String,
}

/// Body of `POST /api/calls/{reference}/context`, and the context part of a transfer.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContextBody {
    subject: Option<String>,
    notes: Option<String>,
    previous_references: Option<Vec<String>>,
}

impl From<ContextBody> for ContextUpdate {
    fn from(body: ContextBody) -> Self {
        ContextUpdate { subject: body.subject, notes: body.notes, previous_references: body.previous_references }
    }
}

/// Body of `POST /api/calls/{reference}/transfer`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    target: String,
    mode: String,
    subject: Option<String>,
    notes: Option<String>,
}

/// Authorises, runs `command` and answers its reply as JSON, counting errors.
async fn run(state: &HttpState, headers: &HeaderMap, role: ApiRole, command: Result<Command, ApiError>) -> Response {
    let result = async {
        authorize(headers, &state.tokens, role)?;
        state.command(command?).await
    }
    .await;
    match result {
        Ok(reply) => Json(reply_body(reply)).into_response(),
        Err(error) => state.count(error).into_response(),
    }
}

/// The JSON of a reply: the inner value, without the enum's tag.
fn reply_body(reply: Reply) -> serde_json::Value {
    let value = match reply {
        Reply::Agent(agent) => serde_json::to_value(agent),
        Reply::Agents(agents) => serde_json::to_value(agents),
        Reply::Queues(queues) => serde_json::to_value(queues),
        Reply::Calls(calls) => serde_json::to_value(calls),
        Reply::Call(call) => serde_json::to_value(call),
    };
    value.unwrap_or(serde_json::Value::Null)
}

/// `GET /api/queues`.
pub async fn list_queues(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    run(&state, &headers, ApiRole::Read, Ok(Command::ListQueues)).await
}

/// `GET /api/agents`.
pub async fn list_agents(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    run(&state, &headers, ApiRole::Read, Ok(Command::ListAgents)).await
}

/// `GET /api/calls`.
pub async fn active_calls(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    run(&state, &headers, ApiRole::Read, Ok(Command::ActiveCalls)).await
}

/// `GET /api/calls/{reference}`.
pub async fn call_by_reference(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    run(&state, &headers, ApiRole::Read, Ok(Command::CallByReference(reference))).await
}

/// `POST /api/agents/{tenant}/{agent}/login`.
pub async fn agent_login(State(state): State<HttpState>, headers: HeaderMap, Path((tenant, agent)): Path<(String, String)>) -> Response {
    let command = Command::AgentLogin { tenant: TenantId::new(tenant), agent: AgentId::new(agent) };
    run(&state, &headers, ApiRole::Supervise, Ok(command)).await
}

/// `POST /api/agents/{tenant}/{agent}/logout`.
pub async fn agent_logout(State(state): State<HttpState>, headers: HeaderMap, Path((tenant, agent)): Path<(String, String)>) -> Response {
    let command = Command::AgentLogout { tenant: TenantId::new(tenant), agent: AgentId::new(agent) };
    run(&state, &headers, ApiRole::Supervise, Ok(command)).await
}

/// `POST /api/agents/{tenant}/{agent}/ready`.
pub async fn agent_ready(State(state): State<HttpState>, headers: HeaderMap, Path((tenant, agent)): Path<(String, String)>) -> Response {
    let command = Command::AgentReady { tenant: TenantId::new(tenant), agent: AgentId::new(agent) };
    run(&state, &headers, ApiRole::Supervise, Ok(command)).await
}

/// `POST /api/agents/{tenant}/{agent}/pause` with `{"reason": "break"|"training"|"backoffice"}`.
pub async fn agent_pause(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path((tenant, agent)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let command = serde_json::from_slice::<PauseBody>(&body)
        .map_err(|error| ApiError::bad_body(format!("expected {{\"reason\": \"...\"}}: {error}")))
        .and_then(|body| {
            parse_pause_reason(&body.reason).ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "bad_pause_reason",
                    "reason must be one of \"break\", \"training\", \"backoffice\"",
                )
            })
        })
        .map(|reason| Command::AgentPause { tenant: TenantId::new(tenant), agent: AgentId::new(agent), reason });
    run(&state, &headers, ApiRole::Supervise, command).await
}

/// `POST /api/calls/{reference}/context` with `{"subject", "notes", "previous_references"}`
/// (each optional; what is left out stays).
pub async fn set_context(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>, body: Bytes) -> Response {
    let command = serde_json::from_slice::<ContextBody>(&body)
        .map_err(|error| ApiError::bad_body(format!("expected {{\"subject\", \"notes\", \"previous_references\"}}: {error}")))
        .map(|body| Command::SetContext { reference, context: body.into() });
    run(&state, &headers, ApiRole::Supervise, command).await
}

/// `POST /api/calls/{reference}/transfer` with `{"target", "mode": "blind"|"warm", "subject", "notes"}`.
pub async fn transfer(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>, body: Bytes) -> Response {
    let command = serde_json::from_slice::<TransferBody>(&body)
        .map_err(|error| ApiError::bad_body(format!("expected {{\"target\", \"mode\", \"subject\", \"notes\"}}: {error}")))
        .and_then(|body| {
            let mode = match body.mode.as_str() {
                "blind" => TransferMode::Blind,
                "warm" => TransferMode::Warm,
                _ => {
                    return Err(ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "bad_transfer_mode",
                        "mode must be \"blind\" or \"warm\"",
                    ))
                }
            };
            let context = ContextUpdate { subject: body.subject, notes: body.notes, previous_references: None };
            Ok(Command::Transfer { reference, target: body.target, mode, context })
        });
    run(&state, &headers, ApiRole::Supervise, command).await
}

/// `POST /api/calls/{reference}/transfer/complete`: the warm transfer's target takes the caller.
pub async fn complete_transfer(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    run(&state, &headers, ApiRole::Supervise, Ok(Command::CompleteTransfer(reference))).await
}

/// `POST /api/calls/{reference}/transfer/cancel`: caller and agent talk again.
pub async fn cancel_transfer(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    run(&state, &headers, ApiRole::Supervise, Ok(Command::CancelTransfer(reference))).await
}
