//! COPY workloads (to be listed in `workloads::all` by whoever owns the
//! harness: `copy::copy_in_1m()`, `copy::copy_out_1m()`, `copy::copy_5m_rss()`).
//!
//! * `copy_in_1m`: 1,000,000 rows of `(int8, text, float8, timestamptz)`
//!   into an unlogged table. edgepg: `copy_records_to_table` (binary COPY);
//!   tokio-postgres: `BinaryCopyInWriter`; psql: `\copy … FROM` the same rows
//!   as a CSV file (written once, untimed). asyncpg's
//!   `copy_records_to_table` is not a contender: no Python asyncpg here.
//! * `copy_out_1m`: the same 1,000,000 rows out (text format) into a sink.
//!   edgepg: `copy_from_table_to_writer`; tokio-postgres: `copy_out`;
//!   psql: `\copy … TO '/dev/null'`.
//! * `copy_5m_rss`: 5,000,000 rows in and out through edgepg alone; the
//!   process's peak RSS (`VmHWM`) is printed at the end, to show memory
//!   stays bounded whatever the size.

use std::time::{Duration, Instant, SystemTime};

use edgepg::{CopyFormat, CopyOptions};
use futures::{pin_mut, StreamExt};

use crate::clients;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, EDGEPG, TOKIO_POSTGRES};

const ROWS: u64 = 1_000_000;
const PSQL: &str = "psql";
const COLUMNS: &str = "(id int8, name text, score float8, at timestamptz)";

fn base_time() -> SystemTime {
    // 2024-01-01 00:00:00 UTC: fixed, so every client writes the same rows.
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

fn record(i: u64) -> (i64, String, f64, SystemTime) {
    (i as i64, format!("row {i}"), i as f64 * 1.5, base_time() + Duration::from_secs(i))
}

/// Binary COPY in, one row of the results table.
pub fn copy_in_1m() -> Workload {
    Workload {
        name: "copy_in_1m",
        description: "1,000,000 rows of `(int8, text, float8, timestamptz)` copied into an unlogged table \
                      (truncated first, inside the timing). edgepg: `copy_records_to_table` (binary COPY); \
                      tokio-postgres: `BinaryCopyInWriter`; psql: `\\copy … FROM` the same rows as CSV.",
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(EdgepgIn::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPgIn::setup(ctx)) },
            Contender { client: PSQL, setup: |ctx| Box::pin(Psql::setup(ctx, Direction::In)) },
        ],
    }
}

/// COPY out, one row of the results table.
pub fn copy_out_1m() -> Workload {
    Workload {
        name: "copy_out_1m",
        description: "1,000,000 rows of `(int8, text, float8, timestamptz)` copied out in text format and \
                      discarded. edgepg: `copy_from_table_to_writer` into `futures::io::sink()`; \
                      tokio-postgres: `copy_out` stream; psql: `\\copy … TO '/dev/null'`.",
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(EdgepgOut::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPgOut::setup(ctx)) },
            Contender { client: PSQL, setup: |ctx| Box::pin(Psql::setup(ctx, Direction::Out)) },
        ],
    }
}

/// 5,000,000 rows in and out through edgepg; prints the peak RSS.
pub fn copy_5m_rss() -> Workload {
    Workload {
        name: "copy_5m_rss",
        description: "5,000,000 rows copied in (binary records) and out (text, into a sink) by edgepg; \
                      the process's peak RSS is printed on stderr (memory must stay bounded).",
        unit: "rows",
        ops: 5 * ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg5m::setup(ctx)) }],
    }
}

/// The table a contender copies into (own table: contenders never share one).
async fn make_table(conn: &edgepg::Connection, name: &str) -> Result<()> {
    conn.execute(&format!("DROP TABLE IF EXISTS {name}; CREATE UNLOGGED TABLE {name} {COLUMNS}"), &[]).await?;
    Ok(())
}

/// A table with the 1M rows, for the copy-out workload (filled untimed, by edgepg).
async fn source_table(conn: &edgepg::Connection) -> Result<()> {
    // Left from an earlier run? (An error means the table does not exist.)
    let existing = conn.fetchval::<i64>("SELECT count(*) FROM bench_copy_src", &[]).await.unwrap_or(0);
    if existing as u64 != ROWS {
        make_table(conn, "bench_copy_src").await?;
        conn.copy_records_to_table("bench_copy_src", (0..ROWS).map(record), &CopyOptions::new()).await?;
    }
    Ok(())
}

fn check(n: u64) -> Result<Sample> {
    if n != ROWS {
        return Err(format!("expected {ROWS} rows, got {n}").into());
    }
    Ok(Sample::checksum(n))
}

struct EdgepgIn {
    conn: edgepg::Connection,
}

impl EdgepgIn {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        make_table(&conn, "bench_copy_edgepg").await?;
        Ok(Box::new(EdgepgIn { conn }))
    }
}

impl Runner for EdgepgIn {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            self.conn.execute("TRUNCATE bench_copy_edgepg", &[]).await?;
            let n = self.conn.copy_records_to_table("bench_copy_edgepg", (0..ROWS).map(record), &CopyOptions::new()).await?;
            check(n)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.conn.execute("DROP TABLE bench_copy_edgepg", &[]).await?;
            Ok(self.conn.close().await?)
        })
    }
}

struct TokioPgIn {
    client: tokio_postgres::Client,
}

impl TokioPgIn {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        client.batch_execute(&format!("DROP TABLE IF EXISTS bench_copy_tpg; CREATE UNLOGGED TABLE bench_copy_tpg {COLUMNS}")).await?;
        Ok(Box::new(TokioPgIn { client }))
    }
}

impl Runner for TokioPgIn {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::Type;
        Box::pin(async move {
            self.client.batch_execute("TRUNCATE bench_copy_tpg").await?;
            let sink = self.client.copy_in("COPY bench_copy_tpg FROM STDIN (FORMAT binary)").await?;
            let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ]);
            pin_mut!(writer);
            for i in 0..ROWS {
                let (a, b, c, d) = record(i);
                writer.as_mut().write(&[&a, &b, &c, &d]).await?;
            }
            check(writer.finish().await?)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.client.batch_execute("DROP TABLE bench_copy_tpg").await?;
            Ok(())
        })
    }
}

struct EdgepgOut {
    conn: edgepg::Connection,
}

impl EdgepgOut {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        source_table(&conn).await?;
        Ok(Box::new(EdgepgOut { conn }))
    }
}

impl Runner for EdgepgOut {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let n = self.conn.copy_from_table_to_writer("bench_copy_src", &CopyOptions::new(), futures::io::sink()).await?;
            check(n)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.conn.close().await?) })
    }
}

struct TokioPgOut {
    client: tokio_postgres::Client,
}

impl TokioPgOut {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        Ok(Box::new(TokioPgOut { client: clients::tokio_postgres(&ctx.dsn).await? }))
    }
}

impl Runner for TokioPgOut {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let stream = self.client.copy_out("COPY bench_copy_src TO STDOUT").await?;
            pin_mut!(stream);
            // Text format: one row per line.
            let mut lines = 0u64;
            while let Some(chunk) = stream.next().await {
                lines += chunk?.iter().filter(|&&b| b == b'\n').count() as u64;
            }
            check(lines)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(()) })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// `psql -c '\copy …'`, timed by itself (process start included, as a user would see it).
struct Psql {
    dsn: String,
    psql: String,
    direction: Direction,
    csv: std::path::PathBuf,
}

impl Psql {
    async fn setup(ctx: Ctx, direction: Direction) -> Result<Box<dyn Runner>> {
        let bin = std::env::var("EDGEPG_TEST_PGBIN").map_err(|_| "EDGEPG_TEST_PGBIN is not set (source .edgepg-test/env)")?;
        let psql = format!("{bin}/psql");
        let conn = clients::edgepg(&ctx.dsn).await?;
        source_table(&conn).await?;
        let csv = std::env::temp_dir().join("edgepg-bench-copy-1m.csv");
        if direction == Direction::In {
            make_table(&conn, "bench_copy_psql").await?;
            // The same rows as CSV, written once, untimed.
            let file = futures::io::AllowStdIo::new(std::io::BufWriter::new(std::fs::File::create(&csv)?));
            let opts = CopyOptions::new().format(CopyFormat::Csv);
            conn.copy_from_table_to_writer("bench_copy_src", &opts, file).await?;
        }
        conn.close().await?;
        Ok(Box::new(Psql { dsn: ctx.dsn, psql, direction, csv }))
    }

    fn psql(&self, command: &str) -> Result<(u64, Duration)> {
        let start = Instant::now();
        let out = std::process::Command::new(&self.psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.dsn, "-c", command])
            .output()?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok((0, elapsed))
    }
}

impl Runner for Psql {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let elapsed = match self.direction {
                Direction::In => {
                    self.psql("TRUNCATE bench_copy_psql")?;
                    let cmd = format!("\\copy bench_copy_psql FROM '{}' (FORMAT csv)", self.csv.display());
                    self.psql(&cmd)?.1
                }
                Direction::Out => self.psql("\\copy bench_copy_src TO '/dev/null'")?.1,
            };
            // psql prints no count with -q; the server did the work or psql failed.
            Ok(Sample { checksum: ROWS, self_timed: Some(elapsed) })
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            if self.direction == Direction::In {
                self.psql("DROP TABLE bench_copy_psql")?;
                let _ = std::fs::remove_file(&self.csv);
            }
            Ok(())
        })
    }
}

struct Edgepg5m {
    conn: edgepg::Connection,
}

impl Edgepg5m {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        make_table(&conn, "bench_copy_5m").await?;
        Ok(Box::new(Edgepg5m { conn }))
    }
}

/// Peak resident set size of this process, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Runner for Edgepg5m {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let before = peak_rss_kib();
            self.conn.execute("TRUNCATE bench_copy_5m", &[]).await?;
            let n_in = self.conn.copy_records_to_table("bench_copy_5m", (0..5 * ROWS).map(record), &CopyOptions::new()).await?;
            let n_out = self.conn.copy_from_table_to_writer("bench_copy_5m", &CopyOptions::new(), futures::io::sink()).await?;
            if n_in != 5 * ROWS || n_out != 5 * ROWS {
                return Err(format!("copy_5m: {n_in} in, {n_out} out").into());
            }
            eprintln!("copy_5m_rss: peak RSS {:?} KiB before, {:?} KiB after 5M rows in and out", before, peak_rss_kib());
            Ok(Sample::checksum(n_in))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.conn.execute("DROP TABLE bench_copy_5m", &[]).await?;
            Ok(self.conn.close().await?)
        })
    }
}
