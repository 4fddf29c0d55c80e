#!/usr/bin/env bash
# Size report of the built package (js/dist), raw and `gzip -9`: the .wasm,
# the wasm-bindgen glue, the shared JS and each entry point, the total a user
# of one entry point downloads, and Neon's serverless driver measured the same
# way when npm can fetch it (`npm pack @neondatabase/serverless`, cached under
# target/; EDGEPG_SIZE_NEON=0 skips it). Prints a table and rewrites the
# generated part of js/SIZE.md. Called by js/build.sh; can be run alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
dist="$here/dist"
md="$here/SIZE.md"

gz() { gzip -9c "$1" | wc -c | tr -d ' '; }
raw() { wc -c <"$1" | tr -d ' '; }

rows=()  # "name|raw|gzip|note"
add() { rows+=("$1|$(raw "$2")|$(gz "$2")|$3"); }

add edgepg_bg.wasm "$dist/edgepg_bg.wasm" "the module (wasm-opt -Oz)"
add edgepg.js "$dist/edgepg.js" "wasm-bindgen glue"
add api.js "$dist/api.js" "the public API (shared)"
add errors.js "$dist/errors.js" "PostgresError & co (shared)"
for entry in browser node workerd edge-light slim; do
    [ -f "$dist/$entry.js" ] && add "$entry.js" "$dist/$entry.js" "entry point"
done
[ -f "$dist/node.cjs" ] && add node.cjs "$dist/node.cjs" "CommonJS: glue + errors + api in one file"

# One ESM entry point: the .wasm, the glue, api.js, errors.js and browser.js.
t_raw=0
t_gz=0
for f in edgepg_bg.wasm edgepg.js api.js errors.js browser.js; do
    t_raw=$((t_raw + $(raw "$dist/$f")))
    t_gz=$((t_gz + $(gz "$dist/$f")))
done
rows+=("total|$t_raw|$t_gz|.wasm + JS of one entry point (browser.js)")

# The HTTP-only import (edgepg/http): http.js and errors.js, no .wasm.
if [ -f "$dist/http.js" ]; then
    add http.js "$dist/http.js" "edgepg/http: neon() over HTTP"
    rows+=("total edgepg/http|$(( $(raw "$dist/http.js") + $(raw "$dist/errors.js") ))|$(( $(gz "$dist/http.js") + $(gz "$dist/errors.js") ))|http.js + errors.js, no .wasm")
fi

# Neon's driver: its whole runtime code is one minified bundle (index.mjs for
# ESM, index.js for CommonJS); the ESM one is what an edge bundle includes.
neon_gz=""
if [ "${EDGEPG_SIZE_NEON:-1}" != 0 ] && command -v npm >/dev/null 2>&1; then
    cache="$root/target/neon-size"
    mkdir -p "$cache"
    if ! ls "$cache"/neondatabase-serverless-*.tgz >/dev/null 2>&1; then
        (cd "$cache" && timeout 90 npm pack --silent @neondatabase/serverless >/dev/null 2>&1) || true
    fi
    tgz="$(ls "$cache"/neondatabase-serverless-*.tgz 2>/dev/null | tail -n 1 || true)"
    if [ -n "$tgz" ]; then
        rm -rf "$cache/package"
        tar xzf "$tgz" -C "$cache"
        version="$(node -p 'require(process.argv[1]).version' "$cache/package/package.json" 2>/dev/null || echo '?')"
        for f in index.mjs index.js; do
            [ -f "$cache/package/$f" ] && rows+=("neon $f|$(raw "$cache/package/$f")|$(gz "$cache/package/$f")|@neondatabase/serverless $version")
        done
        [ -f "$cache/package/index.mjs" ] && neon_gz="$(gz "$cache/package/index.mjs")"
    else
        echo "js/scripts/size.sh: could not fetch @neondatabase/serverless from npm; no comparison" >&2
    fi
fi

echo "size report (bytes; gzip -9):"
table="| file | raw | gzip -9 | what |
|---|---:|---:|---|"
for r in "${rows[@]}"; do
    IFS='|' read -r name r_raw r_gz note <<<"$r"
    printf '  %-16s %8d raw %8d gzipped  %s\n' "$name" "$r_raw" "$r_gz" "$note"
    table+="
| $name | $r_raw | $r_gz | $note |"
done
ratio=""
if [ -n "$neon_gz" ]; then
    ratio="$(awk -v a="$t_gz" -v b="$neon_gz" 'BEGIN { printf "%.2f", a / b }')"
    echo "  edgepg / neon (gzipped, one entry point vs index.mjs): ${ratio}x"
    table+="

edgepg / Neon, gzipped (one entry point vs \`index.mjs\`): **${ratio}×**"
fi

# Replace the generated block of SIZE.md (between the markers), keep the rest.
if [ -f "$md" ] && grep -q '<!-- size-table:start -->' "$md"; then
    TABLE="$table" awk '
        /<!-- size-table:start -->/ { print; print ENVIRON["TABLE"]; skip = 1; next }
        /<!-- size-table:end -->/ { skip = 0 }
        !skip { print }' "$md" >"$md.tmp" && mv "$md.tmp" "$md"
fi
