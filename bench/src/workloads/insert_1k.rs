//! `insert_1k` and `insert_1k_batch`: a pipelined, all-or-nothing batch of
//! 1,000 `INSERT`s of `(int8, text)` on one connection, each client's own
//! table (it grows by 1,000 rows a repetition; no index, so that costs the
//! same every time). The rows are built once, untimed, for every client.
//!
//! Two rows because edgepg has two ways: `executemany` (one statement, many
//! parameter sets, one Sync) and an explicit `batch()` in a transaction
//! (any statements, one flight); the other clients do the same in both.

use futures::future::try_join_all;

use crate::asyncpg;
use crate::clients;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES};

const ROWS: u64 = 1_000;

/// edgepg's `executemany`.
pub fn executemany() -> Workload {
    Workload {
        name: "insert_1k",
        description: concat!(
            "1,000 `INSERT INTO t (id, name) VALUES ($1, $2)` as one pipelined atomic batch on one \
             connection. edgepg: `conn.executemany(sql, rows.iter())` (Bind/Execute per row, one Sync); ",
            "tokio-postgres: `client.transaction()`, then 1,000 `tx.execute(&prepared, &[&id, &name])` \
             futures pipelined with `try_join_all`, then `commit()`; asyncpg: \
             `await conn.executemany(sql, rows)` (pipelined, one Sync: atomic)."
        ),
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx, Mode::ExecuteMany)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPg::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "insert_1k") },
        ],
        cap: None,
    }
}

/// edgepg's explicit `batch()`.
pub fn batch() -> Workload {
    Workload {
        name: "insert_1k_batch",
        description: concat!(
            "The same 1,000 inserts; edgepg: `conn.batch().transaction()` with 1,000 \
             `.execute(sql, &[&id, &name])`, `.run()` (BEGIN … COMMIT, one flight, one Sync); ",
            "tokio-postgres: `client.transaction()`, then 1,000 `tx.execute(&prepared, &[&id, &name])` \
             futures pipelined with `try_join_all`, then `commit()`; asyncpg: \
             `await conn.executemany(sql, rows)` (pipelined, one Sync: atomic)."
        ),
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx, Mode::Batch)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPg::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "insert_1k") },
        ],
        cap: None,
    }
}

fn rows() -> Vec<(i64, String)> {
    (0..ROWS as i64).map(|i| (i, format!("name {i}"))).collect()
}

fn table_sql(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int8, name text)")
}

fn insert_sql(table: &str) -> String {
    format!("INSERT INTO {table} (id, name) VALUES ($1, $2)")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    ExecuteMany,
    Batch,
}

struct Edgepg {
    conn: edgepg::Connection,
    mode: Mode,
    sql: String,
    rows: Vec<(i64, String)>,
}

const EDGEPG_TABLE: &str = "bench_ins_edgepg";

impl Edgepg {
    async fn setup(ctx: Ctx, mode: Mode) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        conn.execute(&table_sql(EDGEPG_TABLE), &[]).await?;
        Ok(Box::new(Edgepg { conn, mode, sql: insert_sql(EDGEPG_TABLE), rows: rows() }))
    }
}

impl Runner for Edgepg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let n = match self.mode {
                Mode::ExecuteMany => {
                    self.conn.executemany(&self.sql, self.rows.iter()).await?;
                    ROWS // executemany returns no count: it succeeded, so every row landed
                }
                Mode::Batch => {
                    let params: Vec<[&(dyn edgepg::types::ToSql + Sync); 2]> =
                        self.rows.iter().map(|(id, name)| [id as _, name as _]).collect();
                    let mut batch = self.conn.batch().transaction();
                    for p in &params {
                        batch = batch.execute(&self.sql, p);
                    }
                    let mut n = 0;
                    for r in batch.run().await? {
                        n += r?.rows_affected();
                    }
                    n
                }
            };
            Ok(Sample::checksum(n))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.conn.execute(&format!("DROP TABLE {EDGEPG_TABLE}"), &[]).await?;
            Ok(self.conn.close().await?)
        })
    }
}

const TOKIO_TABLE: &str = "bench_ins_tpg";

struct TokioPg {
    client: tokio_postgres::Client,
    stmt: tokio_postgres::Statement,
    rows: Vec<(i64, String)>,
}

impl TokioPg {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        client.batch_execute(&table_sql(TOKIO_TABLE)).await?;
        let stmt = client.prepare(&insert_sql(TOKIO_TABLE)).await?;
        Ok(Box::new(TokioPg { client, stmt, rows: rows() }))
    }
}

impl Runner for TokioPg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let tx = self.client.transaction().await?;
            let stmt = &self.stmt;
            let params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 2]> =
                self.rows.iter().map(|(id, name)| [id as _, name as _]).collect();
            let counts = try_join_all(params.iter().map(|p| tx.execute(stmt, p))).await?;
            tx.commit().await?;
            Ok(Sample::checksum(counts.iter().sum()))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.client.batch_execute(&format!("DROP TABLE {TOKIO_TABLE}")).await?;
            Ok(())
        })
    }
}
