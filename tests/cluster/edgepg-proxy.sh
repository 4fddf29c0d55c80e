#!/usr/bin/env bash
# Starts or stops edgepg-proxy (the workspace's Neon-compatible gateway: WebSocket relay and SQL
# over HTTP) in front of a test cluster from start.sh.
# Usage: tests/cluster/edgepg-proxy.sh start|stop [DIR]   (default: $EDGEPG_TEST_DIR or <repo>/.edgepg-test)
#
# start: builds the binary (cargo build -p edgepg-proxy; a no-op when it is fresh), runs it on
#   127.0.0.1 and a free random port, allowing only the cluster (127.0.0.1 and localhost on its
#   port; /v2 WebSockets go to the cluster's port), and appends EDGEPG_TEST_PROXY_PORT to DIR/env.
#   The JS suites run their WebSocket tests through it as well as through websockify, and
#   js/test/proxy.test.mjs runs Neon's own driver against it.
# stop: stops it (by its pid file, only if that pid is edgepg-proxy) and removes the variable.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"

cmd="${1:-}"
DIR="$(abspath "${2:-$(edgepg_default_dir)}")"
[ -e "$DIR/env" ] || die "no test cluster in $DIR: run tests/cluster/start.sh first"
RUN="$(readlink -f "$DIR")"

case "$cmd" in
stop)
    edgepg_proxy_stop "$RUN"
    sed -i '/^export EDGEPG_TEST_PROXY_PORT=/d' "$RUN/env"
    ;;
start)
    pgport="$(sed -n "s/^export EDGEPG_TEST_PORT='\(.*\)'$/\1/p" "$RUN/env")"
    [ -n "$pgport" ] || die "no EDGEPG_TEST_PORT in $RUN/env"
    command -v cargo >/dev/null 2>&1 || die "cargo not found: cannot build edgepg-proxy"
    (cd "$EDGEPG_ROOT" && cargo build -q -p edgepg-proxy) || die "building edgepg-proxy failed"
    bin="${CARGO_TARGET_DIR:-$EDGEPG_ROOT/target}/debug/edgepg-proxy"
    [ -x "$bin" ] || die "no $bin after cargo build"
    edgepg_proxy_stop "$RUN"
    for attempt in 1 2 3 4 5; do
        port="$(pick_port)"
        setsid "$bin" --listen "127.0.0.1:$port" --allow "127.0.0.1:$pgport" --allow "localhost:$pgport" \
            --host-port "$pgport" </dev/null >"$RUN/edgepg-proxy.log" 2>&1 &
        echo "$!" > "$RUN/edgepg-proxy.pid"
        for _ in $(seq 1 50); do
            if port_in_use "$port"; then break; fi
            [ -d "/proc/$(cat "$RUN/edgepg-proxy.pid")" ] || break
            sleep 0.1
        done
        if port_in_use "$port" && [ -d "/proc/$(cat "$RUN/edgepg-proxy.pid")" ]; then
            sed -i '/^export EDGEPG_TEST_PROXY_PORT=/d' "$RUN/env"
            echo "export EDGEPG_TEST_PROXY_PORT='$port'" >> "$RUN/env"
            printf '%s\n' "$port"
            exit 0
        fi
        edgepg_proxy_stop "$RUN"
        say "edgepg-proxy did not start on port $port, retrying ($attempt)"
    done
    cat "$RUN/edgepg-proxy.log" >&2 || true
    die "edgepg-proxy did not start (log above)"
    ;;
*)
    die "usage: $0 start|stop [DIR]"
    ;;
esac
