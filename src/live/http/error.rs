//! API errors with one stable JSON shape: `{"error": {"code": "...", "message": "..."}}`.
//! `code` is a fixed snake_case word clients may switch on; `message` is for people.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::engine::{CommandError, TransferError};

/// One failed API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable detail; never a secret or a phone number.
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    /// 401: no token, or one we do not know.
    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
    }

    /// 403: a valid token whose role may not do this.
    pub fn forbidden() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this token's role may not do this")
    }

    /// 503: the engine did not take or answer the request in time.
    pub fn engine_busy() -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "engine_busy", "the engine is busy; retry shortly")
    }

    /// 400: a body that is not the JSON expected.
    pub fn bad_body(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_body", message)
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        let (status, code) = match &error {
            CommandError::UnknownAgent { .. } => (StatusCode::NOT_FOUND, "unknown_agent"),
            CommandError::NotLoggedIn(_) => (StatusCode::CONFLICT, "not_logged_in"),
            CommandError::BadReference(_) => (StatusCode::BAD_REQUEST, "bad_reference"),
            CommandError::UnknownCall => (StatusCode::NOT_FOUND, "unknown_call"),
            CommandError::BadContext(_) => (StatusCode::BAD_REQUEST, "bad_context"),
            CommandError::Transfer(TransferError::UnknownTarget(_)) => (StatusCode::NOT_FOUND, "unknown_target"),
            CommandError::Transfer(TransferError::NotConnected) => (StatusCode::CONFLICT, "not_connected"),
            CommandError::Transfer(TransferError::HopLimit(_)) => (StatusCode::FORBIDDEN, "transfer_limit"),
            CommandError::Transfer(TransferError::NoTransfer) => (StatusCode::CONFLICT, "no_transfer"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: &self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client must use.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
