//! The asyncpg contender: `bench/asyncpg_bench.py` run by the venv's Python
//! (`bench/.venv`, made by `bench/run.sh`), one child process per workload,
//! kept alive across repetitions; it times each repetition itself.

use std::path::PathBuf;
use std::process::Command;

use crate::child::Child;
use crate::harness::{Ctx, LocalFuture, Result, Runner, Workload, ASYNCPG};

/// The Python interpreter: `$EDGEPG_BENCH_PYTHON`, else `bench/.venv/bin/python`.
fn python() -> PathBuf {
    std::env::var_os("EDGEPG_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asyncpg_bench.py")
}

/// Whether the asyncpg contender can run (the venv exists).
pub fn available() -> bool {
    python().exists() && script().exists()
}

/// `asyncpg X, Python Y` from the venv, for the report.
pub fn version() -> Option<String> {
    let python = python();
    let code = "import asyncpg, sys; print(f'asyncpg {asyncpg.__version__}, Python {sys.version.split()[0]}')";
    crate::report::command_line(python.to_str()?, &["-c", code])
}

/// Sets up the asyncpg child for `workload` (a name `asyncpg_bench.py` knows).
pub fn setup(ctx: Ctx, workload: &'static str) -> LocalFuture<'static, Result<Box<dyn Runner>>> {
    Box::pin(async move {
        let mut cmd = Command::new(python());
        cmd.arg(script()).arg(workload).env("EDGEPG_BENCH_DSN", &ctx.dsn);
        Ok(Box::new(Child::spawn(cmd, format!("asyncpg ({workload})"))?) as Box<dyn Runner>)
    })
}

/// Drops the asyncpg contenders when there is no venv (run `bench/run.sh`,
/// which makes it), with a warning, so the Rust rows still run.
pub fn drop_if_unavailable(workloads: &mut [Workload]) {
    if available() {
        return;
    }
    eprintln!("edgepg-bench: no {} — asyncpg columns skipped (bench/run.sh creates the venv)", python().display());
    for w in workloads {
        w.contenders.retain(|c| c.client != ASYNCPG);
    }
}
