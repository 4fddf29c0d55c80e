//! Queries: simple and extended protocol, scripts, rows, prepared statements,
//! the statement cache, pipelining, notices, connection state.

use std::sync::{Arc, Mutex};

use edgepg::{Connection, ErrorKind, SqlState, TransactionStatus};
use edgepg_tests::dsn_for;
use futures_util::future::join_all;

async fn conn() -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap()
}

#[tokio::test]
async fn execute_script_returns_last_status() {
    let c = conn().await;
    let status = c
        .execute("CREATE TEMP TABLE s (id int); INSERT INTO s VALUES (1), (2); UPDATE s SET id = id + 1", &[])
        .await
        .unwrap();
    assert_eq!(status, "UPDATE 2");
    assert_eq!(c.execute("INSERT INTO s VALUES ($1)", &[&7i32]).await.unwrap(), "INSERT 0 1");
    assert_eq!(c.execute("", &[]).await.unwrap(), "");
    c.close().await.unwrap();
}

#[tokio::test]
async fn fetch_fetchrow_fetchval() {
    let c = conn().await;
    let rows = c.fetch("SELECT g AS n, g::text AS s FROM generate_series(1, $1::int) g", &[&3i32]).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].get::<i32, _>("n").unwrap(), 3);
    assert_eq!(rows[2].get::<&str, _>(1).unwrap(), "3");
    assert_eq!(rows[0].columns()[1].name(), "s");

    let row = c.fetchrow("SELECT 1 AS a, NULL::int AS b", &[]).await.unwrap().unwrap();
    assert_eq!(row.get::<Option<i32>, _>("b").unwrap(), None);
    assert_eq!(row.get::<i32, _>("b").unwrap_err().kind(), ErrorKind::Conversion);
    assert!(c.fetchrow("SELECT 1 WHERE false", &[]).await.unwrap().is_none());

    let n: i64 = c.fetchval("SELECT count(*) FROM generate_series(1, 10)", &[]).await.unwrap();
    assert_eq!(n, 10);
    let none: Option<i64> = c.fetchval("SELECT 1::int8 WHERE false", &[]).await.unwrap();
    assert_eq!(none, None);
    let err = c.fetchval::<i64>("SELECT 1::int8 WHERE false", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    c.close().await.unwrap();
}

#[tokio::test]
async fn fetch_batches_streams_rows_in_order() {
    let c = conn().await;
    let sql = "SELECT g AS n, repeat('x', g % 50) AS s FROM generate_series(1, 100000) g";
    let mut batches = 0;
    let mut got: Vec<(i32, String)> = Vec::new();
    c.fetch_batches(sql, &[], |rows| {
        batches += 1;
        for r in rows {
            got.push((r.get("n")?, r.get::<String, _>("s")?));
        }
        Ok(())
    })
    .await
    .unwrap();
    // ~1.5 MB of rows arrive over many reads: handed over as they came.
    assert!(batches > 1, "one batch only");
    let all = c.fetch(sql, &[]).await.unwrap();
    assert_eq!(got.len(), all.len());
    for (g, r) in got.iter().zip(&all) {
        assert_eq!(g.0, r.get::<i32, _>("n").unwrap());
        assert_eq!(g.1, r.get::<String, _>("s").unwrap());
    }
    // No rows: no batch.
    let mut called = false;
    c.fetch_batches("SELECT 1 WHERE false", &[], |_| {
        called = true;
        Ok(())
    })
    .await
    .unwrap();
    assert!(!called);
    c.close().await.unwrap();
}

#[tokio::test]
async fn fetch_batches_errors_mid_stream_and_from_the_callback() {
    let c = conn().await;
    // The server fails after sending rows: the call fails with its error.
    let mut seen = 0usize;
    let e = c
        .fetch_batches(
            "SELECT CASE WHEN g = 90000 THEN 1 / 0 ELSE g END FROM generate_series(1, 100000) g",
            &[],
            |rows| {
                seen += rows.len();
                Ok(())
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::DIVISION_BY_ZERO), "{e}");
    assert!(seen < 90000);
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    // The caller stops after its first batch: its error, and the rest of the
    // response is read and dropped.
    let e = c
        .fetch_batches("SELECT g FROM generate_series(1, 100000) g", &[], |_| {
            Err(edgepg::Error::new(ErrorKind::Interface, "enough"))
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM generate_series(1, 10)", &[]).await.unwrap(), 10);
    // A cached statement that went stale is prepared again, as with fetch.
    c.execute("CREATE TEMP TABLE fb (a int)", &[]).await.unwrap();
    c.execute("INSERT INTO fb VALUES (1)", &[]).await.unwrap();
    let mut n = 0;
    c.fetch_batches("SELECT * FROM fb", &[], |rows| {
        n += rows.len();
        Ok(())
    })
    .await
    .unwrap();
    c.execute("ALTER TABLE fb ADD COLUMN b text", &[]).await.unwrap();
    let mut cols = 0;
    c.fetch_batches("SELECT * FROM fb", &[], |rows| {
        cols = rows[0].len();
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!((n, cols), (1, 2));
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    c.close().await.unwrap();
}

#[tokio::test]
async fn wrong_row_access_is_a_typed_error() {
    let c = conn().await;
    let row = c.fetchrow("SELECT 1::int8 AS id", &[]).await.unwrap().unwrap();
    assert_eq!(row.get::<i64, _>("nope").unwrap_err().kind(), ErrorKind::Interface);
    assert_eq!(row.get::<i64, _>(5).unwrap_err().kind(), ErrorKind::Interface);
    let e = row.get::<i32, _>("id").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    assert!(e.message().contains("id"), "{e}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn executemany_is_pipelined_and_atomic() {
    let c = conn().await;
    c.execute("CREATE TEMP TABLE m (id int8 PRIMARY KEY, name text)", &[]).await.unwrap();
    c.executemany("INSERT INTO m VALUES ($1, $2)", (0..500i64).map(|i| (i, format!("n{i}")))).await.unwrap();
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM m", &[]).await.unwrap(), 500);
    // A duplicate in the middle: nothing of this batch lands.
    let err = c
        .executemany("INSERT INTO m VALUES ($1, $2)", [(1000i64, "a"), (1001, "b"), (5, "dup"), (1002, "c")])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNIQUE_VIOLATION));
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM m", &[]).await.unwrap(), 500);
    c.close().await.unwrap();
}

#[tokio::test]
async fn wrong_argument_count_is_an_interface_error() {
    let c = conn().await;
    let err = c.fetch("SELECT $1::int + $2::int", &[&1i32]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    let err = c.fetch("SELECT $1::int", &[&"text"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion);
    // The connection is still fine.
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    c.close().await.unwrap();
}

#[tokio::test]
async fn prepared_statement() {
    let c = conn().await;
    let stmt = c.prepare("SELECT $1::int8 * 2 AS doubled, $2::text AS t").await.unwrap();
    assert_eq!(stmt.parameters().len(), 2);
    assert_eq!(stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>(), ["doubled", "t"]);
    for i in 0..5i64 {
        let row = stmt.fetchrow(&[&i, &"x"]).await.unwrap().unwrap();
        assert_eq!(row.get::<i64, _>(0).unwrap(), i * 2);
    }
    assert_eq!(stmt.fetchval::<i64>(&[&21i64, &"y"]).await.unwrap(), 42);
    c.close().await.unwrap();
}

#[tokio::test]
async fn statement_cache_survives_schema_changes() {
    let c = conn().await;
    c.execute("CREATE TEMP TABLE sc (a int)", &[]).await.unwrap();
    c.execute("INSERT INTO sc VALUES (1)", &[]).await.unwrap();
    let q = "SELECT * FROM sc WHERE a > $1";
    assert_eq!(c.fetch(q, &[&0i32]).await.unwrap()[0].len(), 1);
    assert_eq!(c.statement_cache_len(), 1);
    c.execute("ALTER TABLE sc ADD COLUMN b text DEFAULT 'x'", &[]).await.unwrap();
    // The cached plan's result type changed: re-prepared transparently.
    let rows = c.fetch(q, &[&0i32]).await.unwrap();
    assert_eq!(rows[0].len(), 2);
    assert_eq!(rows[0].get::<&str, _>("b").unwrap(), "x");
    c.close().await.unwrap();
}

#[tokio::test]
async fn statement_cache_evicts_least_recently_used() {
    let c =
        edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable&statement_cache_size=3")).await.unwrap();
    for i in 0..10 {
        let v: i32 = c.fetchval(&format!("SELECT {i} + $1::int"), &[&1i32]).await.unwrap();
        assert_eq!(v, i + 1);
    }
    assert_eq!(c.statement_cache_len(), 3);
    let n: i64 = c.fetchval("SELECT count(*) FROM pg_prepared_statements", &[]).await.unwrap();
    // 3 cached plus the one just used for this count (cached too, evicting one).
    assert!(n <= 4, "statements leaked on the server: {n}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn no_statement_cache_uses_unnamed_statements() {
    let c =
        edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable&statement_cache_size=0")).await.unwrap();
    for i in 0..5i32 {
        assert_eq!(c.fetchval::<i32>("SELECT $1::int + 1", &[&i]).await.unwrap(), i + 1);
    }
    let futures = (0..20i32).map(|i| {
        let c = &c;
        async move { c.fetchval::<i32>("SELECT $1::int * 3", &[&i]).await.unwrap() }
    });
    assert_eq!(join_all(futures).await, (0..20).map(|i| i * 3).collect::<Vec<_>>());
    let n: i64 = c.fetchval("SELECT count(*) FROM pg_prepared_statements", &[]).await.unwrap();
    assert_eq!(n, 0);
    c.close().await.unwrap();
}

#[tokio::test]
async fn concurrent_queries_are_pipelined_in_order() {
    let c = conn().await;
    let futures = (0..200i64).map(|i| {
        let c = &c;
        async move { c.fetchval::<i64>("SELECT $1::int8 + 1", &[&i]).await.unwrap() }
    });
    let out = join_all(futures).await;
    assert_eq!(out, (1..=200).collect::<Vec<i64>>());
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_error_in_one_pipelined_query_does_not_affect_the_others() {
    let c = conn().await;
    let (a, b, d) = tokio::join!(
        c.fetchval::<i32>("SELECT 1", &[]),
        c.fetchval::<i32>("SELECT 1/0", &[]),
        c.fetchval::<i32>("SELECT 3", &[]),
    );
    assert_eq!(a.unwrap(), 1);
    assert_eq!(b.unwrap_err().code(), Some(SqlState::DIVISION_BY_ZERO));
    assert_eq!(d.unwrap(), 3);
    c.close().await.unwrap();
}

#[tokio::test]
async fn dropped_futures_leave_the_connection_in_step() {
    let c = Arc::new(conn().await);
    for i in 0..20 {
        let c2 = c.clone();
        let task =
            tokio::spawn(
                async move { c2.fetch("SELECT pg_sleep(0.05), g FROM generate_series(1, 1000) g", &[]).await },
            );
        if i % 2 == 0 {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
        // Whatever happened to the aborted query, this answer is ours.
        assert_eq!(c.fetchval::<i32>("SELECT $1::int", &[&i]).await.unwrap(), i);
    }
}

#[tokio::test]
async fn notices_reach_log_listeners() {
    let c = conn().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let listener = c.add_log_listener(move |n| s.lock().unwrap().push((n.severity.clone(), n.message.clone())));
    c.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$", &[]).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("NOTICE".to_owned(), "hello 42".to_owned()), ("WARNING".to_owned(), "careful".to_owned())]
    );
    c.remove_log_listener(&listener);
    c.execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$", &[]).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    c.close().await.unwrap();
}

#[tokio::test]
async fn connection_state() {
    let c = conn().await;
    assert!(c.get_server_pid() > 0);
    let pid: i32 = c.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_eq!(pid, c.get_server_pid());
    let v = c.get_server_version().unwrap();
    let num: String = c.fetchval("SHOW server_version_num", &[]).await.unwrap();
    assert_eq!(v.major, num.parse::<u32>().unwrap() / 10000);
    assert_eq!(c.get_settings().get("client_encoding").map(String::as_str), Some("UTF8"));
    assert!(!c.is_in_transaction());
    c.execute("BEGIN", &[]).await.unwrap();
    assert!(c.is_in_transaction());
    let _ = c.execute("SELECT 1/0", &[]).await;
    assert_eq!(c.transaction_status(), TransactionStatus::Failed);
    c.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    c.execute("SET application_name = 'edgepg-test'", &[]).await.unwrap();
    assert_eq!(c.get_setting("application_name").as_deref(), Some("edgepg-test"));
    assert!(!c.is_closed());
    c.close().await.unwrap();
    assert!(c.is_closed());
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap_err().kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn terminate_fails_in_flight_queries() {
    let c = Arc::new(conn().await);
    let c2 = c.clone();
    let slow = tokio::spawn(async move { c2.fetch("SELECT pg_sleep(5)", &[]).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    c.terminate();
    let err = slow.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(c.is_closed());
}

#[tokio::test]
async fn application_name_and_server_settings_from_the_dsn() {
    let c = edgepg::connect(&dsn_for(
        "edgepg",
        Some("edgepg_pw"),
        "sslmode=disable&application_name=edgepg%20app&options=-c%20search_path%3Dpg_catalog",
    ))
    .await
    .unwrap();
    assert_eq!(c.fetchval::<String>("SELECT current_setting('application_name')", &[]).await.unwrap(), "edgepg app");
    assert_eq!(c.fetchval::<String>("SHOW search_path", &[]).await.unwrap(), "pg_catalog");
    c.close().await.unwrap();
}

#[tokio::test]
async fn prepared_statement_explain() {
    let c = conn().await;
    c.execute("CREATE TEMP TABLE ex (id int PRIMARY KEY)", &[]).await.unwrap();
    let stmt = c.prepare("INSERT INTO ex VALUES ($1) RETURNING id").await.unwrap();
    let plan = stmt.explain(&[&1i32], false).await.unwrap();
    assert!(plan.0.contains("\"Node Type\""), "{}", plan.0);
    assert!(!plan.0.contains("Actual Rows"));
    // ANALYZE runs the insert, and rolls it back.
    let plan = stmt.explain(&[&1i32], true).await.unwrap();
    assert!(plan.0.contains("Actual Rows"), "{}", plan.0);
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM ex", &[]).await.unwrap(), 0);
    assert!(!c.is_in_transaction());
    // Inside a transaction: a savepoint, the outer work stays.
    c.execute("BEGIN; INSERT INTO ex VALUES (7)", &[]).await.unwrap();
    stmt.explain(&[&2i32], true).await.unwrap();
    assert!(c.is_in_transaction());
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM ex", &[]).await.unwrap(), 1);
    c.execute("COMMIT", &[]).await.unwrap();
    c.close().await.unwrap();
}
