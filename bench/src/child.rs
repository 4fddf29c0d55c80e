//! Contenders that run in a child process: asyncpg (a Python script) and the
//! memory-measuring COPY rows (this binary re-invoked with `--child`, so the
//! peak RSS it reports is that workload's alone).
//!
//! The child stays alive across repetitions, so process start-up, imports
//! and connecting are never timed. It speaks a line protocol on its
//! stdin/stdout (stderr is passed through for tracebacks):
//!
//! ```text
//! child  -> ready                                  (set up: connected, tables made)
//! parent -> run
//! child  -> ok <elapsed_ns> <checksum> <peak_rss_kib or -> [<cpu_ns>]
//! parent -> close
//! child  -> closed                                 (then exits)
//! ```
//! Any failure is a line `error <message>`.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::harness::{LocalFuture, Result, Runner, Sample};

/// A child process set up for one workload.
pub struct Child {
    what: String,
    process: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Child {
    /// Starts `cmd` and waits for its `ready` line. `what` names it in errors.
    ///
    /// Blocking I/O on purpose: while a child works, nothing else in this
    /// process has anything to do (the contenders run one at a time).
    pub fn spawn(mut cmd: Command, what: String) -> Result<Child> {
        let mut process = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {what}: {e}"))?;
        let stdin = process.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(process.stdout.take().ok_or("no stdout")?);
        let mut child = Child { what, process, stdin, stdout };
        let line = child.read_line()?;
        if line != "ready" {
            let _ = child.process.kill();
            return Err(format!("{}: expected `ready`, got `{line}`", child.what).into());
        }
        Ok(child)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            let status = self.process.wait()?;
            return Err(format!("{} exited ({status}) without answering", self.what).into());
        }
        let line = line.trim_end().to_owned();
        match line.strip_prefix("error ") {
            Some(msg) => Err(format!("{}: {msg}", self.what).into()),
            None => Ok(line),
        }
    }

    fn request(&mut self, command: &str) -> Result<String> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        self.read_line()
    }
}

/// Parses `ok <elapsed_ns> <checksum> <peak_rss_kib or -> [<cpu_ns>]`
/// (`cpu_ns`: the child's own CPU time over the repetition, all its threads).
pub fn parse_ok(line: &str) -> Result<Sample> {
    let mut parts = line.split_whitespace();
    let bad = || format!("malformed child answer `{line}`");
    if parts.next() != Some("ok") {
        return Err(bad().into());
    }
    let ns: u64 = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let checksum: u64 = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let peak_rss_kib = match parts.next() {
        None | Some("-") => None,
        Some(v) => Some(v.parse().map_err(|_| bad())?),
    };
    let self_cpu = match parts.next() {
        None => None,
        Some(v) => Some(Duration::from_nanos(v.parse().map_err(|_| bad())?)),
    };
    Ok(Sample { checksum, self_timed: Some(Duration::from_nanos(ns)), peak_rss_kib, self_cpu })
}

impl Runner for Child {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let line = self.request("run")?;
            parse_ok(&line).map_err(|e| format!("{}: {e}", self.what).into())
        })
    }

    fn close(mut self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            let line = self.request("close")?;
            let status = self.process.wait()?;
            if line != "closed" || !status.success() {
                return Err(format!("{}: closing: `{line}`, {status}", self.what).into());
            }
            Ok(())
        })
    }
}

/// Peak resident set size of this process (`VmHWM`, KiB), from /proc (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers() {
        let s = parse_ok("ok 1500000 42 2048").unwrap();
        assert_eq!((s.checksum, s.self_timed, s.peak_rss_kib), (42, Some(Duration::from_micros(1500)), Some(2048)));
        let s = parse_ok("ok 1 7 -").unwrap();
        assert_eq!((s.peak_rss_kib, s.self_cpu), (None, None));
        let s = parse_ok("ok 1 7 - 2000").unwrap();
        assert_eq!(s.self_cpu, Some(Duration::from_micros(2)));
        assert!(parse_ok("ok 1 7 - x").is_err());
        assert!(parse_ok("ok x 7").is_err());
        assert!(parse_ok("done 1 2").is_err());
    }

    #[test]
    fn reads_own_peak_rss() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().unwrap() > 0);
        }
    }
}
