#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster started by start.sh and removes its directory.
# Usage: tests/cluster/stop.sh [DIR]   (default: $EDGEPG_TEST_DIR or <repo>/.edgepg-test)
# Safe to run when no cluster is there, and after a crashed run.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"

DIR="$(abspath "${1:-$(edgepg_default_dir)}")"
cluster_teardown "$DIR"
