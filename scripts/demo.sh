#!/usr/bin/env bash
# Runs the edgepg demo against a throwaway PostgreSQL cluster, over both transports: native
# (`cargo run -p edgepg --example demo`) and edge (the npm package in Node through websockify,
# `js/demo.mjs`). It installs what is missing (scripts/setup.sh), starts the cluster, runs the demo
# with EDGEPG_DSN pointing at it, and stops the cluster again. Arguments go to the demo.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EDGEPG_ROOT"

./scripts/setup.sh

# A directory of its own, so a demo never wipes the cluster of a test run in progress.
DIR="$(mktemp -d /tmp/edgepg-demo.XXXXXX)"
trap 'tests/cluster/stop.sh "$DIR"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tests/cluster/start.sh "$DIR"
# shellcheck disable=SC1091
. "$DIR/env"

echo "== native (tokio, TCP)"
EDGEPG_DSN="$EDGEPG_TEST_DSN" cargo run -q -p edgepg --example demo -- "$@"

# The edge transport: the npm package (WebAssembly) in Node, through websockify.
echo "== edge (WebAssembly in Node, WebSocket through websockify)"
if [ ! -d js/node_modules/ws ]; then
    (cd js && npm ci --no-audit --no-fund --loglevel=error)
fi
js/build.sh >/dev/null
node js/demo.mjs
