#!/usr/bin/env bash
# Builds the npm package's dist/: the wasm crate in the release-wasm profile
# (opt-level z, LTO, panic=abort), wasm-bindgen --target web at the version
# pinned in Cargo.lock, wasm-opt -Oz when binaryen is installed, the
# hand-written glue from src/, and a size report (scripts/size.sh: gzipped
# .wasm + JS, compared with Neon's driver, written into SIZE.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# Own target dir: the flags below differ from the other wasm builds'.
target_dir="${EDGEPG_JS_TARGET_DIR:-$root/target/js}"
# Debian's wasm-opt (binaryen 108) corrupts the externref table wasm-bindgen
# emits when reference types are on (rustc's default since 1.82): build the
# .wasm without them, so wasm-bindgen keeps JS objects in a JS-side slab.
export RUSTFLAGS="-C target-feature=-reference-types,-multivalue"
export CARGO_TARGET_DIR="$target_dir"
out="$here/dist"

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
    echo "js/build.sh: wasm-bindgen $want is needed (have '${have:-none}'): run scripts/setup.sh" >&2
    exit 1
fi

start=$SECONDS
# strip=true: the std objects' target_features section still claims
# reference-types, which would make wasm-bindgen expect an externref table.
# --no-default-features: no SASLprep Unicode tables (~45 KB gzipped; ASCII
# passwords are unaffected) and no rust_decimal (JS gets numeric as strings).
(cd "$root" && cargo build -q -p edgepg-wasm --lib --no-default-features --target wasm32-unknown-unknown \
    --profile release-wasm \
    --config 'profile.release-wasm.strip=true')
echo "cargo build (release-wasm): $((SECONDS - start)) s"

rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d /tmp/edgepg-js-build.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
wasm-bindgen --target web --weak-refs --no-typescript --out-name edgepg --out-dir "$tmp" \
    "$target_dir/wasm32-unknown-unknown/release-wasm/edgepg_wasm.wasm"
if command -v wasm-opt >/dev/null 2>&1; then
    # Debian's binaryen; the features match what rustc emits for wasm32 today.
    # --low-memory-unused: rustc lays the stack out first (data starts at
    # 1 MiB), so addresses below 1 KiB are only reached by a stack that is
    # about to overflow; binaryen may then fold `pointer + constant` into
    # load/store offsets (-1.5 KB gzipped, see SIZE.md). --converge: the -Oz
    # passes again until the module stops shrinking (-0.6 KB gzipped; the
    # same passes, so the same semantics; 9 s instead of 5 here).
    # --one-caller-inline-max-function-size 20: binaryen inlines every
    # function that has one caller whatever its size (-1); rustc's LLVM has
    # already inlined what pays for speed, and what binaryen merges on top
    # compresses worse (each inlined body gets fresh local indices) and is
    # compiled as one piece on first call: 20 bytes is -12.5 KB gzipped for
    # +7.7 KB raw (SIZE.md).
    wasm-opt -Oz --converge --one-caller-inline-max-function-size 20 --low-memory-unused \
        --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int "$tmp/edgepg_bg.wasm" -o "$out/edgepg_bg.wasm"
else
    echo "js/build.sh: wasm-opt not found (apt-get install binaryen): .wasm not shrunk" >&2
    cp "$tmp/edgepg_bg.wasm" "$out/edgepg_bg.wasm"
fi
cp "$tmp/edgepg.js" "$out/edgepg.js"
cp "$here"/src/*.js "$here"/src/*.d.ts "$out/"
node "$here/scripts/cjs.mjs"
# The CommonJS entries' declarations (.d.cts, the `types.require` of
# package.json `exports`): in this "type": "module" package TypeScript reads a
# .d.ts as an ES module, and with node16/nodenext resolution refuses it to a
# CommonJS file (TS1479). Same text; their imports point at each other.
for f in index pg prisma; do
    sed -E 's#from "\./(index|pg)\.js"#from "./\1.cjs"#' "$here/src/$f.d.ts" >"$out/$f.d.cts"
done

# Minified JS in dist/ (the readable sources are src/ and wasm-bindgen's
# output): esbuild in transform mode, one file at a time, so imports (the
# .wasm module of workerd.js and edge-light.js among them) stay as they are.
# Our own files: whitespace and syntax only, identifiers kept, so every
# class and function keeps its name (stack traces, and `constructor.name`,
# which ORMs check) without esbuild's --keep-names: that re-sets `.name`
# with Object.defineProperty on every closure made at run time, which cost
# an edgepg/pg query ~4 µs in a profile, and it costs every module load
# ~200 calls. Shortening identifiers would save ~0.3 KB gzipped (SIZE.md).
# The ESM wasm-bindgen glue (edgepg.js) is fully minified: its classes and
# functions are only reached through api.js and its imports are named by
# their object keys.
esbuild="$here/node_modules/.bin/esbuild"
if [ ! -x "$esbuild" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
for f in "$out"/*.js "$out"/*.cjs; do
    case "$f" in *.cjs) format=cjs ;; *) format=esm ;; esac
    minify="--minify-whitespace --minify-syntax"
    [ "$f" = "$out/edgepg.js" ] && minify=--minify
    # shellcheck disable=SC2086 # $minify is one or two words
    "$esbuild" $minify --format="$format" --target=es2022 --log-level=warning \
        --allow-overwrite --outfile="$f" "$f"
done

# Size report: what a user downloads, raw and gzipped (-9), next to Neon's
# driver; also written into js/SIZE.md.
"$here/scripts/size.sh"
