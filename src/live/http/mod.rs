//! The HTTP endpoint on `http.listen`: health, readiness and `/metrics` without a token
//! (keep the listener on a management network), the API under `/api/` with bearer tokens.
//! Handlers never touch the engine: they read the published snapshot, or send the engine
//! task a request over a bounded channel and wait for its one-shot reply.

mod api;
mod auth;
mod error;
mod openapi;
mod records;

pub use error::ApiError;
pub use openapi::OPENAPI_YAML;
pub use records::RecordsReader;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use metrics::Counter;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::Snapshot;
use crate::config::ApiToken;
use crate::engine::{Command, CommandError, Reply};

/// How long a handler waits for the engine task before answering 503.
const ENGINE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A request from an HTTP handler to the engine task.
pub enum ApiRequest {
    /// Apply a command and send back its result.
    Command { command: Command, reply: oneshot::Sender<Result<Reply, CommandError>> },
    /// Bring the metrics up to date, then reply (the handler renders afterwards).
    RefreshMetrics { reply: oneshot::Sender<()> },
}

/// What every handler may use.
#[derive(Clone)]
pub struct HttpState {
    /// The engine task's latest snapshot.
    pub snapshot: watch::Receiver<Snapshot>,
    /// Requests to the engine task.
    pub engine: mpsc::Sender<ApiRequest>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Accepted bearer tokens.
    pub tokens: Arc<Vec<ApiToken>>,
    /// API errors answered 4xx.
    pub client_errors: Counter,
    /// API errors answered 5xx.
    pub server_errors: Counter,
    /// Reads call records from the store (never through the engine).
    pub records: RecordsReader,
}

impl HttpState {
    /// Sends `command` to the engine task and waits for its reply.
    async fn command(&self, command: Command) -> Result<Reply, ApiError> {
        let (reply, replied) = oneshot::channel();
        self.engine.try_send(ApiRequest::Command { command, reply }).map_err(|_| ApiError::engine_busy())?;
        match tokio::time::timeout(ENGINE_REPLY_TIMEOUT, replied).await {
            Ok(Ok(result)) => result.map_err(ApiError::from),
            _ => Err(ApiError::engine_busy()),
        }
    }

    /// Counts an error by status class and returns it.
    fn count(&self, error: ApiError) -> ApiError {
        if error.status.is_server_error() {
            self.server_errors.increment(1);
        } else {
            self.client_errors.increment(1);
        }
        error
    }
}

/// Every route: method, path (axum syntax, as in `config/openapi.yaml`) and handler.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<HttpState>)> {
    vec![
        (Method::GET, "/health", get(health)),
        (Method::GET, "/ready", get(ready)),
        (Method::GET, "/metrics", get(metrics)),
        (Method::GET, "/api/openapi.yaml", get(openapi_yaml)),
        (Method::GET, "/api/queues", get(api::list_queues)),
        (Method::GET, "/api/agents", get(api::list_agents)),
        (Method::POST, "/api/agents/{tenant}/{agent}/login", post(api::agent_login)),
        (Method::POST, "/api/agents/{tenant}/{agent}/logout", post(api::agent_logout)),
        (Method::POST, "/api/agents/{tenant}/{agent}/ready", post(api::agent_ready)),
        (Method::POST, "/api/agents/{tenant}/{agent}/pause", post(api::agent_pause)),
        (Method::GET, "/api/calls", get(api::active_calls)),
        (Method::GET, "/api/calls/{reference}", get(api::call_by_reference)),
        (Method::POST, "/api/calls/{reference}/context", post(api::set_context)),
        (Method::POST, "/api/calls/{reference}/transfer", post(api::transfer)),
        (Method::POST, "/api/calls/{reference}/transfer/complete", post(api::complete_transfer)),
        (Method::POST, "/api/calls/{reference}/transfer/cancel", post(api::cancel_transfer)),
        (Method::GET, "/api/records", get(records::list_records)),
        (Method::GET, "/api/records/{reference}", get(records::record_by_reference)),
    ]
}

/// The router, separate from the server so it can be tested without a socket.
pub fn router(state: HttpState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| router.route(path, handler))
        .fallback(not_found)
        .with_state(state)
}

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener, state: HttpState) {
    if let Err(error) = axum::serve(listener, router(state)).await {
        tracing::warn!(%error, "http server stopped");
    }
}

/// Liveness: the engine task is publishing.
async fn health(State(state): State<HttpState>) -> Json<Snapshot> {
    Json(state.snapshot.borrow().clone())
}

/// Readiness: 503 while draining, so a load balancer stops sending calls.
async fn ready(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.snapshot.borrow().draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

/// Prometheus text format, refreshed by the engine task first so counts are current.
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let (reply, replied) = oneshot::channel();
    if state.engine.try_send(ApiRequest::RefreshMetrics { reply }).is_ok() {
        // A busy engine still gets a scrape, with the numbers of its last refresh.
        let _ = tokio::time::timeout(ENGINE_REPLY_TIMEOUT, replied).await;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// The API description.
async fn openapi_yaml() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

/// Unknown paths get the API's error shape too.
async fn not_found(State(state): State<HttpState>) -> ApiError {
    state.count(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint"))
}
