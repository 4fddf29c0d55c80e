#!/usr/bin/env bash
# Runs the edgepg vs tokio-postgres benchmark end to end:
#   1. scripts/setup.sh (installs PostgreSQL etc. when missing),
#   2. bench/.venv with asyncpg (python3 -m venv + pip, only when missing),
#      cargo build --release of bench/ (its own workspace, target dir bench/target),
#   3. a throwaway cluster in bench/.edgepg-bench/ (tests/cluster/start.sh), stopped on exit,
#   4. the benchmark binary: prints the table, writes bench/RESULTS.md.
# Usage: bench/run.sh [edgepg-bench options]   (e.g. --only decode_200k --reps 9; see --help)
# The cluster directory can be moved with EDGEPG_BENCH_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
dir="${EDGEPG_BENCH_DIR:-$here/.edgepg-bench}"

bash "$root/scripts/setup.sh"

# asyncpg for the Python contender (bench/asyncpg_bench.py), in a venv of our own.
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import asyncpg' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check asyncpg==0.32.0
fi

# Build before starting the server: a compile error should not cost a cluster start.
export CARGO_TARGET_DIR="$here/target"
(cd "$here" && cargo build --release --quiet)

cleanup() { bash "$root/tests/cluster/stop.sh" "$dir" || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash "$root/tests/cluster/start.sh" "$dir"
# shellcheck disable=SC1091 # written by start.sh
. "$dir/env"

"$CARGO_TARGET_DIR/release/edgepg-bench" "$@"
