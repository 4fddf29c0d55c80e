#!/usr/bin/env bash
# Runs websockify (WebSocket -> TCP) in front of a test cluster, for the wasm transport tests.
# Usage: tests/cluster/websockify.sh start DIR [PGPORT]
#        tests/cluster/websockify.sh stop DIR
#
# start: listens on 127.0.0.1 on a free port, relays every path (so a Neon-style URL
# ws://127.0.0.1:WSPORT/v1?address=... works) to 127.0.0.1:PGPORT, and prints WSPORT. Without
# PGPORT it is read from DIR/env, and `export EDGEPG_TEST_WS_PORT=...` is appended there.
# start.sh calls it, and stop.sh stops it with the cluster. Runs as the calling user.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"

[ "$#" -ge 2 ] || die "usage: $0 start DIR [PGPORT] | stop DIR"
cmd="$1"
DIR="$(readlink -f "$(abspath "$2")")"

case "$cmd" in
stop)
    websockify_stop "$DIR"
    ;;
start)
    command -v websockify >/dev/null 2>&1 || die "websockify not found: run scripts/setup.sh"
    pgport="${3:-}"
    update_env=""
    if [ -z "$pgport" ]; then
        [ -f "$DIR/env" ] || die "no $DIR/env: start the cluster first (tests/cluster/start.sh)"
        pgport="$(sed -n "s/^export EDGEPG_TEST_PORT='\(.*\)'$/\1/p" "$DIR/env")"
        [ -n "$pgport" ] || die "no EDGEPG_TEST_PORT in $DIR/env"
        update_env=1
    fi
    websockify_stop "$DIR"
    for attempt in 1 2 3 4 5; do
        port="$(pick_port)"
        # setsid: the proxy must outlive this script and not hold the caller's terminal.
        setsid websockify "127.0.0.1:$port" "127.0.0.1:$pgport" \
            </dev/null >"$DIR/websockify.log" 2>&1 &
        echo "$!" > "$DIR/websockify.pid"
        for _ in $(seq 1 50); do
            if port_in_use "$port"; then break; fi
            [ -d "/proc/$(cat "$DIR/websockify.pid")" ] || break
            sleep 0.1
        done
        if port_in_use "$port" && [ -d "/proc/$(cat "$DIR/websockify.pid")" ]; then
            if [ -n "$update_env" ]; then
                sed -i '/^export EDGEPG_TEST_WS_PORT=/d' "$DIR/env"
                echo "export EDGEPG_TEST_WS_PORT='$port'" >> "$DIR/env"
            fi
            printf '%s\n' "$port"
            exit 0
        fi
        websockify_stop "$DIR"
        say "websockify did not start on port $port, retrying ($attempt)"
    done
    cat "$DIR/websockify.log" >&2 || true
    die "websockify did not start (log above)"
    ;;
*)
    die "usage: $0 start DIR [PGPORT] | stop DIR"
    ;;
esac
