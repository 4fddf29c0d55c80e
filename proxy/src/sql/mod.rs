//! SQL over HTTP, compatible with Neon's `POST /sql`.
//!
//! Request: header `Neon-Connection-String: postgresql://user:pw@host/db`,
//! body `{query, params}` (one statement, outside a transaction) or
//! `{queries: [...]}` (all in one `BEGIN` … `COMMIT`, with
//! `Neon-Batch-Isolation-Level`, `Neon-Batch-Read-Only`,
//! `Neon-Batch-Deferrable`); `Neon-Raw-Text-Output: true` for values as text,
//! `Neon-Array-Mode: true` for rows as arrays. Response: the result object
//! ([`output`]) or `{results: [...]}`; errors: [`errors`].
//!
//! The statements of a request go to PostgreSQL in one flight (edgepg's
//! `Batch`), on a pooled connection ([`pools`]). A request that runs out of
//! time is dropped: edgepg's client then cancels the running statement and
//! rolls the transaction back, and the pool cleans the connection before
//! anyone else gets it.

pub mod errors;
pub mod output;
pub mod payload;
pub mod pools;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use edgepg::{BatchResult, Isolation};
use edgepg_core::types::{ToSql, Value};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use hyper::{Request, Response, StatusCode};

use self::errors::ApiError;
use self::output::Format;
use self::payload::Payload;
use self::pools::Target;
use crate::http::{self, Body};
use crate::log_request;
use crate::server::State;

const CONNECTION_STRING: &str = "neon-connection-string";
const RAW_TEXT: &str = "neon-raw-text-output";
const ARRAY_MODE: &str = "neon-array-mode";
const ISOLATION: &str = "neon-batch-isolation-level";
const READ_ONLY: &str = "neon-batch-read-only";
const DEFERRABLE: &str = "neon-batch-deferrable";

/// The CORS preflight of `POST /sql`: any origin, the headers Neon's driver
/// and edgepg's send, cached for a day.
pub fn preflight() -> Response<Body> {
    let mut resp = Response::new(Body::default());
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("POST"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "Authorization, Content-Type, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, \
             Neon-Pool-Opt-In, Neon-Batch-Read-Only, Neon-Batch-Isolation-Level, Neon-Batch-Deferrable",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    resp
}

/// Answers one `POST /sql`, within the query timeout.
pub async fn handle(state: Arc<State>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let started = Instant::now();
    let target = req.headers().get(CONNECTION_STRING).and_then(|v| v.to_str().ok()).map(Target::parse);
    let who = match &target {
        Some(Ok(t)) => t.to_string(),
        _ => "?".into(),
    };
    let work = run(&state, req, target);
    let result = match state.settings.query_timeout {
        Some(t) => tokio::time::timeout(t, work).await.unwrap_or_else(|_| Err(ApiError::timeout())),
        None => work.await,
    };
    let ms = started.elapsed().as_millis();
    match result {
        Ok(resp) => {
            log_request!("{peer}: sql {who}: ok in {ms} ms");
            resp
        }
        Err(e) => {
            log_request!("{peer}: sql {who}: {} {} in {ms} ms", e.status.as_u16(), e.code.as_deref().unwrap_or("-"));
            e.into_response()
        }
    }
}

fn header_is_true(headers: &HeaderMap, name: &str) -> bool {
    headers.get(name).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

fn header_bool(headers: &HeaderMap, name: &str) -> Result<Option<bool>, ApiError> {
    match headers.get(name).map(|v| v.to_str().unwrap_or("").to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "true" => Ok(Some(true)),
        Some(v) if v == "false" => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be true or false"))),
    }
}

async fn run(
    state: &State,
    req: Request<Incoming>,
    target: Option<Result<Target, String>>,
) -> Result<Response<Body>, ApiError> {
    let settings = &state.settings;
    let target = match target {
        Some(Ok(t)) => t,
        Some(Err(msg)) => return Err(ApiError::bad_request(msg)),
        None => {
            return Err(ApiError::bad_request(
                "missing Neon-Connection-String header (postgresql://user:password@host/db)",
            ))
        }
    };
    if req.headers().contains_key(hyper::header::AUTHORIZATION) {
        return Err(ApiError::bad_request(
            "edgepg-proxy does not check JWTs (authToken): put the password in the connection string",
        ));
    }
    if !settings.allow.allows(&target.host, target.port) {
        let msg = format!("{}:{} is not an allowed target of this proxy", target.host, target.port);
        return Err(ApiError::new(StatusCode::FORBIDDEN, msg, None));
    }
    let headers = req.headers().clone();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} bytes", settings.max_bytes),
            None,
        )
    };
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > settings.max_bytes as u64) {
        return Err(too_large());
    }
    let mode = BatchMode::from_headers(&headers)?;
    let format =
        Format { raw_text: header_is_true(&headers, RAW_TEXT), array_mode: header_is_true(&headers, ARRAY_MODE) };

    // The body and the connection at once: a cold connection's handshake
    // overlaps the upload.
    let body = async {
        let collected = Limited::new(req.into_body(), settings.max_bytes).collect().await;
        match collected {
            Ok(b) => Ok(b.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(ApiError::bad_request(format!("reading the request body failed: {e}"))),
        }
    };
    let conn = async {
        let pool = state.pools.get(&target).await.map_err(|e| ApiError::from_pg(&e))?;
        pool.acquire().await.map_err(|e| ApiError::from_pg(&e))
    };
    let (body, conn) = tokio::join!(body, conn);
    let payload = payload::parse(&body?).map_err(ApiError::bad_request)?;
    let conn = conn.inspect_err(|e| {
        if e.is_auth_failure() {
            state.pools.forget(&target);
        }
    })?;

    let limit = settings.max_bytes;
    let mut out = Vec::with_capacity(256);
    let mut response_headers = Vec::new();
    match payload {
        Payload::Single(q) => {
            let params = refs(&q.params);
            let results = conn.batch().query(&q.text, &params).run().await;
            let result = first_result(results)?;
            let format = Format { array_mode: q.array_mode.unwrap_or(format.array_mode), ..format };
            output::write_result(&mut out, &result, format, limit).map_err(|_| response_too_large(limit))?;
        }
        Payload::Batch(queries) => {
            let params: Vec<Vec<&(dyn ToSql + Sync)>> = queries.iter().map(|q| refs(&q.params)).collect();
            let mut batch = conn.batch().transaction();
            if let Some(i) = mode.isolation {
                batch = batch.isolation(i);
            }
            if let Some(r) = mode.read_only {
                batch = batch.readonly(r);
            }
            if let Some(d) = mode.deferrable {
                batch = batch.deferrable(d);
            }
            for (q, p) in queries.iter().zip(&params) {
                batch = batch.query(&q.text, p);
            }
            let results = if queries.is_empty() { Ok(Vec::new()) } else { batch.run().await };
            let results = all_results(results)?;
            out.extend_from_slice(b"{\"results\":[");
            for (i, (r, q)) in results.iter().zip(&queries).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let format = Format { array_mode: q.array_mode.unwrap_or(format.array_mode), ..format };
                output::write_result(&mut out, r, format, limit).map_err(|_| response_too_large(limit))?;
            }
            out.extend_from_slice(b"]}");
            for name in [ISOLATION, READ_ONLY, DEFERRABLE] {
                if let Some(v) = headers.get(name) {
                    response_headers.push((HeaderName::from_static(name), v.clone()));
                }
            }
        }
    }
    drop(conn);
    let mut resp = http::json(StatusCode::OK, out);
    resp.headers_mut().extend(response_headers);
    Ok(resp)
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn response_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        format!("the response is larger than {limit} bytes: select fewer rows or columns"),
        None,
    )
}

fn first_result(results: edgepg::Result<Vec<edgepg::Result<BatchResult>>>) -> Result<BatchResult, ApiError> {
    let mut results = results.map_err(|e| ApiError::from_pg(&e))?;
    if results.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, "no result", None));
    }
    results.swap_remove(0).map_err(|e| ApiError::from_pg(&e))
}

/// A transaction's results, or the error of the statement that failed
/// (every statement's error carries the same server error fields).
fn all_results(results: edgepg::Result<Vec<edgepg::Result<BatchResult>>>) -> Result<Vec<BatchResult>, ApiError> {
    let results = results.map_err(|e| ApiError::from_pg(&e))?;
    results.into_iter().map(|r| r.map_err(|e| ApiError::from_pg(&e))).collect()
}

/// The `BEGIN` options of a batch, from its headers.
struct BatchMode {
    isolation: Option<Isolation>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
}

impl BatchMode {
    fn from_headers(h: &HeaderMap) -> Result<BatchMode, ApiError> {
        let isolation =
            match h.get(ISOLATION).map(|v| v.to_str().unwrap_or("")) {
                None => None,
                Some("ReadUncommitted") => Some(Isolation::ReadUncommitted),
                Some("ReadCommitted") => Some(Isolation::ReadCommitted),
                Some("RepeatableRead") => Some(Isolation::RepeatableRead),
                Some("Serializable") => Some(Isolation::Serializable),
                Some(_) => return Err(ApiError::bad_request(
                    "Neon-Batch-Isolation-Level must be ReadUncommitted, ReadCommitted, RepeatableRead or Serializable",
                )),
            };
        Ok(BatchMode { isolation, read_only: header_bool(h, READ_ONLY)?, deferrable: header_bool(h, DEFERRABLE)? })
    }
}
