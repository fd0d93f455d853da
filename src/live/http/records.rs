//! `GET /api/records/{reference}` and `GET /api/records`: call records read from the
//! store on its own read-only connection in `spawn_blocking`, never through the engine,
//! so a long listing cannot delay a SIP message.

use std::sync::{Arc, Mutex};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::authorize;
use super::error::ApiError;
use super::HttpState;
use crate::acd::reference::ReferenceNumber;
use crate::config::ApiRole;
use crate::engine::CallRecord;
use crate::live::store::{RecordCursor, StoreError, StoreReader, TimeRange, MAX_PAGE_RECORDS};

/// Records per page when the client names no `limit`.
pub const DEFAULT_PAGE_RECORDS: usize = 100;

/// The API's store reader: one read-only connection, used by one request at a time
/// (SQLite connections are not shared between threads; reads are short).
#[derive(Clone)]
pub struct RecordsReader {
    reader: Arc<Mutex<StoreReader>>,
}

impl RecordsReader {
    /// Wraps an open reader.
    pub fn new(reader: StoreReader) -> Self {
        RecordsReader { reader: Arc::new(Mutex::new(reader)) }
    }

    /// Runs `read` on the blocking pool with the connection.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&StoreReader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let reader = Arc::clone(&self.reader);
        let outcome = tokio::task::spawn_blocking(move || {
            let reader = reader.lock().map_err(|_| "store reader poisoned by an earlier panic".to_owned())?;
            read(&reader).map_err(|error| error.to_string())
        })
        .await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "store read failed");
                Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "the store could not be read; retry shortly"))
            }
            Err(error) => {
                tracing::error!(%error, "store read task failed");
                Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the store read did not finish"))
            }
        }
    }
}

/// The query of `GET /api/records`, as strings so each problem gets its own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// One page of `GET /api/records`.
#[derive(Serialize)]
struct RecordsBody {
    records: Vec<CallRecord>,
    next_cursor: Option<String>,
}

/// `GET /api/records/{reference}`: the record (latest arrival if the reference repeats).
pub async fn record_by_reference(State(state): State<HttpState>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    let result = async {
        authorize(&headers, &state.tokens, ApiRole::Read)?;
        let reference = ReferenceNumber::parse(&reference)
            .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, "bad_reference", format!("reference: {error}")))?;
        let digits = format!("{:08}", reference.value());
        state
            .records
            .read(move |reader| reader.by_reference(&digits))
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_record", "no record has this reference"))
    }
    .await;
    match result {
        Ok(record) => Json(record).into_response(),
        Err(error) => state.count(error).into_response(),
    }
}

/// `GET /api/records?from=&to=&limit=&cursor=`: records by arrival, oldest first.
pub async fn list_records(
    State(state): State<HttpState>,
    headers: HeaderMap,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Response {
    let result = async {
        authorize(&headers, &state.tokens, ApiRole::Read)?;
        let Query(query) = query.map_err(|rejection| bad_query(format!("{}", rejection.body_text())))?;
        let (range, limit, cursor) = parse_query(&query)?;
        let page = state.records.read(move |reader| reader.list(range, limit, cursor)).await?;
        Ok(RecordsBody { records: page.records, next_cursor: page.next_cursor.map(|cursor| cursor.to_string()) })
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => state.count(error).into_response(),
    }
}

fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message)
}

fn parse_query(query: &RecordsQuery) -> Result<(TimeRange, usize, Option<RecordCursor>), ApiError> {
    let time = |name: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .as_deref()
            .map(|text| {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|time| time.timestamp_millis())
                    .map_err(|_| bad_query(format!("{name}: {text:?} is not an RFC 3339 time such as 2026-01-05T09:00:00+01:00")))
            })
            .transpose()
    };
    let range = TimeRange { from_ms: time("from", &query.from)?, to_ms: time("to", &query.to)? };
    if let (Some(from), Some(to)) = (range.from_ms, range.to_ms) {
        if from > to {
            return Err(bad_query("from must not be after to".to_owned()));
        }
    }
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE_RECORDS,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_PAGE_RECORDS).contains(&limit) => limit,
            _ => return Err(bad_query(format!("limit: must be a whole number from 1 to {MAX_PAGE_RECORDS}, not {text:?}"))),
        },
    };
    let cursor = query
        .cursor
        .as_deref()
        .map(|text| text.parse::<RecordCursor>().map_err(|error| bad_query(format!("cursor: {error}"))))
        .transpose()?;
    Ok((range, limit, cursor))
}
