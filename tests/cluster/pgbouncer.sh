#!/usr/bin/env bash
# Starts or stops PgBouncer in transaction mode in front of a test cluster from start.sh.
# Usage: tests/cluster/pgbouncer.sh start|stop [DIR]   (default: $EDGEPG_TEST_DIR or <repo>/.edgepg-test)
#
# start: runs pgbouncer (Debian package `pgbouncer`) as the cluster's unprivileged server user
#   on 127.0.0.1 and a free random port, pool_mode = transaction, forwarding every database to
#   the cluster, and appends EDGEPG_TEST_PGBOUNCER_PORT to DIR/env.
#   Authentication: clients authenticate to PgBouncer with SCRAM-SHA-256 against auth_file,
#   which holds the `edgepg` role's password (edgepg/edgepg_pw) in plain text so PgBouncer can in
#   turn log in to the server with SCRAM. Plain text is fine for a throwaway cluster's test
#   password, and it exercises our SCRAM client against a second implementation. (auth_type =
#   trust would not work: PgBouncer still needs a password for the server side.)
#   Only `edgepg` is in auth_file; clients must turn the statement cache off
#   (statement_cache_size=0), as with any transaction-mode pooler.
#   TLS (client_tls_sslmode = allow): PgBouncer serves a *self-signed* certificate that is its
#   own CA (CA:TRUE, DNS:localhost only), the usual self-hosted setup, appended to DIR/env as
#   EDGEPG_TEST_PGBOUNCER_SELF_SIGNED_CERT for the tests of sslrootcert=<server certificate>.
# stop: stops it (safe when it is not running) and removes the variable from DIR/env.
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
BDIR="$RUN/pgbouncer"

env_value() { sed -n "s/^export $1='\(.*\)'$/\1/p" "$RUN/env"; }
drop_env_line() {
    grep -v '^export EDGEPG_TEST_PGBOUNCER_' "$RUN/env" > "$RUN/env.tmp" || true
    mv "$RUN/env.tmp" "$RUN/env"
}

case "$cmd" in
    start)
        command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] \
            || die "pgbouncer not found: apt-get install pgbouncer (scripts/setup.sh)"
        PGB="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
        SERVER_USER="$(env_value EDGEPG_TEST_SERVER_USER)"
        PGPORT_="$(env_value EDGEPG_TEST_PORT)"
        [ -n "$SERVER_USER" ] && [ -n "$PGPORT_" ] || die "$RUN/env lacks the server user or port"
        pgbouncer_teardown "$RUN"
        drop_env_line
        mkdir -p "$BDIR"
        printf '"edgepg" "edgepg_pw"\n' > "$BDIR/userlist.txt"
        chmod 0600 "$BDIR/userlist.txt"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 825 \
            -keyout "$BDIR/selfsigned.key" -out "$BDIR/selfsigned.crt" -subj "/CN=localhost" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "subjectAltName=DNS:localhost" \
            >/dev/null 2>&1 || die "openssl: creating PgBouncer's self-signed certificate failed"
        chmod 0600 "$BDIR/selfsigned.key"
        chmod 0644 "$BDIR/selfsigned.crt"
        if [ "$(id -u)" -eq 0 ]; then chown -R "$SERVER_USER" "$BDIR"; fi
        PORT=""
        for attempt in 1 2 3 4 5; do
            candidate="$(pick_port)"
            as_server tee "$BDIR/pgbouncer.ini" >/dev/null <<INI
; edgepg test PgBouncer (tests/cluster/pgbouncer.sh)
[databases]
* = host=127.0.0.1 port=$PGPORT_
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $candidate
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $BDIR/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
server_tls_sslmode = disable
client_tls_sslmode = allow
client_tls_key_file = $BDIR/selfsigned.key
client_tls_cert_file = $BDIR/selfsigned.crt
logfile = $BDIR/pgbouncer.log
pidfile = $BDIR/pgbouncer.pid
INI
            if as_server "$PGB" -d "$BDIR/pgbouncer.ini" >>"$BDIR/start.log" 2>&1; then
                for _ in $(seq 1 50); do
                    if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then PORT="$candidate"; break; fi
                    sleep 0.1
                done
            fi
            [ -n "$PORT" ] && break
            pgbouncer_teardown "$RUN"
            say "pgbouncer did not start on port $candidate, retrying ($attempt)"
        done
        if [ -z "$PORT" ]; then
            cat "$BDIR/start.log" "$BDIR/pgbouncer.log" >&2 2>/dev/null || true
            die "pgbouncer did not start (logs above)"
        fi
        echo "export EDGEPG_TEST_PGBOUNCER_PORT='$PORT'" >> "$RUN/env"
        echo "export EDGEPG_TEST_PGBOUNCER_SELF_SIGNED_CERT='$BDIR/selfsigned.crt'" >> "$RUN/env"
        say "PgBouncer (transaction mode) on 127.0.0.1:$PORT in front of port $PGPORT_"
        ;;
    stop)
        pgbouncer_teardown "$RUN"
        drop_env_line
        ;;
    *) die "usage: $0 start|stop [DIR]" ;;
esac
