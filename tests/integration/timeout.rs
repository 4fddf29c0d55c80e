//! Timeouts and cancellation: per-call timeouts, `command_timeout`, the
//! cancel token, and dropped futures. Timeouts here are "no hang" guards or
//! the feature under test; nothing asserts on wall time.

use std::sync::Arc;
use std::time::Duration;

use edgepg::{Connection, ErrorKind, SqlState};
use edgepg_tests::dsn_for;

async fn conn_with(extra: &str) -> Connection {
    let extra = if extra.is_empty() { "sslmode=disable".to_owned() } else { format!("sslmode=disable&{extra}") };
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), &extra)).await.unwrap()
}

/// Fails the test instead of hanging.
async fn guard<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("the test hung")
}

/// Whether backend `pid` is running a query right now (checked from another connection).
async fn is_active(observer: &Connection, pid: i32) -> bool {
    let state: Option<String> =
        observer.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid]).await.unwrap();
    state.as_deref() == Some("active")
}

#[tokio::test]
async fn with_timeout_cancels_and_the_connection_answers_next() {
    let conn = conn_with("").await;
    let err =
        guard(conn.with_timeout(Duration::from_millis(200)).execute("SELECT pg_sleep(10)", &[])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    // The query was cancelled on the server, and the connection is idle and in step.
    let observer = conn_with("").await;
    assert!(!is_active(&observer, conn.get_server_pid()).await, "the backend is still running the query");
    let one: i32 = guard(conn.fetchval("SELECT 1", &[])).await.unwrap();
    assert_eq!(one, 1);
    assert!(!conn.is_in_transaction());
    // Every call shape takes the timeout (extended protocol, with arguments).
    let quick = conn.with_timeout(Duration::from_millis(200));
    let err = guard(quick.fetch("SELECT pg_sleep($1)", &[&10.0f64])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let err = guard(quick.fetchval::<i32>("SELECT 1 FROM pg_sleep($1)", &[&10.0f64])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let err = guard(quick.executemany("SELECT pg_sleep($1)", [(10.0f64,)])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // A call that finishes in time is unaffected.
    let v: String = guard(quick.fetchval("SELECT $1::text", &[&"ok"])).await.unwrap();
    assert_eq!(v, "ok");
    assert_eq!(conn.fetchval::<i64>("SELECT 41 + 1", &[]).await.unwrap(), 42);
    observer.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn timeout_inside_a_transaction_leaves_it_failed_not_broken() {
    let conn = conn_with("").await;
    conn.execute("BEGIN", &[]).await.unwrap();
    let err =
        guard(conn.with_timeout(Duration::from_millis(200)).execute("SELECT pg_sleep(10)", &[])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // The cancel aborted the transaction; the connection still works.
    assert_eq!(conn.transaction_status(), edgepg::TransactionStatus::Failed);
    conn.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(conn.fetchval::<i32>("SELECT 2", &[]).await.unwrap(), 2);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn command_timeout_is_the_default() {
    let conn = conn_with("command_timeout=0.2").await;
    assert_eq!(conn.command_timeout(), Some(Duration::from_millis(200)));
    let err = guard(conn.fetch("SELECT pg_sleep(10)", &[])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(conn.fetchval::<i32>("SELECT 3", &[]).await.unwrap(), 3);
    // A prepared statement's calls are bounded too.
    let stmt = conn.prepare("SELECT pg_sleep($1)").await.unwrap();
    let err = guard(stmt.execute(&[&10.0f64])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // with_timeout overrides the default, here with a longer one.
    let v: i32 = conn.with_timeout(Duration::from_secs(20)).fetchval("SELECT 4 FROM pg_sleep(0.3)", &[]).await.unwrap();
    assert_eq!(v, 4);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn cancel_token_from_another_task() {
    let conn = Arc::new(conn_with("").await);
    let token = conn.cancel_token();
    let c = conn.clone();
    let slow = tokio::spawn(async move { c.execute("SELECT pg_sleep(10)", &[]).await });
    let observer = conn_with("").await;
    // Wait until the query runs, so the cancel has something to hit.
    guard(async {
        while !is_active(&observer, conn.get_server_pid()).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let canceller = tokio::spawn(async move { token.cancel().await });
    guard(canceller).await.unwrap().unwrap();
    let err = guard(slow).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(SqlState::QUERY_CANCELED), "{err}");
    assert_eq!(conn.fetchval::<i32>("SELECT 5", &[]).await.unwrap(), 5);
    // Cancelling an idle connection does nothing.
    conn.cancel_token().cancel().await.unwrap();
    assert_eq!(conn.fetchval::<i32>("SELECT 6", &[]).await.unwrap(), 6);
    observer.close().await.unwrap();
}

#[tokio::test]
async fn dropping_a_running_query_cancels_it() {
    let conn = conn_with("").await;
    let observer = conn_with("").await;
    let pid = conn.get_server_pid();
    {
        let slow = conn.execute("SELECT pg_sleep(30)", &[]);
        // Poll it until the server runs it, then drop it.
        tokio::select! {
            _ = slow => panic!("pg_sleep(30) finished"),
            _ = async {
                while !is_active(&observer, pid).await {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } => {}
        }
    }
    // The next call is not stuck behind 30 s of sleep: the dropped query was
    // cancelled (the guard is far below 30 s).
    let v: i32 = tokio::time::timeout(Duration::from_secs(15), conn.fetchval("SELECT 7", &[]))
        .await
        .expect("the dropped query was not cancelled")
        .unwrap();
    assert_eq!(v, 7);
    observer.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_pipelined_query_behind_a_dropped_one_is_not_cancelled() {
    let conn = Arc::new(conn_with("").await);
    // Two requests written back to back: the first is dropped while the second
    // is already pipelined behind it. Cancelling the first could hit the
    // second, so no cancel is sent: the second must succeed.
    let c = conn.clone();
    let second = {
        let first = conn.execute("SELECT pg_sleep(0.5)", &[]);
        let mut first = Box::pin(first);
        // Send the first request (one poll queues it).
        let _ = futures_util::poll!(first.as_mut());
        let second = tokio::spawn(async move { c.fetchval::<i32>("SELECT 8 FROM pg_sleep(0.3)", &[]).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(first);
        second
    };
    assert_eq!(guard(second).await.unwrap().unwrap(), 8);
    assert_eq!(conn.fetchval::<i32>("SELECT 9", &[]).await.unwrap(), 9);
}

#[tokio::test]
async fn dropping_a_quick_query_does_not_disturb_the_next() {
    let conn = conn_with("").await;
    for i in 0..20i32 {
        {
            let args: [&(dyn edgepg::types::ToSql + Sync); 1] = [&i];
            let mut f = Box::pin(conn.fetchval::<i32>("SELECT $1::int4", &args));
            let _ = futures_util::poll!(f.as_mut());
        }
        let v: i32 = guard(conn.fetchval("SELECT $1::int4 + 100", &[&i])).await.unwrap();
        assert_eq!(v, i + 100);
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn cancel_over_tls_and_unix_socket() {
    let e = edgepg_tests::env();
    let tls = edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=require")).await.unwrap();
    let unix = edgepg::connect(&format!("postgres://edgepg:edgepg_pw@/{}?host={}&port={}", e.db, e.socket_dir, e.port))
        .await
        .unwrap();
    for conn in [&tls, &unix] {
        // Inside a transaction, a cancelled statement leaves it failed: proof the cancel arrived.
        conn.execute("BEGIN", &[]).await.unwrap();
        let err =
            guard(conn.with_timeout(Duration::from_millis(200)).execute("SELECT pg_sleep(10)", &[])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(conn.transaction_status(), edgepg::TransactionStatus::Failed);
        conn.execute("ROLLBACK", &[]).await.unwrap();
        conn.close().await.unwrap();
    }
}
