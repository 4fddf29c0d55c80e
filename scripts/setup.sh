#!/usr/bin/env bash
# Installs what edgepg's tests and demo need, and only what is missing:
#   * Debian packages: postgresql (server + psql), openssl (test certificates),
#     pgbouncer and websockify (pooler / WebSocket-tunnel tests), chromium + chromium-driver
#     (wasm-bindgen-test browser tests), binaryen (wasm-opt, shrinks the release .wasm);
#   * the Rust target wasm32-unknown-unknown (the core must build for it);
#   * wasm-bindgen-cli at the exact version of the wasm-bindgen crate in Cargo.lock
#     (`cargo install`, about 5 minutes on 2 cores; only when the installed one differs);
#   * wasm-pack (`cargo install`, pinned below; about 3 minutes) for the wasm crate's tests;
#   * the JS runtimes of the test matrix — Node 22, Node 24, Bun, Deno — from npm, pinned in
#     tools/runtimes/, into a cache folder outside the clone (scripts/runtimes.sh).
# Idempotent and silent when everything is already there. `apt-get update` runs at most
# once, and only when a package is missing. Uses sudo only when not root and sudo exists.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
pgbin="$(pg_bin_dir)"
if [ -z "$pgbin" ]; then
    missing+=(postgresql)
elif [ ! -x "$pgbin/psql" ] || [ ! -x "$pgbin/pg_isready" ]; then
    # The server package pulls in the client of its version; this only happens when someone
    # removed the client afterwards.
    missing+=("postgresql-client-$(basename "$(dirname "$pgbin")")")
fi
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v websockify >/dev/null 2>&1 || missing+=(websockify)
# Node and npm run the npm package's tests and the edge half of the demo.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen)

if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install them by hand"
    say "installing ${missing[*]} with apt-get"
    # apt chatters on stderr even when all goes well: keep its output, show it on failure.
    aptlog="$(mktemp /tmp/edgepg-apt.XXXXXX)"
    # </dev/null: CI has no stdin and nothing may prompt.
    if ! { as_root apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}"; } </dev/null >"$aptlog" 2>&1; then
        cat "$aptlog" >&2
        rm -f "$aptlog"
        die "apt-get could not install ${missing[*]} (output above)"
    fi
    rm -f "$aptlog"
    [ -n "$(pg_bin_dir)" ] || die "postgresql installed but no server found in /usr/lib/postgresql/*/bin"
fi

# The core crate must build for the browser/edge target.
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "adding Rust target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
            || die "rustup target add wasm32-unknown-unknown failed"
    fi
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown" ]; then
    die "no rustup and the toolchain lacks wasm32-unknown-unknown: install that target by hand"
fi

# wasm-bindgen's CLI (the test runner and the JS glue generator) must match the crate exactly.
# No --locked: the registry here may lack the newest release of one of its dependencies.
wb_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' \
    "$EDGEPG_ROOT/Cargo.lock")"
if [ -n "$wb_version" ]; then
    have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
    if [ "$have" != "$wb_version" ]; then
        say "installing wasm-bindgen-cli $wb_version with cargo (about 5 minutes)"
        cargo install -q wasm-bindgen-cli --version "$wb_version" \
            || die "cargo install wasm-bindgen-cli --version $wb_version failed"
    fi
fi

# wasm-pack runs the wasm crate's tests (`wasm-pack test --node --headless --chrome`). It uses the
# chromedriver and wasm-bindgen it finds on PATH, so nothing is downloaded at test time.
wasm_pack_version=0.15.1
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)" != "$wasm_pack_version" ]; then
    say "installing wasm-pack $wasm_pack_version with cargo (about 3 minutes)"
    cargo install -q wasm-pack --version "$wasm_pack_version" \
        || die "cargo install wasm-pack --version $wasm_pack_version failed"
fi

# Node 22/24, Bun and Deno for the JS runtime matrix (js/test/runtimes.test.mjs).
"$EDGEPG_ROOT/scripts/runtimes.sh"
