//! HTTP plumbing shared by the routes: response bodies, JSON errors, CORS.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::json;

/// Every response body is buffered: SQL results are built whole (like
/// Neon's proxy) and the other answers are small.
pub type Body = Full<Bytes>;

/// A JSON response; browsers may read it from any origin (CORS `*`), as
/// from Neon's proxy: the connection string, not the origin, authenticates.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp
}

/// `{"message": ..., "code": ...}` with `status`: the shape Neon's driver
/// reads errors from. `code` is a SQLSTATE when one applies.
pub fn error(status: StatusCode, message: &str, code: Option<&str>) -> Response<Body> {
    let body = json!({ "message": message, "code": code });
    json(status, serde_json::to_vec(&body).unwrap_or_default())
}
