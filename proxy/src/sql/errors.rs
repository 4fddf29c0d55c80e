//! Failures of `POST /sql` as HTTP responses.
//!
//! Errors that carry a SQLSTATE — the server's own errors, a wrong password,
//! a cancelled query — answer 400 with every ErrorResponse field, like
//! Neon's proxy, because that is the status Neon's driver reads those fields
//! from. The proxy's own refusals use the status that says why (403, 413,
//! 502, ...) with `{"message", "code"}`.

use edgepg::{Error, ErrorKind, ErrorPosition};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::http::{self, Body};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable reason.
    pub message: String,
    /// SQLSTATE, when one applies.
    pub code: Option<String>,
    /// The full PostgreSQL error, when the server sent one.
    db: Option<Box<edgepg::DbError>>,
}

impl ApiError {
    /// An error of the proxy itself.
    pub fn new(status: StatusCode, message: impl Into<String>, code: Option<&str>) -> ApiError {
        ApiError { status, message: message.into(), code: code.map(str::to_owned), db: None }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message, None)
    }

    /// The query ran out of time: cancelled and rolled back.
    pub fn timeout() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "the query took longer than the proxy's query timeout: cancelled and rolled back",
            Some("57014"),
        )
    }

    /// An error of edgepg's client.
    pub fn from_pg(e: &Error) -> ApiError {
        if let Some(db) = e.as_db_error() {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                message: db.message.clone(),
                code: Some(db.code.code().to_owned()),
                db: Some(Box::new(db.clone())),
            };
        }
        let code = e.code().map(|c| c.code().to_owned());
        let (status, code) = match e.kind() {
            ErrorKind::Auth => (StatusCode::BAD_REQUEST, code.or_else(|| Some("28000".into()))),
            ErrorKind::Connect | ErrorKind::Tls => (StatusCode::BAD_GATEWAY, Some("08001".into())),
            ErrorKind::Io | ErrorKind::Closed | ErrorKind::Protocol => {
                (StatusCode::BAD_GATEWAY, code.or_else(|| Some("08006".into())))
            }
            ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, code.or_else(|| Some("57014".into()))),
            _ => (StatusCode::BAD_REQUEST, code),
        };
        ApiError { status, message: e.message().to_owned(), code, db: None }
    }

    /// Whether the server rejected the credentials.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.code.as_deref(), Some("28P01" | "28000"))
    }

    /// The response: Neon's error JSON.
    pub fn into_response(self) -> Response<Body> {
        let Some(db) = self.db else {
            return http::error(self.status, &self.message, self.code.as_deref());
        };
        let (position, internal_position, internal_query) = match &db.position {
            Some(ErrorPosition::Original(p)) => (Some(p.to_string()), None, None),
            Some(ErrorPosition::Internal { position, query }) => {
                (None, Some(position.to_string()), Some(query.clone()))
            }
            None => (None, None, None),
        };
        let body = json!({
            "message": db.message,
            "code": db.code.code(),
            "detail": db.detail,
            "hint": db.hint,
            "position": position,
            "internalPosition": internal_position,
            "internalQuery": internal_query,
            "severity": db.severity,
            "where": db.where_,
            "table": db.table,
            "column": db.column,
            "schema": db.schema,
            "dataType": db.datatype,
            "constraint": db.constraint,
            "file": db.file,
            "line": db.line.map(|l| l.to_string()),
            "routine": db.routine,
        });
        http::json(self.status, serde_json::to_vec(&body).unwrap_or_default())
    }
}
