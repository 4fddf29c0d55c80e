# Helpers shared by tests/cluster/start.sh and stop.sh. Source after scripts/lib.sh.
# shellcheck shell=bash

# Marker file that tells the scripts a directory is a test cluster they may wipe.
EDGEPG_MARKER=".edgepg-test-cluster"

# Default cluster directory; overridable with EDGEPG_TEST_DIR or the first argument.
edgepg_default_dir() { printf '%s' "${EDGEPG_TEST_DIR:-$EDGEPG_ROOT/.edgepg-test}"; }

# Makes a path absolute without requiring it to exist.
abspath() {
    case "$1" in
        /*) printf '%s' "$1" ;;
        *) printf '%s/%s' "$(pwd)" "$1" ;;
    esac
}

# PostgreSQL refuses to run as root. As root, server commands run as SERVER_USER (set by the
# caller); otherwise they run as ourselves. `cd /` because the server user may not be allowed
# into the caller's working directory, and initdb/pg_ctl fail when they cannot read it.
as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$SERVER_USER" -- "$@")
    else
        "$@"
    fi
}

# Prints the user the server runs as, creating it when needed: ourselves when not root;
# as root `postgres` (Debian's package creates it) or else a system user `edgepg-pg`.
pick_server_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        printf 'postgres'
    else
        if ! id -u edgepg-pg >/dev/null 2>&1; then
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin edgepg-pg >/dev/null
        fi
        printf 'edgepg-pg'
    fi
}

# Refuses to wipe anything that is not clearly a test cluster directory of ours.
check_wipeable() {
    local real="$1"
    case "$real" in
        / | "${HOME:-/}" | "$EDGEPG_ROOT" | /tmp | /usr* | /etc* | /var | /root | /home)
            die "refusing to use '$real' as a throwaway cluster directory" ;;
    esac
    if [ -d "$real" ] && [ -n "$(ls -A "$real")" ] && [ ! -e "$real/$EDGEPG_MARKER" ]; then
        die "'$real' is not empty and is not an edgepg test cluster; not wiping it"
    fi
}

# True when something listens on 127.0.0.1:PORT.
port_in_use() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; then
        return 0
    fi
    return 1
}

# Prints a random port in 20000-60000 that nothing listens on.
pick_port() {
    local p _
    for _ in $(seq 1 200); do
        p=$(( ((RANDOM << 15) | RANDOM) % 40001 + 20000 ))
        if ! port_in_use "$p"; then printf '%s' "$p"; return 0; fi
    done
    die "no free TCP port found in 20000-60000"
}

# Stops the websockify that tests/cluster/websockify.sh started for DIR (by its pid file, and
# only if that pid really is websockify). Safe when there is none.
websockify_stop() {
    local real pid
    real="$(readlink -f "$1")"
    [ -f "$real/websockify.pid" ] || return 0
    pid="$(cat "$real/websockify.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q websockify; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
    fi
    rm -f "$real/websockify.pid"
}

# Stops a cluster left in DIR (if any) and removes DIR, following the symlink that start.sh
# leaves when the cluster had to live under /tmp. Safe to call when nothing is there.
cluster_teardown() {
    local dir="$1" real pgbin pid
    [ -e "$dir" ] || [ -L "$dir" ] || return 0
    real="$(readlink -f "$dir")"
    check_wipeable "$real"
    pgbouncer_teardown "$real"
    websockify_stop "$real"
    edgepg_proxy_stop "$real"
    if [ -f "$real/data/postmaster.pid" ]; then
        # Run server commands as whoever owns the data directory: that is who started it.
        SERVER_USER="$(stat -c %U "$real/data")"
        pgbin=""
        if [ -f "$real/env" ]; then
            pgbin="$(sed -n "s/^export EDGEPG_TEST_PGBIN='\(.*\)'$/\1/p" "$real/env")"
        fi
        [ -x "$pgbin/pg_ctl" ] || pgbin="$(pg_bin_dir)"
        if ! as_server "$pgbin/pg_ctl" -D "$real/data" stop -m fast -w -t 30 >/dev/null 2>&1; then
            as_server "$pgbin/pg_ctl" -D "$real/data" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
        fi
        # Last resort (binaries gone, pid file from a crash): signal the postmaster by its pid,
        # but only if that pid really is a postgres process.
        pid="$(head -n 1 "$real/data/postmaster.pid" 2>/dev/null || true)"
        if [ -n "$pid" ] && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
            kill -QUIT "$pid" 2>/dev/null || true
            sleep 1
        fi
    fi
    rm -rf "$real"
    if [ -L "$dir" ]; then rm -f "$dir"; fi
}

# Stops the PgBouncer that tests/cluster/pgbouncer.sh started in cluster directory RUN, if any
# (only if its pid file names a live pgbouncer process).
pgbouncer_teardown() {
    local pidfile="$1/pgbouncer/pgbouncer.pid" pid _
    [ -f "$pidfile" ] || return 0
    pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && grep -q pgbouncer "/proc/$pid/comm" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            grep -q pgbouncer "/proc/$pid/comm" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# Stops the edgepg-proxy that tests/cluster/edgepg-proxy.sh started in cluster directory RUN, if
# any (only if its pid file names a live edgepg-proxy process). Safe when there is none.
edgepg_proxy_stop() {
    local pidfile="$1/edgepg-proxy.pid" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && grep -q edgepg-proxy "/proc/$pid/comm" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            grep -q edgepg-proxy "/proc/$pid/comm" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
