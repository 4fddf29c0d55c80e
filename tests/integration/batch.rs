//! Explicit batches: independent, atomic and BEGIN…COMMIT modes in one
//! flight, per-statement results, failures.

use edgepg::{Connection, ErrorKind, Isolation, SqlState};
use edgepg_tests::dsn_for;

async fn conn_with(extra: &str) -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), &format!("sslmode=disable&{extra}"))).await.unwrap()
}

async fn conn() -> Connection {
    conn_with("").await
}

async fn with_table(c: &Connection) {
    c.execute("CREATE TEMP TABLE t (id int8 PRIMARY KEY, name text)", &[]).await.unwrap();
}

async fn ids(c: &Connection) -> Vec<i64> {
    c.fetch("SELECT id FROM t ORDER BY id", &[]).await.unwrap().iter().map(|r| r.get(0).unwrap()).collect()
}

#[tokio::test]
async fn independent_statements_have_their_own_results() {
    for extra in ["", "statement_cache_size=0"] {
        let c = conn_with(extra).await;
        with_table(&c).await;
        c.execute("INSERT INTO t VALUES (2, 'two')", &[]).await.unwrap();
        let results = c
            .batch()
            .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"one"])
            .execute("INSERT INTO t VALUES ($1, $2)", &[&2i64, &"again"])
            .execute("INSERT INTO t VALUES ($1, $2)", &[&3i64, &"three"])
            .query("SELECT id, name FROM t WHERE id >= $1 ORDER BY id", &[&2i64])
            .query("SELECT 'x'::text AS a, 1.5::float8 AS b", &[])
            .run()
            .await
            .unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(results[0].as_ref().unwrap().status(), "INSERT 0 1");
        assert_eq!(results[0].as_ref().unwrap().rows_affected(), 1);
        assert_eq!(results[1].as_ref().unwrap_err().code(), Some(SqlState::UNIQUE_VIOLATION));
        assert!(results[2].is_ok());
        // Each statement's rows are decoded with its own columns.
        let rows = results[3].as_ref().unwrap().rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].get::<&str, _>("name").unwrap(), "three");
        let row = &results[4].as_ref().unwrap().rows()[0];
        assert_eq!(row.get::<&str, _>("a").unwrap(), "x");
        assert_eq!(row.get::<f64, _>("b").unwrap(), 1.5);
        assert_eq!(ids(&c).await, vec![1, 2, 3], "{extra}");
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn execute_drops_rows_query_keeps_them() {
    let c = conn().await;
    let results = c
        .batch()
        .execute("SELECT g FROM generate_series(1, 5) g", &[])
        .query("SELECT g FROM generate_series(1, 5) g", &[])
        .run()
        .await
        .unwrap();
    let a = results.into_iter().map(Result::unwrap).collect::<Vec<_>>();
    assert!(a[0].rows().is_empty());
    assert_eq!(a[0].status(), "SELECT 5");
    assert_eq!(a[1].rows().len(), 5);
    assert!(c.batch().is_empty());
    assert!(c.batch().run().await.unwrap().is_empty());
    c.close().await.unwrap();
}

#[tokio::test]
async fn transaction_batch_commits_everything() {
    let c = conn().await;
    with_table(&c).await;
    let results = c
        .batch()
        .transaction()
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .execute("INSERT INTO t VALUES ($1, $2)", &[&2i64, &"b"])
        .query("SELECT count(*) FROM t", &[])
        .run()
        .await
        .unwrap();
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2].rows()[0].get::<i64, _>(0).unwrap(), 2);
    assert!(!c.is_in_transaction());
    assert_eq!(ids(&c).await, vec![1, 2]);

    let results = c
        .batch()
        .isolation(Isolation::Serializable)
        .readonly(true)
        .query("SHOW transaction_isolation", &[])
        .run()
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().rows()[0].get::<&str, _>(0).unwrap(), "serializable");
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_transaction_batch_lands_nothing_and_the_connection_goes_on() {
    for extra in ["", "statement_cache_size=0"] {
        let c = conn_with(extra).await;
        with_table(&c).await;
        c.execute("INSERT INTO t VALUES (2, 'existing')", &[]).await.unwrap();
        // BEGIN; INSERT 1; INSERT 2 (duplicate); INSERT 3; COMMIT — one flight.
        let results = c
            .batch()
            .transaction()
            .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
            .execute("INSERT INTO t VALUES ($1, $2)", &[&2i64, &"b"])
            .execute("INSERT INTO t VALUES ($1, $2)", &[&3i64, &"c"])
            .run()
            .await
            .unwrap();
        let errors: Vec<_> = results.iter().map(|r| r.as_ref().unwrap_err()).collect();
        assert!(errors[0].message().contains("rolled back"), "{}", errors[0]);
        assert_eq!(errors[1].code(), Some(SqlState::UNIQUE_VIOLATION));
        assert!(!errors[1].message().contains("rolled back"));
        assert!(errors[2].message().contains("not run"), "{}", errors[2]);
        // Nothing landed, the transaction is gone and the connection works.
        assert!(!c.is_in_transaction() || c.fetchval::<i32>("SELECT 1", &[]).await.is_ok());
        assert_eq!(ids(&c).await, vec![2], "{extra}");
        assert!(!c.is_in_transaction());
        let tx = c.transaction().start().await.unwrap();
        tx.commit().await.unwrap();
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_failed_commit_fails_every_statement() {
    let c = conn().await;
    c.execute("CREATE TEMP TABLE d (id int8 UNIQUE DEFERRABLE INITIALLY DEFERRED)", &[]).await.unwrap();
    let results = c
        .batch()
        .transaction()
        .execute("INSERT INTO d VALUES ($1)", &[&1i64])
        .execute("INSERT INTO d VALUES ($1)", &[&1i64])
        .run()
        .await
        .unwrap();
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.code(), Some(SqlState::UNIQUE_VIOLATION));
        assert!(e.message().contains("COMMIT"), "{e}");
    }
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM d", &[]).await.unwrap(), 0);
    assert!(!c.is_in_transaction());
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_atomic_batch_is_all_or_nothing() {
    let c = conn().await;
    with_table(&c).await;
    let results = c
        .batch()
        .atomic()
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .execute("SELECT 1/0", &[])
        .run()
        .await
        .unwrap();
    assert!(results[0].as_ref().unwrap_err().message().contains("rolled back"));
    assert_eq!(results[1].as_ref().unwrap_err().code(), Some(SqlState::DIVISION_BY_ZERO));
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    assert!(!c.is_in_transaction());

    let results = c
        .batch()
        .atomic()
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .execute("INSERT INTO t VALUES ($1, $2)", &[&2i64, &"b"])
        .run()
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(ids(&c).await, vec![1, 2]);

    // Inside an open transaction, an atomic batch runs in it.
    let tx = c.transaction().start().await.unwrap();
    let results = tx.batch().atomic().execute("DELETE FROM t WHERE id = $1", &[&1i64]).run().await.unwrap();
    assert_eq!(results[0].as_ref().unwrap().rows_affected(), 1);
    tx.rollback().await.unwrap();
    assert_eq!(ids(&c).await, vec![1, 2]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn batches_that_cannot_run_send_nothing() {
    let c = conn().await;
    with_table(&c).await;
    // Wrong number of arguments: caught before anything is sent.
    let e = c
        .batch()
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .execute("INSERT INTO t VALUES ($1, $2)", &[&2i64])
        .run()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    assert!(e.message().contains("#1"), "{e}");
    // A statement that does not parse.
    let e = c
        .batch()
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .execute("INSERT INTO nope VALUES (1)", &[])
        .run()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(SqlState::UNDEFINED_TABLE));
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    // A transaction batch inside a transaction would end it: refused.
    let tx = c.transaction().start().await.unwrap();
    let e = tx.batch().transaction().execute("SELECT 1", &[]).run().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    assert!(c.is_in_transaction());
    tx.rollback().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_dropped_transaction_batch_future_leaves_no_transaction() {
    use futures_util::FutureExt;
    let c = conn().await;
    with_table(&c).await;
    let insert = "INSERT INTO t VALUES ($1, $2)";
    c.execute(insert, &[&1i64, &"a"]).await.unwrap(); // now cached
                                                      // The statement is cached and the connection idle, so the first poll
                                                      // queues the whole flight; the batch fails on the server (duplicate key),
                                                      // which leaves its transaction aborted unless the dropped future rolls it back.
    let fut = c.batch().transaction().execute(insert, &[&1i64, &"a"]).run();
    assert!(fut.now_or_never().is_none(), "the answer cannot be there yet");
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    assert!(!c.is_in_transaction());
    assert_eq!(ids(&c).await, vec![1]);
    c.close().await.unwrap();
}
