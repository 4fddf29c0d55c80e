//! A Cloudflare Worker (workers-rs) using edgepg-wasm's Rust API: the same
//! `connect` / `fetch` / `transaction` a tokio server writes with `edgepg`.
//!
//! Configuration comes from the Worker's variables:
//! * `DATABASE_URL` — a libpq DSN, e.g. `postgres://app:secret@db.example.com:5432/app`;
//! * `WS_PROXY` — where the WebSocket goes, `host:port/path` (websockify or Neon's wsproxy in
//!   front of PostgreSQL; `?address=<host>:<port>` is appended). Leave it unset for Neon,
//!   whose hosts take `wss://<host>/v2`;
//! * `WS_INSECURE` — set to `1` for a plain `ws://` proxy (a local one only: the password then
//!   travels in clear).
//!
//! Routes: `GET /` runs a query and two transactions (one committed, one rolled back) and
//! answers with JSON; `GET /error` shows how a server error (SQLSTATE) reaches the response.

use edgepg_wasm::{Connection, WsOptions, WsProxy};
use serde_json::{json, Value};
use worker::{event, Context, Env, Request, Response, Result};

/// The DSN and WebSocket options from the Worker's variables.
fn settings(env: &Env) -> Result<(String, WsOptions)> {
    let dsn = env.secret("DATABASE_URL").or_else(|_| env.var("DATABASE_URL"))?.to_string();
    let options = WsOptions {
        ws_proxy: env.var("WS_PROXY").ok().map(|p| WsProxy::Url(p.to_string())),
        use_secure_websocket: env.var("WS_INSECURE").map(|v| v.to_string() != "1").unwrap_or(true),
        ..WsOptions::default()
    };
    Ok((dsn, options))
}

/// `GET /`: a parameterised query, a committed and a rolled-back transaction.
async fn demo(conn: &Connection) -> edgepg_wasm::Result<Value> {
    let version: String = conn.fetchval("SELECT current_setting('server_version')", &[]).await?;
    let sum: i32 = conn.fetchval("SELECT $1::int4 + $2::int4", &[&40i32, &2i32]).await?;
    conn.execute("CREATE TEMP TABLE visits (id int4 PRIMARY KEY, note text)", &[]).await?;

    let tx = conn.transaction().start().await?;
    tx.execute("INSERT INTO visits VALUES ($1, $2)", &[&1i32, &"kept"]).await?;
    tx.execute("INSERT INTO visits VALUES ($1, $2)", &[&2i32, &"kept too"]).await?;
    tx.commit().await?;

    let tx = conn.transaction().start().await?;
    tx.execute("INSERT INTO visits VALUES ($1, $2)", &[&3i32, &"rolled back"]).await?;
    tx.rollback().await?;

    // A transaction dropped without commit is rolled back as well.
    {
        let tx = conn.transaction().start().await?;
        tx.execute("INSERT INTO visits VALUES ($1, $2)", &[&4i32, &"dropped"]).await?;
    }

    let rows = conn.fetch("SELECT id, note FROM visits ORDER BY id", &[]).await?;
    let mut visits = Vec::new();
    for row in &rows {
        let id: i32 = row.get("id")?;
        let note: String = row.get("note")?;
        visits.push(json!({ "id": id, "note": note }));
    }
    Ok(json!({ "serverVersion": version, "sum": sum, "visits": visits }))
}

/// Connects, answers `path`, closes. Workers do not let one request use a socket that another
/// request opened, so a connection lives (at most) as long as its request.
async fn answer(path: &str, dsn: &str, options: WsOptions) -> edgepg_wasm::Result<Value> {
    let conn = edgepg_wasm::connect(dsn, options).await?;
    let result = match path {
        "/error" => conn.execute("SELECT 1/0", &[]).await.map(|tag| json!({ "tag": tag })),
        _ => demo(&conn).await,
    };
    // Close before answering: the socket must not outlive the request.
    conn.close().await?;
    result
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    if path != "/" && path != "/error" {
        return Response::error("not found", 404);
    }
    let (dsn, options) = settings(&env)?;
    match answer(&path, &dsn, options).await {
        Ok(body) => Response::from_json(&body),
        // A server error keeps its SQLSTATE (e.g. 28P01 for a wrong password).
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string());
            Ok(Response::from_json(&json!({ "error": e.message(), "code": code }))?.with_status(500))
        }
    }
}
