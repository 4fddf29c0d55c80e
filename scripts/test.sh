#!/usr/bin/env bash
# Runs edgepg's whole test suite against a throwaway PostgreSQL cluster:
#   1. the core crate must build for wasm32-unknown-unknown;
#   2. cargo test --workspace (unit, doc and integration tests);
#   3. cargo test -p edgepg-core --all-features (optional type codecs).
#   4. the wasm crate's tests with wasm-pack: `wasm-pack test --node --headless --chrome`
#      (unit tests in Node, the WebSocket transport's tests in headless Chromium through
#      websockify to the cluster).
#   5. the npm package (js/test.sh): release .wasm build, npm pack, node --test of the
#      installed tarball (API, faults, round trips, a Worker in workerd, tsc).
# Installs what is missing first (scripts/setup.sh), starts the cluster in .edgepg-test/
# (or $EDGEPG_TEST_DIR) and always stops it again. Every step runs even if an earlier one
# failed, so one run shows all failures; the exit status is non-zero if any step failed. The
# last line is the total of cargo's "test result:" lines: `N passed, N failed`.
#
# With arguments, runs only `cargo test ARGS...` against the cluster (e.g.
# `./scripts/test.sh -p edgepg-tests --test cluster`).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EDGEPG_ROOT"

./scripts/setup.sh

DIR="${EDGEPG_TEST_DIR:-$EDGEPG_ROOT/.edgepg-test}"
log="$(mktemp /tmp/edgepg-test-log.XXXXXX)"
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    tests/cluster/pgbouncer.sh stop "$DIR" >/dev/null 2>&1 || true
    tests/cluster/stop.sh "$DIR" || say "warning: stopping the test cluster failed"
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tests/cluster/start.sh "$DIR"
tests/cluster/pgbouncer.sh start "$DIR"
# shellcheck disable=SC1091
. "$DIR/env"

status=0
# Runs one step with its output visible and copied to $log; remembers the first failure.
step() {
    local rc=0
    printf '==> %s\n' "$*"
    "$@" 2>&1 | tee -a "$log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "FAILED (exit $rc): $*"
        [ "$status" -ne 0 ] || status="$rc"
    fi
}

if [ "$#" -gt 0 ]; then
    step cargo test "$@"
else
    step cargo build -p edgepg-core --target wasm32-unknown-unknown
    # --no-fail-fast: a failing test binary must not hide the results of the others.
    step cargo test --workspace --no-fail-fast
    step cargo test -p edgepg-core --all-features --no-fail-fast
    # The browser has no environment: the tests read the ports at compile time (option_env!).
    # WASM_BINDGEN_TEST_TIMEOUT: the whole browser run, SCRAM included, in seconds.
    # wasm-pack finds chromedriver (CHROMEDRIVER) and the pinned wasm-bindgen on PATH, so it
    # downloads nothing; --node runs the unit tests configured for Node, --chrome the rest.
    step env CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=180 \
        sh -c 'cd wasm && exec wasm-pack test --node --headless --chrome'
    step js/test.sh
fi

# Sum cargo's "test result: ok. 12 passed; 0 failed; ..." lines and node's "# pass N" / "# fail N".
awk '/^test result:/ {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^passed;?$/) p += $(i - 1)
            if ($i ~ /^failed;?$/) f += $(i - 1)
        }
    }
    /^# pass [0-9]+$/ { p += $3 }
    /^# fail [0-9]+$/ { f += $3 }
    END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
