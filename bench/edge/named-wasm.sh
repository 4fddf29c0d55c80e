#!/usr/bin/env bash
# Builds edgepg's .wasm WITH function names (for --cpu-prof: cpuprofile.mjs
# then shows `edgepg_core::...::poll_event` instead of `wasm-function[297]`)
# and swaps it, with its wasm-bindgen glue, into an installed package copy:
#   bench/edge/named-wasm.sh bench/edge/node_modules/edgepg
# js/build.sh strips the module (the std objects' target_features section
# would make wasm-bindgen expect reference types); here the names are kept and
# only that section is stripped, with wasm-opt, before wasm-bindgen. Same
# flags and profile otherwise, own target dir (target/js-named); the api.js
# copied is the readable source. Not for shipping: the names section makes the
# module ~30 % larger.
set -euo pipefail
pkg="${1:?usage: named-wasm.sh PACKAGE_DIR (a copy of the edgepg package, with dist/)}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export RUSTFLAGS="-C target-feature=-reference-types,-multivalue"
export CARGO_TARGET_DIR="$root/target/js-named"
(cd "$root" && cargo build -q -p edgepg-wasm --lib --no-default-features --target wasm32-unknown-unknown \
    --profile release-wasm --config 'profile.release-wasm.strip=false' \
    --config 'profile.release-wasm.debug="line-tables-only"')
features="--enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int"
tmp="$(mktemp -d /tmp/edgepg-named.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086 # one word per flag
wasm-opt -g --strip-target-features --strip-dwarf $features \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-wasm/edgepg_wasm.wasm" -o "$tmp/in.wasm"
wasm-bindgen --target web --weak-refs --no-typescript --out-name edgepg --out-dir "$tmp" "$tmp/in.wasm"
# shellcheck disable=SC2086
wasm-opt -Oz -g --low-memory-unused $features "$tmp/edgepg_bg.wasm" -o "$pkg/dist/edgepg_bg.wasm"
cp "$tmp/edgepg.js" "$pkg/dist/edgepg.js"
cp "$root/js/src/api.js" "$pkg/dist/api.js"
echo "named-wasm.sh: $pkg/dist/edgepg_bg.wasm ($(wc -c <"$pkg/dist/edgepg_bg.wasm") bytes, with names)"
