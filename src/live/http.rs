//! The HTTP endpoint on `http.listen`. For now: health and readiness from the published
//! snapshot (the operations issue adds the API and `/metrics`). Handlers read the snapshot
//! and never touch the engine.

use super::Snapshot;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The router, separate from the server so it can be tested without a socket.
pub fn router(snapshot: watch::Receiver<Snapshot>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(snapshot)
}

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener, snapshot: watch::Receiver<Snapshot>) {
    if let Err(error) = axum::serve(listener, router(snapshot)).await {
        tracing::warn!(%error, "http server stopped");
    }
}

/// Liveness: the engine task is publishing.
async fn health(State(snapshot): State<watch::Receiver<Snapshot>>) -> Json<Snapshot> {
    Json(snapshot.borrow().clone())
}

/// Readiness: 503 while draining, so a load balancer stops sending calls.
async fn ready(State(snapshot): State<watch::Receiver<Snapshot>>) -> (StatusCode, &'static str) {
    if snapshot.borrow().draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
