#!/usr/bin/env bash
# Builds the Worker into build/: cargo for wasm32-unknown-unknown (release:
# size-optimised, panic=abort), then wasm-bindgen --target web at the version
# in Cargo.lock (the same as the repository's, installed by scripts/setup.sh).
# worker-build is not used: it downloads its own wasm-bindgen and esbuild,
# which needs more than a package registry (see README.md). shim.mjs is the
# entry module.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Beside the repository's other build output (CI keeps CARGO_TARGET_DIR between runs).
target_dir="${CARGO_TARGET_DIR:-$here/../../target}/worker-rs"

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$here/Cargo.lock")"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
    echo "worker-rs/build.sh: wasm-bindgen $want is needed (have '${have:-none}'): cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi

(cd "$here" && CARGO_TARGET_DIR="$target_dir" cargo build -q --release --target wasm32-unknown-unknown)
rm -rf "$here/build"
wasm-bindgen --target web --no-typescript --out-name index --out-dir "$here/build" \
    "$target_dir/wasm32-unknown-unknown/release/edgepg_worker_example.wasm"
echo "worker-rs: build/index_bg.wasm $(wc -c <"$here/build/index_bg.wasm") bytes"
