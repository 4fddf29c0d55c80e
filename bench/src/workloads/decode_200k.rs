//! `decode_200k`: large-result decode throughput — one query returning
//! 200,000 rows of `(int8, text, float8, timestamptz, numeric)`, every column of
//! every row decoded into a Rust value.

use std::time::SystemTime;

use rust_decimal::Decimal;

use crate::checksum::RowDigest;
use crate::clients;
use crate::asyncpg;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES};

const ROWS: u64 = 200_000;
// A fixed base time (not now()) keeps the checksum equal across clients and runs.
const SQL: &str = "SELECT g::int8, 'row ' || g, g * 1.5::float8, \
                   '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s', \
                   (g * 1.25)::numeric(12,2) \
                   FROM generate_series(1, 200000) g";

/// The workload definition.
pub fn workload() -> Workload {
    Workload {
        name: "decode_200k",
        description: "One query returning 200,000 rows of `(int8, text, float8, timestamptz, numeric)` \
                      from generate_series; every column decoded (i64, &str, f64, SystemTime, \
                      rust_decimal::Decimal). edgepg: `conn.fetch(sql, &[])`; tokio-postgres: \
                      `client.query(&prepared, &[])`; asyncpg: `await conn.fetch(sql)` (decodes \
                      every value into a Python object: int, str, float, datetime, Decimal; the \
                      checksum over them is computed after its clock stops).",
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPg::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "decode_200k") },
        ],
        cap: None,
    }
}

/// Both clients must see exactly ROWS rows.
fn check_count(n: usize) -> Result<()> {
    if n as u64 != ROWS {
        return Err(format!("expected {ROWS} rows, got {n}").into());
    }
    Ok(())
}

struct Edgepg {
    conn: edgepg::Connection,
}

impl Edgepg {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        Ok(Box::new(Edgepg { conn: clients::edgepg(&ctx.dsn).await? }))
    }
}

impl Runner for Edgepg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let rows = self.conn.fetch(SQL, &[]).await?;
            check_count(rows.len())?;
            let mut digest = RowDigest::default();
            for row in &rows {
                digest.add(
                    row.get::<i64, _>(0)?,
                    row.get::<&str, _>(1)?,
                    row.get::<f64, _>(2)?,
                    row.get::<SystemTime, _>(3)?,
                    row.get::<Decimal, _>(4)?,
                )?;
            }
            Ok(Sample::checksum(digest.finish()))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.conn.close().await?) })
    }
}

struct TokioPg {
    client: tokio_postgres::Client,
    stmt: tokio_postgres::Statement,
}

impl TokioPg {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        let stmt = client.prepare(SQL).await?;
        Ok(Box::new(TokioPg { client, stmt }))
    }
}

impl Runner for TokioPg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let rows = self.client.query(&self.stmt, &[]).await?;
            check_count(rows.len())?;
            let mut digest = RowDigest::default();
            for row in &rows {
                digest.add(
                    row.try_get::<_, i64>(0)?,
                    row.try_get::<_, &str>(1)?,
                    row.try_get::<_, f64>(2)?,
                    row.try_get::<_, SystemTime>(3)?,
                    row.try_get::<_, Decimal>(4)?,
                )?;
            }
            Ok(Sample::checksum(digest.finish()))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            drop(self);
            Ok(())
        })
    }
}
