#!/usr/bin/env bash
# Prints where the npm package's .wasm goes, part by part (the table in
# js/SIZE.md): builds the wasm crate as js/build.sh does but keeping function
# names (own target dir, target/js-named), runs wasm-bindgen and wasm-opt -Oz
# with -g, and attributes the gzipped size with wasm-parts.py against
# js/dist/edgepg_bg.wasm (run js/build.sh first). For analysis only: nothing
# in the build uses it. `twiggy top`/`twiggy paths` on the named .wasm it
# leaves in target/js-named/ show single functions and who keeps them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="$root/target/js-named"
export RUSTFLAGS="-C target-feature=-reference-types,-multivalue"
(cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo build -q -p edgepg-wasm --lib --no-default-features \
    --target wasm32-unknown-unknown --profile release-wasm --config 'profile.release-wasm.strip=false')
features="--enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int"
tmp="$(mktemp -d /tmp/edgepg-wasm-parts.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# DWARF and the std objects' target_features section out (wasm-bindgen cannot
# rewrite the former and would expect an externref table from the latter);
# the name section stays.
# shellcheck disable=SC2086 # the feature flags are words
wasm-opt -O0 -g --strip-dwarf --strip-target-features $features \
    "$target_dir/wasm32-unknown-unknown/release-wasm/edgepg_wasm.wasm" -o "$tmp/in.wasm"
wasm-bindgen --target web --weak-refs --no-typescript --keep-debug --out-name edgepg --out-dir "$tmp" "$tmp/in.wasm"
# shellcheck disable=SC2086
wasm-opt -Oz --converge --one-caller-inline-max-function-size 20 --low-memory-unused -g $features "$tmp/edgepg_bg.wasm" -o "$target_dir/edgepg_named.wasm"
python3 "$here/scripts/wasm-parts.py" "$target_dir/edgepg_named.wasm" "$here/dist/edgepg_bg.wasm"
