#!/usr/bin/env bash
# Benchmarks edgepg-proxy: as a WebSocket relay against websockify (the same client, edgepg's npm
# package, through each), and SQL over HTTP one-shot queries against WebSocket connect + first
# query (edgepg and Neon's driver), through edgepg-proxy. Writes the "edgepg-proxy" section of
# bench/RESULTS.md (see proxy.mjs).
#   1. npm install of the pinned contenders here when missing; js/build.sh (unless
#      EDGEPG_BENCH_SKIP_BUILD=1) and the packed tarball installed here (--no-save);
#   2. cargo build --release -p edgepg-proxy;
#   3. a throwaway cluster + websockify in bench/edge/.edgepg-bench-proxy/ (stopped on exit), and
#      the release edgepg-proxy on a free port allowing only that cluster;
#   4. node --expose-gc proxy.mjs "$@" (with the pids of both relays and of PostgreSQL, for the
#      CPU time each spends per operation).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${EDGEPG_BENCH_PROXY_DIR:-$here/.edgepg-bench-proxy}"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
. "$root/tests/cluster/lib.sh"

cd "$here"
if [ ! -d node_modules/ws ] || [ ! -d node_modules/@neondatabase/serverless ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
if [ -z "${EDGEPG_BENCH_SKIP_BUILD:-}" ]; then bash "$root/js/build.sh"; fi
pack="$(mktemp -d /tmp/edgepg-bench-pack.XXXXXX)"
(cd "$root/js" && npm pack --silent --pack-destination "$pack" >/dev/null)
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pack"/edgepg-*.tgz
rm -rf "$pack"

(cd "$root" && cargo build -q --release -p edgepg-proxy)
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgepg-proxy"

proxy_pid=""
cleanup() {
    if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
    bash "$root/tests/cluster/stop.sh" "$dir" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash "$root/tests/cluster/start.sh" "$dir"
# shellcheck disable=SC1091 # written by start.sh
. "$dir/env"
: "${EDGEPG_TEST_WS_PORT:?websockify did not start (scripts/setup.sh installs it)}"
port="$(pick_port)"
# EDGEPG_BENCH_PROXY_ARGS: extra edgepg-proxy flags; "--threads 1" unless set (set it empty for
# the default multi-thread runtime). One thread is what edgepg-proxy --help advises on a small
# machine shared with PostgreSQL, and websockify too serves each connection on one thread.
EDGEPG_BENCH_PROXY_ARGS="${EDGEPG_BENCH_PROXY_ARGS---threads 1}"
# shellcheck disable=SC2086 # word splitting of the flags is intended
"$bin" --listen "127.0.0.1:$port" --allow "127.0.0.1:$EDGEPG_TEST_PORT" $EDGEPG_BENCH_PROXY_ARGS >"$dir/bench-proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 1 50); do port_in_use "$port" && break; sleep 0.1; done
port_in_use "$port" || { cat "$dir/bench-proxy.log" >&2; die "edgepg-proxy did not start"; }
export EDGEPG_BENCH_PROXY_PORT="$port" EDGEPG_BENCH_PROXY_PID="$proxy_pid"
EDGEPG_BENCH_WS_PID="$(cat "$dir/websockify.pid")"
EDGEPG_BENCH_PG_PID="$(head -n 1 "$EDGEPG_TEST_DATA/postmaster.pid")"
export EDGEPG_BENCH_WS_PID EDGEPG_BENCH_PG_PID
EDGEPG_BENCH_PROXY_ARGS="$EDGEPG_BENCH_PROXY_ARGS" node --expose-gc "$here/proxy.mjs" "$@"
