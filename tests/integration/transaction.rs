//! Transactions: BEGIN with options, COMMIT/ROLLBACK, savepoints, the
//! rollback of a transaction dropped without an ending, and misuse.

use std::sync::Arc;

use edgepg::{Connection, ErrorKind, Isolation, SqlState, TransactionStatus};
use edgepg_tests::dsn_for;

async fn conn() -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap()
}

async fn with_table(c: &Connection) {
    c.execute("CREATE TEMP TABLE t (id int8 PRIMARY KEY)", &[]).await.unwrap();
}

async fn ids(c: &Connection) -> Vec<i64> {
    c.fetch("SELECT id FROM t ORDER BY id", &[]).await.unwrap().iter().map(|r| r.get(0).unwrap()).collect()
}

#[tokio::test]
async fn commit_keeps_and_rollback_discards() {
    let c = conn().await;
    with_table(&c).await;
    assert!(!c.is_in_transaction());

    let tx = c.transaction().start().await.unwrap();
    assert!(c.is_in_transaction());
    assert!(!tx.is_savepoint());
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!c.is_in_transaction());

    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&2i64]).await.unwrap();
    assert_eq!(ids(&tx).await, vec![1, 2]);
    tx.rollback().await.unwrap();
    assert_eq!(ids(&c).await, vec![1]);
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    c.close().await.unwrap();
}

#[tokio::test]
async fn options_reach_the_server() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().isolation(Isolation::Serializable).readonly(true).deferrable(true).start().await.unwrap();
    assert_eq!(tx.isolation(), Some(Isolation::Serializable));
    let iso: String = tx.fetchval("SHOW transaction_isolation", &[]).await.unwrap();
    assert_eq!(iso, "serializable");
    let ro: String = tx.fetchval("SHOW transaction_read_only", &[]).await.unwrap();
    assert_eq!(ro, "on");
    let deferrable: String = tx.fetchval("SHOW transaction_deferrable", &[]).await.unwrap();
    assert_eq!(deferrable, "on");
    // (Temp tables stay writable in a read-only transaction: create a real one.)
    let e = tx.execute("CREATE TABLE edgepg_ro_check (id int)", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::READ_ONLY_SQL_TRANSACTION));
    tx.rollback().await.unwrap();

    for (level, name) in [
        (Isolation::ReadCommitted, "read committed"),
        (Isolation::RepeatableRead, "repeatable read"),
        (Isolation::ReadUncommitted, "read uncommitted"),
    ] {
        let tx = c.transaction().isolation(level).readonly(false).start().await.unwrap();
        let iso: String = tx.fetchval("SHOW transaction_isolation", &[]).await.unwrap();
        assert_eq!(iso, name);
        tx.execute("INSERT INTO t VALUES ($1)", &[&(level as i64)]).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(ids(&c).await.len(), 3);
    c.close().await.unwrap();
}

#[tokio::test]
async fn savepoint_rollback_keeps_the_outer_transactions_work() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    {
        let sp = tx.transaction().start().await.unwrap();
        assert!(sp.is_savepoint());
        assert!(sp.savepoint_name().unwrap().starts_with("edgepg_sp"));
        sp.execute("INSERT INTO t VALUES ($1)", &[&2i64]).await.unwrap();
        assert_eq!(ids(&sp).await, vec![1, 2]);
        sp.rollback().await.unwrap();
    }
    assert_eq!(ids(&tx).await, vec![1]);
    {
        // A savepoint that fails is rolled back; the outer transaction is usable again.
        let sp = tx.transaction().start().await.unwrap();
        let e = sp.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap_err();
        assert_eq!(e.code(), Some(SqlState::UNIQUE_VIOLATION));
        assert_eq!(c.transaction_status(), TransactionStatus::Failed);
        sp.rollback().await.unwrap();
        assert_eq!(c.transaction_status(), TransactionStatus::InTransaction);
    }
    {
        // Committed (released) savepoints, two levels deep, keep their work.
        let sp = tx.transaction().start().await.unwrap();
        sp.execute("INSERT INTO t VALUES ($1)", &[&3i64]).await.unwrap();
        let sp2 = sp.transaction().start().await.unwrap();
        sp2.execute("INSERT INTO t VALUES ($1)", &[&4i64]).await.unwrap();
        sp2.commit().await.unwrap();
        sp.commit().await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(ids(&c).await, vec![1, 3, 4]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_dropped_transaction_is_rolled_back() {
    let c = conn().await;
    with_table(&c).await;
    {
        let tx = c.transaction().start().await.unwrap();
        tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
        // dropped here, without commit or rollback
    }
    // The ROLLBACK runs before this request, and a new transaction can start
    // at once even though the last status seen was "in transaction".
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    assert!(!c.is_in_transaction());
    {
        let tx = c.transaction().start().await.unwrap();
        tx.execute("INSERT INTO t VALUES ($1)", &[&2i64]).await.unwrap();
    }
    let tx = c.transaction().start().await.unwrap();
    assert_eq!(ids(&tx).await, Vec::<i64>::new());
    tx.execute("INSERT INTO t VALUES ($1)", &[&3i64]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&c).await, vec![3]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_dropped_savepoint_is_rolled_back_and_the_outer_goes_on() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    {
        let sp = tx.transaction().start().await.unwrap();
        sp.execute("INSERT INTO t VALUES ($1)", &[&2i64]).await.unwrap();
        let _ = sp.execute("SELECT 1/0", &[]).await.unwrap_err();
    }
    tx.execute("INSERT INTO t VALUES ($1)", &[&3i64]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&c).await, vec![1, 3]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_commit_future_dropped_unpolled_rolls_back() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    let commit = tx.commit();
    drop(commit);
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    assert!(!c.is_in_transaction());
    c.close().await.unwrap();
}

#[tokio::test]
async fn after_an_error_the_connection_is_usable_once_rolled_back() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    let e = tx.execute("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::DIVISION_BY_ZERO));
    assert!(c.is_in_transaction());
    let e = tx.fetchval::<i32>("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::IN_FAILED_SQL_TRANSACTION));
    tx.rollback().await.unwrap();
    assert_eq!(c.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    c.close().await.unwrap();
}

#[tokio::test]
async fn commit_of_a_failed_transaction_is_an_error_not_a_silent_rollback() {
    let c = conn().await;
    with_table(&c).await;
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await.unwrap();
    let _ = tx.execute("SELECT 1/0", &[]).await.unwrap_err();
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.code(), Some(SqlState::IN_FAILED_SQL_TRANSACTION), "{e}");
    assert!(!c.is_in_transaction());
    assert_eq!(ids(&c).await, Vec::<i64>::new());
    c.close().await.unwrap();
}

#[tokio::test]
async fn misuse_is_an_interface_error() {
    let c = conn().await;
    // A transaction begun with raw SQL.
    c.execute("BEGIN", &[]).await.unwrap();
    let e = c.transaction().start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
    // ... which is left alone.
    assert!(c.is_in_transaction());
    c.execute("ROLLBACK", &[]).await.unwrap();

    // Two top-level transactions at once on one connection.
    let tx = c.transaction().start().await.unwrap();
    let e = c.transaction().start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    assert!(c.is_in_transaction());

    // A savepoint cannot change the isolation level.
    let e = tx.transaction().isolation(Isolation::Serializable).start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface);
    tx.commit().await.unwrap();

    let tx = c.transaction().isolation(Isolation::RepeatableRead).start().await.unwrap();
    let sp = tx.transaction().isolation(Isolation::RepeatableRead).start().await.unwrap();
    sp.commit().await.unwrap();
    tx.commit().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn transactions_run_on_spawned_tasks() {
    let c = Arc::new(conn().await);
    with_table(&c).await;
    let c2 = c.clone();
    tokio::spawn(async move {
        let tx = c2.transaction().start().await?;
        tx.execute("INSERT INTO t VALUES ($1)", &[&7i64]).await?;
        {
            let sp = tx.transaction().start().await?;
            sp.execute("INSERT INTO t VALUES ($1)", &[&8i64]).await?;
        }
        tx.commit().await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ids(&c).await, vec![7]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn owned_transactions_outlive_the_borrow_and_roll_back_when_dropped() {
    let c = conn().await;
    with_table(&c).await;
    // 'static: can be moved into a spawned task without the connection.
    let tx: edgepg::Transaction<'static> = c.transaction().start_owned().await.unwrap();
    tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    let sp = tx.transaction().start_owned().await.unwrap();
    assert!(sp.is_savepoint());
    let task = tokio::spawn(async move {
        sp.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
        sp.rollback().await.unwrap();
        tx.commit().await.unwrap();
    });
    task.await.unwrap();
    assert_eq!(ids(&c).await, vec![1]);

    let tx = c.transaction().start_owned().await.unwrap();
    tx.execute("INSERT INTO t VALUES (3)", &[]).await.unwrap();
    drop(tx);
    assert_eq!(ids(&c).await, vec![1], "a dropped owned transaction is rolled back");
    assert!(!c.is_in_transaction());
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_savepoint_that_outlives_its_transaction_ends_with_it() {
    let c = conn().await;
    with_table(&c).await;
    let outer = c.transaction().start_owned().await.unwrap();
    let nested = outer.transaction().start_owned().await.unwrap();
    let deeper = nested.transaction().start_owned().await.unwrap();
    let spare = outer.transaction().start_owned().await.unwrap();
    outer.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    outer.commit().await.unwrap();

    // A newer transaction on the same connection.
    let tx = c.transaction().start().await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    // The leftovers send nothing: no failing ROLLBACK TO SAVEPOINT aborts `tx`.
    drop(nested);
    let e = deeper.transaction().start().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
    assert!(e.message().contains("the enclosing transaction has ended"), "{e}");
    let e = deeper.commit().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
    assert_eq!(spare.rollback().await.unwrap_err().kind(), ErrorKind::Interface);
    tx.execute("INSERT INTO t VALUES (3)", &[]).await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::InTransaction);
    tx.commit().await.unwrap();
    assert_eq!(ids(&c).await, vec![1, 2, 3]);

    // Dropping (not ending) the outer one ends its savepoints too.
    let outer = c.transaction().start_owned().await.unwrap();
    let nested = outer.transaction().start_owned().await.unwrap();
    drop(outer);
    let tx = c.transaction().start().await.unwrap();
    drop(nested);
    tx.execute("INSERT INTO t VALUES (4)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&c).await, vec![1, 2, 3, 4]);
    c.close().await.unwrap();
}
