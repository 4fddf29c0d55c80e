#!/usr/bin/env bash
# Runs the edge benchmark end to end:
#   1. scripts/setup.sh (PostgreSQL, websockify, wasm-bindgen... when missing),
#   2. npm install of the pinned contenders (package-lock.json) when missing,
#   3. js/build.sh, `npm pack` of js/, and that tarball installed here (--no-save),
#   4. a throwaway cluster + websockify in bench/edge/.edgepg-bench-edge/ (stopped on exit),
#   5. node --expose-gc bench.mjs: prints the table, writes the "Edge" section of bench/RESULTS.md.
# Usage: bench/edge/run.sh [bench.mjs options]   (e.g. --only decode_200k --reps 9; see --help)
#        bench/edge/run.sh coldstart [--starts 20]  (workerd cold starts: coldstart.mjs)
#        bench/edge/run.sh runtimes [--reps 5]  (edgepg over TCP in Node 20/22/24, Bun, Deno: runtimes.mjs)
#   EDGEPG_BENCH_SKIP_BUILD=1 reuses js/dist as it is (no js/build.sh);
#   EDGEPG_BENCH_NODE_FLAGS adds node flags (profiling: see the end of this file);
#   EDGEPG_BENCH_NODE runs another node binary (Node 22, 24).
# The cluster directory can be moved with EDGEPG_BENCH_EDGE_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${EDGEPG_BENCH_EDGE_DIR:-$here/.edgepg-bench-edge}"

bash "$root/scripts/setup.sh"

cd "$here"
if [ ! -d node_modules/ws ] || [ ! -d node_modules/pg ] || [ ! -d node_modules/postgres ] ||
    [ ! -d node_modules/@neondatabase/serverless ] || [ ! -d node_modules/miniflare ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

# edgepg exactly as users get it: the packed tarball of js/ (js/build.sh makes dist/).
if [ -z "${EDGEPG_BENCH_SKIP_BUILD:-}" ]; then bash "$root/js/build.sh"; fi
pack="$(mktemp -d /tmp/edgepg-bench-pack.XXXXXX)"
(cd "$root/js" && npm pack --silent --pack-destination "$pack" >/dev/null)
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pack"/edgepg-*.tgz
rm -rf "$pack"

cleanup() { bash "$root/tests/cluster/stop.sh" "$dir" || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash "$root/tests/cluster/start.sh" "$dir"
# shellcheck disable=SC1091 # written by start.sh
. "$dir/env"
: "${EDGEPG_TEST_WS_PORT:?websockify did not start (scripts/setup.sh installs it)}"

# EDGEPG_BENCH_NODE_FLAGS: extra node flags, e.g. a profile of one client and workload:
#   EDGEPG_BENCH_SKIP_BUILD=1 EDGEPG_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=prof" \
#     bench/edge/run.sh --clients edgepg --only seq_select1 --no-floors --no-write
#   node bench/edge/cpuprofile.mjs bench/edge/prof/*.cpuprofile   (the dir is relative to bench/edge)
#   (bench/edge/named-wasm.sh bench/edge/node_modules/edgepg first: wasm functions by name, not index)
# `run.sh coldstart [--starts N]`: fresh workerd isolates to the first row instead (coldstart.mjs).
# Not `exec`: the EXIT trap must still stop the cluster.
if [ "${1:-}" = coldstart ]; then
    shift
    node "$here/coldstart.mjs" "$@"
    exit
fi
# `run.sh runtimes [--reps N]`: edgepg's own seq_select1 and decode_200k over TCP in Node 20/22/24,
# Bun and Deno (runtimes.mjs; the runtimes come from scripts/runtimes.sh).
if [ "${1:-}" = runtimes ]; then
    shift
    bash "$root/scripts/runtimes.sh"
    exec node "$here/runtimes.mjs" "$@"
fi
# EDGEPG_BENCH_NODE: another Node binary (e.g. Node 22 from scripts/setup.sh's runtimes).
# shellcheck disable=SC2086 # word splitting of the flags is intended
"${EDGEPG_BENCH_NODE:-node}" --expose-gc ${EDGEPG_BENCH_NODE_FLAGS:-} "$here/bench.mjs" "$@"
