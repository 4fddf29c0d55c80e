//! Server-side cursors: row streams with prefetch, cursor objects with
//! fetch/fetchrow/forward, portals closed on drop, misuse.

use edgepg::{Connection, ErrorKind};
use edgepg_tests::dsn_for;
use futures_util::{StreamExt, TryStreamExt};

async fn conn_with(extra: &str) -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), &format!("sslmode=disable&{extra}"))).await.unwrap()
}

async fn conn() -> Connection {
    conn_with("").await
}

async fn open_portals(c: &Connection) -> i64 {
    c.fetchval("SELECT count(*) FROM pg_cursors WHERE name LIKE 'edgepg_p%'", &[]).await.unwrap()
}

#[tokio::test]
async fn stream_yields_every_row_in_order() {
    for extra in ["", "statement_cache_size=0"] {
        let c = conn_with(extra).await;
        let tx = c.transaction().start().await.unwrap();
        for prefetch in [1u32, 7, 50, 1000] {
            let rows: Vec<i32> = tx
                .cursor("SELECT g FROM generate_series(1, $1::int) g", &[&100i32])
                .prefetch(prefetch)
                .map_ok(|r| r.get::<i32, _>(0).unwrap())
                .try_collect()
                .await
                .unwrap();
            assert_eq!(rows, (1..=100).collect::<Vec<_>>(), "prefetch {prefetch}, {extra}");
        }
        // Default prefetch, an empty result, and text columns.
        let rows: Vec<_> =
            tx.cursor("SELECT 'x'::text, g FROM generate_series(1, 120) g", &[]).try_collect().await.unwrap();
        assert_eq!(rows.len(), 120);
        assert_eq!(rows[119].get::<&str, _>(0).unwrap(), "x");
        let none: Vec<_> = tx.cursor("SELECT 1 WHERE false", &[]).try_collect().await.unwrap();
        assert!(none.is_empty());
        assert_eq!(open_portals(&tx).await, 0, "exhausted portals are closed");
        tx.commit().await.unwrap();
        c.close().await.unwrap();
    }
}

#[tokio::test]
async fn dropping_a_stream_midway_closes_its_portal() {
    let c = conn().await;
    let tx = c.transaction().start().await.unwrap();
    let mut s = tx.cursor("SELECT g FROM generate_series(1, 1000) g", &[]).prefetch(10);
    for want in 1..=15 {
        let row = s.next().await.unwrap().unwrap();
        assert_eq!(row.get::<i32, _>(0).unwrap(), want);
    }
    assert_eq!(open_portals(&tx).await, 1);
    drop(s);
    assert_eq!(open_portals(&tx).await, 0);
    // The connection is in step and the transaction fine.
    assert_eq!(tx.fetchval::<i32>("SELECT 42", &[]).await.unwrap(), 42);
    tx.commit().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn cursor_object_fetch_fetchrow_forward() {
    let c = conn().await;
    let tx = c.transaction().start().await.unwrap();
    let cur = tx.cursor("SELECT g FROM generate_series(1, $1::int) g", &[&30i32]).open().await.unwrap();
    assert_eq!(cur.columns().len(), 1);
    assert!(cur.name().starts_with("edgepg_p"));
    assert_eq!(cur.forward(10).await.unwrap(), 10);
    let rows = cur.fetch(5).await.unwrap();
    let got: Vec<i32> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(got, vec![11, 12, 13, 14, 15]);
    let row = cur.fetchrow().await.unwrap().unwrap();
    assert_eq!(row.get::<i32, _>(0).unwrap(), 16);
    assert_eq!(cur.forward(10).await.unwrap(), 10);
    // Past the end: fewer rows, then none.
    assert_eq!(cur.fetch(100).await.unwrap().len(), 4);
    assert!(cur.fetch(10).await.unwrap().is_empty());
    assert!(cur.fetchrow().await.unwrap().is_none());
    assert_eq!(cur.forward(5).await.unwrap(), 0);
    assert_eq!(cur.fetch(0).await.unwrap_err().kind(), ErrorKind::Interface);
    assert_eq!(open_portals(&tx).await, 1);
    drop(cur);
    assert_eq!(open_portals(&tx).await, 0);
    tx.commit().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn cursors_outside_a_transaction_are_interface_errors() {
    let c = conn().await;
    let mut s = c.cursor("SELECT 1", &[]);
    let e = s.next().await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
    assert!(e.message().contains("transaction"), "{e}");
    assert!(s.next().await.is_none());
    let e = c.cursor("SELECT 1", &[]).open().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    c.close().await.unwrap();
}

#[tokio::test]
async fn cursor_misuse_and_server_errors() {
    let c = conn().await;
    let tx = c.transaction().start().await.unwrap();
    let e = tx.cursor("SELECT 1", &[]).prefetch(0).next().await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    let e = tx.cursor("SELECT 1", &[]).prefetch(5).open().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    let e = tx.cursor("SELECT $1::int", &[]).open().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "wrong argument count: {e}");
    // A server error mid-stream ends the stream with that error.
    let mut s = tx.cursor("SELECT 10 / (5 - g) FROM generate_series(1, 10) g", &[]).prefetch(2);
    let mut ok = 0;
    let err = loop {
        match s.next().await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(ok, 4);
    assert_eq!(err.code(), Some(edgepg::SqlState::DIVISION_BY_ZERO));
    assert!(s.next().await.is_none());
    drop(s);
    tx.rollback().await.unwrap();
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_cursor_stream_runs_on_a_spawned_task() {
    let c = std::sync::Arc::new(conn().await);
    let c2 = c.clone();
    let sum = tokio::spawn(async move {
        let tx = c2.transaction().start().await?;
        let sum = tx
            .cursor("SELECT g::int8 FROM generate_series(1, 100) g", &[])
            .prefetch(9)
            .try_fold(0i64, |acc, r| async move { Ok(acc + r.get::<i64, _>(0)?) })
            .await?;
        tx.commit().await?;
        Ok::<_, edgepg::Error>(sum)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(sum, 5050);
    c.close().await.unwrap();
}

#[tokio::test]
async fn cursor_over_an_empty_query_ends() {
    let c = edgepg::connect(&edgepg_tests::dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap();
    let tx = c.transaction().start().await.unwrap();
    for sql in ["", "-- only a comment"] {
        let rows: Vec<_> = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            futures_util::StreamExt::collect::<Vec<_>>(tx.cursor(sql, &[])),
        )
        .await
        .expect("an empty query must end the cursor, not loop");
        assert!(rows.iter().all(|r| r.is_ok()), "{sql:?}");
        assert!(rows.is_empty(), "{sql:?}");
    }
    tx.rollback().await.unwrap();
    c.close().await.unwrap();
}
