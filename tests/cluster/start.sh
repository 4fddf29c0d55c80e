#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for edgepg's tests.
# Usage: tests/cluster/start.sh [DIR]   (default: $EDGEPG_TEST_DIR or <repo>/.edgepg-test)
#
# DIR is wiped first (a cluster still running there from a crashed run is stopped). The
# cluster listens on 127.0.0.1 on a free random port and on a Unix socket in DIR/sock, has
# TLS with a throwaway CA, one role per authentication method, and database edgepg_test.
# Everything a test needs is written as shell `export` lines to DIR/env.
# Stop it with tests/cluster/stop.sh [DIR].
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"

# The caller's PG* variables (PGSSLMODE, PGOPTIONS, PGSERVICE...) must not change how we
# talk to our own server.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^PG' || true)

DIR="$(abspath "${1:-$(edgepg_default_dir)}")"
PGBIN="$(pg_bin_dir)"
[ -n "$PGBIN" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin: run scripts/setup.sh"
command -v openssl >/dev/null 2>&1 || die "openssl not found: run scripts/setup.sh"
SERVER_USER="$(pick_server_user)"

# ---------------------------------------------------------------------------------------------
# Directory. The server user must be able to reach it (as root that is `postgres`, which cannot
# enter e.g. /root), and a Unix socket path must fit in 107 bytes; when either fails the
# cluster lives in a fresh /tmp directory and DIR becomes a symlink to it.
cluster_teardown "$DIR"
check_wipeable "$DIR"
mkdir -p "$DIR"
RUN="$DIR"
socket_fits() { [ "${#1}" -le 80 ]; } # "$RUN/sock/.s.PGSQL.NNNNN" adds 22 bytes; keep margin
prepare_run_dir() {
    touch "$1/$EDGEPG_MARKER"
    chmod 0755 "$1"
    if [ "$(id -u)" -eq 0 ]; then chown "$SERVER_USER" "$1"; fi
}
prepare_run_dir "$RUN"
if ! as_server test -w "$RUN" -a -x "$RUN" || ! socket_fits "$RUN"; then
    rm -rf "$DIR"
    RUN="$(mktemp -d /tmp/edgepg-test.XXXXXX)"
    prepare_run_dir "$RUN"
    ln -s "$RUN" "$DIR"
fi
RUN="$(readlink -f "$RUN")"
mkdir -p "$RUN/sock"
if [ "$(id -u)" -eq 0 ]; then chown "$SERVER_USER" "$RUN/sock"; fi

# ---------------------------------------------------------------------------------------------
# TLS material: a test CA, a server certificate for DNS:localhost ONLY (tests rely on 127.0.0.1
# not being in it to check that verify-full rejects a host-name mismatch), and an unrelated CA
# for negative tests. Extensions are what strict verifiers (webpki/rustls) demand.
make_ca() { # name, CN
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout "$RUN/$1.key" -out "$RUN/$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" >/dev/null 2>&1 || die "openssl: creating $1 failed"
}
make_ca ca "edgepg test CA"
make_ca wrong-ca "edgepg wrong test CA"
openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$RUN/server.key" \
    -out "$RUN/server.csr" -subj "/CN=localhost" >/dev/null 2>&1 || die "openssl: server key failed"
cat > "$RUN/server.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
openssl x509 -req -sha256 -days 825 -in "$RUN/server.csr" -CA "$RUN/ca.crt" -CAkey "$RUN/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -extfile "$RUN/server.ext" -out "$RUN/server.crt" \
    >/dev/null 2>&1 || die "openssl: signing the server certificate failed"
rm -f "$RUN/server.csr" "$RUN/server.ext"
chmod 0644 "$RUN/ca.crt" "$RUN/wrong-ca.crt" "$RUN/server.crt"
# PostgreSQL insists that its key is private to the user it runs as.
chmod 0600 "$RUN/ca.key" "$RUN/wrong-ca.key" "$RUN/server.key"
if [ "$(id -u)" -eq 0 ]; then chown "$SERVER_USER" "$RUN/server.key"; fi

# Client certificates for role cert_user (pg_hba: hostssl ... cert), in $RUN/client, owned by
# the caller (who runs the tests) with keys at 0600 as libpq demands:
#   client.crt + client.key (EC P-256, PKCS#8), client-sec1.key (the same key as SEC1),
#   client-enc.key (the same key, encrypted PKCS#8, passphrase client_key_pw),
#   client-rsa.crt + client-rsa.key (RSA, PKCS#1), client-wrong-ca.crt (client.key's public key
#   certified by wrong-ca), client-other-cn.crt (CN=someone_else, by the test CA).
CLIENT="$RUN/client"
mkdir -p "$CLIENT"
cat > "$CLIENT/client.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EXT
sign_client() { # csr, out, ca
    openssl x509 -req -sha256 -days 825 -in "$CLIENT/$1" -CA "$RUN/$3.crt" -CAkey "$RUN/$3.key" \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$CLIENT/client.ext" -out "$CLIENT/$2" \
        >/dev/null 2>&1 || die "openssl: signing client certificate $2 failed"
}
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CLIENT/client.key" \
    -out "$CLIENT/client.csr" -subj "/CN=cert_user" >/dev/null 2>&1 || die "openssl: client key failed"
sign_client client.csr client.crt ca
sign_client client.csr client-wrong-ca.crt wrong-ca
openssl req -new -key "$CLIENT/client.key" -out "$CLIENT/other-cn.csr" -subj "/CN=someone_else" \
    >/dev/null 2>&1 || die "openssl: client csr failed"
sign_client other-cn.csr client-other-cn.crt ca
openssl ec -in "$CLIENT/client.key" -out "$CLIENT/client-sec1.key" >/dev/null 2>&1 \
    || die "openssl: SEC1 key failed"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$CLIENT/client.key" -out "$CLIENT/client-enc.key" \
    -passout pass:client_key_pw >/dev/null 2>&1 || die "openssl: encrypted key failed"
openssl genrsa -traditional -out "$CLIENT/client-rsa.key" 2048 >/dev/null 2>&1 \
    || die "openssl: RSA client key failed"
openssl req -new -key "$CLIENT/client-rsa.key" -out "$CLIENT/client-rsa.csr" -subj "/CN=cert_user" \
    >/dev/null 2>&1 || die "openssl: RSA client csr failed"
sign_client client-rsa.csr client-rsa.crt ca
rm -f "$CLIENT"/*.csr "$CLIENT/client.ext"
chmod 0755 "$CLIENT"
chmod 0644 "$CLIENT"/*.crt
chmod 0600 "$CLIENT"/*.key

# ---------------------------------------------------------------------------------------------
# initdb. The bootstrap superuser is `postgres` whatever the OS user is, so setup SQL is the same
# everywhere. -N: no fsync, this cluster is thrown away.
as_server "$PGBIN/initdb" -D "$RUN/data" -U postgres -E UTF8 --locale=C -N \
    --auth-local=trust --auth-host=scram-sha-256 >"$RUN/initdb.log" 2>&1 \
    || { cat "$RUN/initdb.log" >&2; die "initdb failed (log above)"; }

cat > "$RUN/data/pg_hba.conf" <<'HBA'
# edgepg test cluster: one role per authentication method (see README.md, "Testing").
local all all trust
host  all trust_user 127.0.0.1/32 trust
host  all md5_user   127.0.0.1/32 md5
host  all pw_user    127.0.0.1/32 password
host  all scram_user 127.0.0.1/32 scram-sha-256
# Only with a client certificate issued by the test CA whose CN is the role name.
hostssl all cert_user 127.0.0.1/32 cert
host  all cert_user  127.0.0.1/32 reject
host  all all        127.0.0.1/32 scram-sha-256
HBA
echo "include 'edgepg.conf'" >> "$RUN/data/postgresql.conf"

# Writes our settings; rewritten for each port we try.
write_conf() {
    cat > "$RUN/data/edgepg.conf" <<CONF
# edgepg test cluster settings (written by tests/cluster/start.sh)
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$RUN/sock'
max_connections = 300
# Durability is pointless for a throwaway cluster and costs test time.
fsync = off
synchronous_commit = off
full_page_writes = off
log_destination = 'stderr'
logging_collector = on
log_directory = '$RUN'
log_filename = 'server.log'
ssl = on
ssl_cert_file = '$RUN/server.crt'
ssl_key_file = '$RUN/server.key'
# Ask TLS clients for a certificate (optional unless pg_hba says cert/clientcert).
ssl_ca_file = '$RUN/ca.crt'
CONF
}

# pick_port (tests/cluster/lib.sh) finds a free port; another process may still grab it
# before the server binds, so the start below retries with a new port on a bind failure.
PORT=""
for attempt in 1 2 3 4 5; do
    candidate="$(pick_port)"
    write_conf "$candidate"
    if as_server "$PGBIN/pg_ctl" -D "$RUN/data" -l "$RUN/pg_ctl.log" -w -t 60 start >/dev/null 2>&1; then
        PORT="$candidate"
        break
    fi
    if grep -qs -e 'could not bind' -e 'could not create any TCP/IP sockets' \
        "$RUN/pg_ctl.log" "$RUN/server.log"; then
        say "port $candidate was taken, retrying ($attempt)"
        as_server "$PGBIN/pg_ctl" -D "$RUN/data" stop -m immediate >/dev/null 2>&1 || true
        continue
    fi
    cat "$RUN/pg_ctl.log" "$RUN/server.log" >&2 2>/dev/null || true
    die "PostgreSQL did not start (logs above)"
done
[ -n "$PORT" ] || die "PostgreSQL did not start: every port tried was taken"

for _ in $(seq 1 120); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres && break
    sleep 0.5
done
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres || die "server started but is not ready"

# ---------------------------------------------------------------------------------------------
# Roles and database, over the Unix socket (local trust).
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN/sock" -p "$PORT" -U postgres -d postgres \
    >"$RUN/setup.log" 2>&1 <<'SQL' || { cat "$RUN/setup.log" >&2; die "creating roles failed"; }
SET password_encryption = 'scram-sha-256';
CREATE ROLE edgepg LOGIN SUPERUSER PASSWORD 'edgepg_pw';
CREATE ROLE trust_user LOGIN SUPERUSER;
CREATE ROLE scram_user LOGIN PASSWORD 'scram_pw';
-- The `password` method sends cleartext; how it is stored does not matter.
CREATE ROLE pw_user LOGIN PASSWORD 'pw_pw';
-- Stored as an MD5 hash, so the `md5` hba method really runs MD5 (with a SCRAM secret the
-- server would silently upgrade md5 to SCRAM).
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD 'md5_pw';
RESET password_encryption;
-- No password at all: only a client certificate gets it in (pg_hba.conf: cert).
CREATE ROLE cert_user LOGIN;
CREATE DATABASE edgepg_test OWNER edgepg;
\connect edgepg_test
-- PostgreSQL 15 no longer lets every role create objects in schema public.
GRANT ALL ON SCHEMA public TO edgepg, trust_user, md5_user, pw_user, scram_user, cert_user;
SQL

# ---------------------------------------------------------------------------------------------
# websockify in front of the server, for the WebSocket (wasm) transport tests.
WS_PORT=""
if command -v websockify >/dev/null 2>&1; then
    WS_PORT="$("$here/websockify.sh" start "$RUN" "$PORT")"
else
    say "websockify not installed: no WebSocket proxy (run scripts/setup.sh)"
fi

# ---------------------------------------------------------------------------------------------
# The env file, written last so its presence means "cluster ready".
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # shell single-quoting
{
    echo "# edgepg test cluster (tests/cluster/start.sh); source this file"
    echo "export EDGEPG_TEST_HOST=$(q 127.0.0.1)"
    echo "export EDGEPG_TEST_PORT=$(q "$PORT")"
    echo "export EDGEPG_TEST_SOCKET_DIR=$(q "$RUN/sock")"
    echo "export EDGEPG_TEST_DB=$(q edgepg_test)"
    echo "export EDGEPG_TEST_CA=$(q "$RUN/ca.crt")"
    echo "export EDGEPG_TEST_WRONG_CA=$(q "$RUN/wrong-ca.crt")"
    echo "export EDGEPG_TEST_CLIENT_CERTS=$(q "$CLIENT")"
    echo "export EDGEPG_TEST_DATA=$(q "$RUN/data")"
    echo "export EDGEPG_TEST_PGBIN=$(q "$PGBIN")"
    echo "export EDGEPG_TEST_SERVER_USER=$(q "$SERVER_USER")"
    echo "export EDGEPG_TEST_DSN=$(q "postgres://edgepg:edgepg_pw@127.0.0.1:$PORT/edgepg_test")"
    if [ -n "$WS_PORT" ]; then echo "export EDGEPG_TEST_WS_PORT=$(q "$WS_PORT")"; fi
} > "$RUN/env.tmp"
mv "$RUN/env.tmp" "$RUN/env"

version="$("$PGBIN/postgres" --version | awk '{print $3}')"
say "PostgreSQL $version running on 127.0.0.1:$PORT (socket $RUN/sock, as $SERVER_USER); env in $RUN/env"
