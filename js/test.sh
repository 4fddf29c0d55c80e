#!/usr/bin/env bash
# Builds the npm package, packs it, installs the tarball into a temp dir and
# runs the JS tests there with `node --test` (Node API, faults, round trips,
# workerd via miniflare, the runtime matrix — Node 20/22/24, Bun, Deno and
# workerd over TCP, TLS and WebSocket (runtimes.test.mjs, runtimes from
# scripts/runtimes.sh) —, the Rust Worker example in workerd, tsc over a
# typed example), then the API suites again
# over direct TCP. Needs a running test
# cluster with websockify: source its env first (tests/cluster/start.sh);
# scripts/test.sh does all of that. Last line: node's test summary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
: "${EDGEPG_TEST_WS_PORT:?source the test cluster env (tests/cluster/start.sh) first}"

# Dev dependencies (ws, miniflare with its workerd binary, typescript), once.
if [ ! -d node_modules/ws ] || [ ! -d node_modules/miniflare ] || [ ! -d node_modules/typescript ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

./build.sh
# The Rust Worker example (examples/worker-rs), run in workerd by worker-rs.test.mjs.
../examples/worker-rs/build.sh
export EDGEPG_WORKER_RS_DIR="$here/../examples/worker-rs"
work="$(mktemp -d /tmp/edgepg-js-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tarball="$(ls "$work"/edgepg-*.tgz)"
echo "packed $(basename "$tarball"): $(wc -c <"$tarball") bytes"
mkdir -p "$work/app/node_modules"
(cd "$work/app" && echo '{"name":"edgepg-test-app","private":true,"type":"module"}' >package.json &&
    npm install --no-audit --no-fund --loglevel=error --no-save "$tarball")
for dep in ws miniflare typescript; do
    ln -s "$here/node_modules/$dep" "$work/app/node_modules/$dep"
done
cp test/*.mjs test/*.ts test/tsconfig.json "$work/app/" 2>/dev/null || cp test/*.mjs "$work/app/"
cd "$work/app"
# One file at a time keeps the proxies and relays of different files apart.
node --test --test-concurrency=1 ./*.test.mjs
# The API suites again over direct TCP (helpers.mjs: opts() without a wsProxy).
EDGEPG_TEST_TRANSPORT=tcp node --test --test-concurrency=1 api.test.mjs tx-cursor-copy.test.mjs integrity.test.mjs
