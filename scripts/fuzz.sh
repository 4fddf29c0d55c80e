#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ on the stable toolchain.
#
#   scripts/fuzz.sh [TARGET] [SECONDS]
#
# TARGET: one of the targets in fuzz/Cargo.toml; without it (or with "all") every target
# runs in turn. SECONDS: how long each target runs (default 60).
#
# cargo-fuzz is installed (pinned version) when missing. The targets are built with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none`: no sanitizer, which is what needs nightly;
# libFuzzer's coverage instrumentation works on stable. Each target starts from its
# committed seed corpus in fuzz/corpus/<target>/ and keeps what it learns in
# fuzz/work/<target>/ (not committed), so later runs continue from there. One job, one
# worker (libFuzzer's default: one process, no -jobs): the machine is shared. Findings land in fuzz/artifacts/<target>/.
#
# A single allocation over 64 MiB is a finding: inputs are at most a few KiB, and the
# client must never reserve memory on the strength of a length the server announced (it
# reserves at most 4 MiB ahead for a partial message).
#
# Extra libFuzzer flags can be given in FUZZ_ARGS (e.g. FUZZ_ARGS="-runs=10000000").
# Prints per target: executions, final coverage (cov/ft), corpus size, seconds, and
# whether it found a crash; exits non-zero if any target did.
#
# Not part of scripts/test.sh: it is far too slow for CI. See fuzz/README.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EDGEPG_ROOT/fuzz"

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(backend_message scram_server_messages client_session dsn text_decode copy_binary)

target="${1:-all}"
seconds="${2:-60}"
case "$seconds" in '' | *[!0-9]*) die "SECONDS must be a number, got '$seconds'" ;; esac
if [ "$target" = all ]; then
    run=("${TARGETS[@]}")
else
    printf '%s\n' "${TARGETS[@]}" | grep -qx -- "$target" || die "unknown target '$target' (one of: ${TARGETS[*]})"
    run=("$target")
fi

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export RUSTC_BOOTSTRAP=1
failed=0
summary=()
for t in "${run[@]}"; do
    mkdir -p "work/$t" "corpus/$t"
    log="work/$t.log"
    say "fuzzing $t for ${seconds}s (log: fuzz/$log)"
    rc=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo fuzz run -s none "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=64 \
        -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)"
    cov="$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' || true)"
    if [ "$rc" -ne 0 ]; then
        failed=1
        crash="$(grep -oE 'artifacts/[^ ]+' "$log" | tail -1 || true)"
        summary+=("$t: FAILED (exit $rc) ${crash:+finding: fuzz/$crash} ${runs:-} ${cov:-}")
        tail -40 "$log" >&2
    else
        summary+=("$t: ${runs:-?} ${cov:-}, no finding")
    fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
