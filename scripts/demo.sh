#!/usr/bin/env bash
# Runs the edgepg demo (`cargo run -p edgepg --example demo`) against a throwaway PostgreSQL
# cluster: installs what is missing (scripts/setup.sh), starts the cluster, runs the demo
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

EDGEPG_DSN="$EDGEPG_TEST_DSN" cargo run -q -p edgepg --example demo -- "$@"
