//! `query_results`: every statement's result with its command tag and
//! columns (what node-postgres-shaped APIs need), scripts through the simple
//! protocol, single statements in one round trip, chosen columns in text.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepg::{Connection, TextColumns};

const TEXT: i16 = 0;
const BINARY: i16 = 1;
use edgepg_tests::dsn_for;

async fn conn_with(extra: &str) -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), &format!("sslmode=disable&{extra}"))).await.unwrap()
}

fn tags(results: &[edgepg::StatementResult]) -> Vec<Option<&str>> {
    results.iter().map(|r| r.tag.as_deref()).collect()
}

#[tokio::test]
async fn a_script_gives_one_result_per_statement_with_its_tag() {
    let c = conn_with("").await;
    let results = c
        .query_results(
            "CREATE TEMP TABLE rs (a int); INSERT INTO rs VALUES (1), (2); SELECT a FROM rs ORDER BY a; UPDATE rs SET a = 0",
            &[],
            true,
            TextColumns::Default,
        )
        .await
        .unwrap();
    assert_eq!(tags(&results), [Some("CREATE TABLE"), Some("INSERT 0 2"), Some("SELECT 2"), Some("UPDATE 2")]);
    assert!(results[0].columns.is_empty());
    assert_eq!(results[2].columns[0].name(), "a");
    let a: Vec<i32> = results[2].rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(a, [1, 2]);
    // An empty query: one result without a tag.
    let empty = c.query_results("", &[], true, TextColumns::Default).await.unwrap();
    assert_eq!(tags(&empty), [None]);
}

#[tokio::test]
async fn a_single_statement_takes_one_flight_then_the_cache_with_binary_results() {
    for extra in ["", "statement_cache_size=0"] {
        let c = conn_with(extra).await;
        let sql = "SELECT 7::int8 AS n, 'x'::text AS s";
        let first = c.query_results(sql, &[], true, TextColumns::Default).await.unwrap();
        let second = c.query_results(sql, &[], true, TextColumns::Default).await.unwrap();
        assert_eq!(first[0].columns[0].format().code(), TEXT, "{extra}: a miss runs as one flight, text results");
        let cached = extra.is_empty();
        assert_eq!(second[0].columns[0].format().code() == BINARY, cached, "{extra}");
        for r in [&first[0], &second[0]] {
            assert_eq!(r.tag.as_deref(), Some("SELECT 1"));
            assert_eq!(r.rows[0].get::<i64, _>(0).unwrap(), 7);
            assert_eq!(r.rows[0].get::<String, _>(1).unwrap(), "x");
        }
        // With arguments: the extended protocol, one statement, its tag.
        let with_args =
            c.query_results("SELECT $1::int4 + 1 AS n", &[&41i32], false, TextColumns::Default).await.unwrap();
        assert_eq!(with_args[0].rows[0].get::<i32, _>(0).unwrap(), 42);
        assert_eq!(tags(&with_args), [Some("SELECT 1")]);
    }
}

#[tokio::test]
async fn chosen_columns_come_in_text_format() {
    let c = conn_with("").await;
    let sql = "SELECT $1::int4 AS i, '2024-01-02 03:04:05.123456+00'::timestamptz AS t";
    let oids = [1184u32];
    // Prepared first, so the cached statement's binary formats are overridden.
    c.query_results(sql, &[&1i32], false, TextColumns::Default).await.unwrap();
    let r = c.query_results(sql, &[&1i32], false, TextColumns::Types(&oids)).await.unwrap();
    assert_eq!(r[0].columns[0].format().code(), BINARY);
    assert_eq!(r[0].columns[1].format().code(), TEXT);
    let t = r[0].rows[0].raw(&1usize).unwrap().unwrap();
    assert!(std::str::from_utf8(t).unwrap().starts_with("2024-01-02 03:04:05.123456"));
    let all = c.query_results(sql, &[&1i32], false, TextColumns::All).await.unwrap();
    assert_eq!(all[0].rows[0].raw(&0usize).unwrap().unwrap(), b"1");
    let pick = |col: &edgepg::Column| col.name() == "i";
    let picked = c.query_results(sql, &[&1i32], false, TextColumns::Pick(&pick)).await.unwrap();
    assert_eq!(picked[0].columns[0].format().code(), TEXT);
    assert_eq!(picked[0].columns[1].format().code(), BINARY);
    // Column descriptions carry the table, attribute number, type size and modifier.
    c.execute("CREATE TEMP TABLE rd (id int4, v varchar(10))", &[]).await.unwrap();
    let d = c.query_results("SELECT id, v FROM rd WHERE id = $1", &[&1i32], false, TextColumns::Default).await.unwrap();
    let cols = &d[0].columns;
    assert!(cols[0].table_oid().is_some());
    assert_eq!(cols[1].column_id(), Some(2));
    assert_eq!(cols[0].type_size(), 4);
    assert_eq!(cols[1].type_modifier(), 14);
}

#[tokio::test]
async fn errors_leave_the_connection_usable() {
    let c = conn_with("").await;
    let e = c.query_results("SELECT 1; SELECT 1/0", &[], true, TextColumns::Default).await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code.code(), "22012");
    let e = c.query_results("SELECT 1/0", &[], true, TextColumns::Default).await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code.code(), "22012");
    assert_eq!(c.query_results("SELECT 1", &[], true, TextColumns::Default).await.unwrap()[0].rows.len(), 1);
}

#[tokio::test]
async fn a_notification_observer_sees_every_channel_the_session_listens_to() {
    let c = conn_with("").await;
    let other = conn_with("").await;
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = seen.clone();
    let observer =
        c.add_notification_observer(move |n| sink.lock().unwrap().push((n.channel.clone(), n.payload.clone())));
    c.execute("LISTEN obs_a", &[]).await.unwrap();
    c.execute("LISTEN obs_b", &[]).await.unwrap();
    other.execute("NOTIFY obs_a, 'one'", &[]).await.unwrap();
    other.execute("NOTIFY obs_b, 'two'", &[]).await.unwrap();
    for _ in 0..50 {
        if seen.lock().unwrap().len() == 2 {
            break;
        }
        c.execute("SELECT 1", &[]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*seen.lock().unwrap(), [("obs_a".to_owned(), "one".to_owned()), ("obs_b".to_owned(), "two".to_owned())]);
    c.remove_notification_observer(&observer);
    other.execute("NOTIFY obs_a, 'three'", &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2, "removed: nothing more");
}

#[tokio::test]
async fn settled_transaction_status_sees_a_begin_still_in_flight() {
    let c = conn_with("").await;
    // Both futures polled together: BEGIN is queued first, unanswered when
    // the status is asked for.
    let (begun, status) = futures_util::join!(c.execute("BEGIN", &[]), c.settled_transaction_status());
    begun.unwrap();
    assert_eq!(status.unwrap(), edgepg::TransactionStatus::InTransaction);
    c.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(c.settled_transaction_status().await.unwrap(), edgepg::TransactionStatus::Idle);
}

#[tokio::test]
async fn query_results_streamed_hands_rows_over_as_they_arrive_with_the_tag_at_the_end() {
    let c = conn_with("").await;
    let sql = "SELECT g AS n, repeat('x', g % 50) AS s FROM generate_series(1, 100000) g";
    let collected = c.query_results(sql, &[], true, TextColumns::Default).await.unwrap(); // caches it
    for (params, script) in [(vec![], true), (vec![0i32], false)] {
        let sql = if script { sql.to_owned() } else { format!("SELECT * FROM ({sql}) AS x WHERE n > $1") };
        let args: Vec<&(dyn edgepg::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        if !script {
            c.query_results(&sql, &args, false, TextColumns::Default).await.unwrap();
        }
        let mut batches = 0;
        let mut got: Vec<(i32, String)> = Vec::new();
        let end = c
            .query_results_streamed(&sql, &args, script, |rows| {
                batches += 1;
                for r in rows {
                    got.push((r.get("n")?, r.get::<String, _>("s")?));
                }
                Ok(())
            })
            .await
            .unwrap();
        // One result: its tag and columns, then the rows that came with the
        // end of the response (after every batch).
        assert_eq!(tags(&end), [Some("SELECT 100000")]);
        assert_eq!(end[0].columns.iter().map(|c| c.name()).collect::<Vec<_>>(), ["n", "s"]);
        assert_eq!(end[0].columns[0].format().code(), BINARY);
        assert!(batches > 1, "streamed in several batches");
        for r in &end[0].rows {
            got.push((r.get("n").unwrap(), r.get::<String, _>("s").unwrap()));
        }
        assert_eq!(got.len(), collected[0].rows.len());
        for (g, r) in got.iter().zip(&collected[0].rows) {
            assert_eq!(g.0, r.get::<i32, _>("n").unwrap());
            assert_eq!(g.1, r.get::<String, _>("s").unwrap());
        }
    }
    // A small result comes whole with the end; a command has its tag only.
    let mut called = false;
    let mut on_rows = |_| {
        called = true;
        Ok(())
    };
    let one = c.query_results_streamed("SELECT $1::int4 AS a", &[&5i32], false, &mut on_rows).await.unwrap();
    assert_eq!((one[0].rows.len(), one[0].tag.as_deref()), (1, Some("SELECT 1")));
    c.query_results("CREATE TEMP TABLE qs (a int)", &[], true, TextColumns::Default).await.unwrap();
    let ins =
        c.query_results_streamed("INSERT INTO qs VALUES ($1), ($1)", &[&1i32], false, &mut on_rows).await.unwrap();
    assert_eq!((ins[0].rows.len(), ins[0].tag.as_deref()), (0, Some("INSERT 0 2")));
    // A script, or a statement without arguments not cached yet: collected as query_results.
    let script = c.query_results_streamed("SELECT 1 AS a; SELECT 2 AS b", &[], true, &mut on_rows).await.unwrap();
    assert_eq!(tags(&script), [Some("SELECT 1"), Some("SELECT 1")]);
    let fresh =
        c.query_results_streamed("SELECT 3 AS c FROM generate_series(1, 3)", &[], true, &mut on_rows).await.unwrap();
    assert_eq!((fresh[0].rows.len(), fresh[0].columns[0].format().code()), (3, TEXT));
    assert!(!called);
    // An error from the callback fails the call; the connection stays usable.
    let e = c.query_results_streamed(sql, &[], true, |_| Err(edgepg::Error::interface("stop"))).await.unwrap_err();
    assert!(e.to_string().contains("stop"), "{e}");
    assert_eq!(c.query_results("SELECT 1", &[], true, TextColumns::Default).await.unwrap()[0].rows.len(), 1);
}
