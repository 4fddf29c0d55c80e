#!/usr/bin/env bash
# What each part of the JS API weighs in the npm package's .wasm, and what the
# core weighs without any of it (the tables "What each JS feature costs" in
# js/SIZE.md). For analysis only: nothing in the build uses it.
#
#   js/scripts/wasm-weigh.sh [VARIANT...]     (default: all of them)
#
# Variants: full (the .wasm js/build.sh makes), no-copy, no-tcp, no-pg,
# no-cursor, no-transaction (that part of wasm/src/js compiled out), lite
# (all five of those out at once), and
# core-alone (wasm/examples/size_probe.rs: connect over a WebSocket, fetch,
# close, with the crate's `js` module compiled out so none of its exports
# are linked in). Each variant is a copy of the tracked files of this
# checkout (uncommitted edits included) with one edit, built as js/build.sh
# builds (release-wasm, --no-default-features, wasm-bindgen, wasm-opt -Oz
# --low-memory-unused) in its own target dir (target/js-weigh); prints the
# .wasm's raw and gzip -9 size. An edit whose anchor text is gone fails the
# script instead of measuring the wrong thing. EDGEPG_WEIGH_KEEP=DIR keeps
# each variant's .wasm as DIR/VARIANT.wasm (e.g. to time its compilation:
# bench/edge/coldstart.mjs --baseline).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="$root/target/js-weigh"
export RUSTFLAGS="-C target-feature=-reference-types,-multivalue"
features="--enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(full no-copy no-tcp no-pg no-cursor no-transaction lite core-alone)

work="$(mktemp -d /tmp/edgepg-wasm-weigh.XXXXXX)"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"

# Replaces `old` by `new` in `file`, failing when `old` is not there.
edit() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if old not in text:
    sys.exit(f"wasm-weigh.sh: {path} no longer contains {old!r}: update the script")
open(path, "w").write(text.replace(old, new))
EOF
}

# Compiles out `mod NAME;` of wasm/src/js/mod.rs and its `pub use`.
without_js_module() {
    edit "$tree/wasm/src/js/mod.rs" "mod $1;" "#[cfg(any())] mod $1;"
    if grep -q "^pub use $1::" "$tree/wasm/src/js/mod.rs"; then
        edit "$tree/wasm/src/js/mod.rs" "pub use $1::" "#[cfg(any())] pub use $1::"
    fi
}

printf '| variant | .wasm raw | .wasm gzip -9 |\n|---|---:|---:|\n'
for v in "${variants[@]}"; do
    # The same path every time, mtimes kept: only the crate edited below is rebuilt.
    rm -rf "$tree"
    mkdir -p "$tree"
    (cd "$root" && git ls-files -z | tar --null -T - -cf -) | tar -C "$tree" -xf -
    example=""
    case "$v" in
        full) ;;
        no-copy | no-pg | no-cursor | no-transaction) without_js_module "${v#no-}" ;;
        no-tcp | lite)
            if [ "$v" = lite ]; then
                for m in copy pg cursor transaction; do without_js_module "$m"; done
            fi
            edit "$tree/wasm/src/js/options.rs" "Ok(TcpConnector::new(factory, tcp).into())" \
                "{ let _ = (factory, tcp); Err(Error::closed()) }"
            edit "$tree/wasm/src/edge.rs" \
                "let Connected { stream, tls_server_end_point } = c.connect(host, port, config).await?;
                    Connected { stream: EdgeStream::Tcp(stream), tls_server_end_point }" \
                "let _ = c; return Err(edgepg_core::Error::closed());"
            for call in "s.poll_read_buf(cx, buf)" "s.poll_write(cx, data)" "s.poll_flush(cx)" "s.poll_close(cx)"; do
                edit "$tree/wasm/src/edge.rs" "EdgeStream::Tcp(s) => $call" "EdgeStream::Tcp(_) => unreachable!()"
            done
            ;;
        core-alone)
            edit "$tree/wasm/src/lib.rs" "pub mod js;" "#[cfg(any())] pub mod js;"
            example=size_probe
            ;;
        *) echo "wasm-weigh.sh: unknown variant $v" >&2; exit 2 ;;
    esac
    touch "$tree/wasm/src/lib.rs"
    if [ -n "$example" ]; then
        what=(--example "$example")
        out="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-wasm/examples/$example.wasm"
    else
        what=(--lib)
        out="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-wasm/edgepg_wasm.wasm"
    fi
    rm -f "$out"
    if ! (cd "$tree" && cargo build -q -p edgepg-wasm "${what[@]}" --no-default-features \
        --target wasm32-unknown-unknown --profile release-wasm --config 'profile.release-wasm.strip=true' \
        >"$work/cargo.log" 2>&1); then
        cat "$work/cargo.log" >&2
        exit 1
    fi
    rm -rf "$work/bg"
    wasm-bindgen --target web --weak-refs --no-typescript --out-name edgepg --out-dir "$work/bg" "$out"
    # shellcheck disable=SC2086 # the feature flags are words
    wasm-opt -Oz --converge --one-caller-inline-max-function-size 20 --low-memory-unused $features "$work/bg/edgepg_bg.wasm" -o "$work/opt.wasm"
    printf '| %s | %s | %s |\n' "$v" "$(wc -c <"$work/opt.wasm" | tr -d ' ')" "$(gzip -9c "$work/opt.wasm" | wc -c | tr -d ' ')"
    if [ -n "${EDGEPG_WEIGH_KEEP:-}" ]; then
        mkdir -p "$EDGEPG_WEIGH_KEEP"
        cp "$work/opt.wasm" "$EDGEPG_WEIGH_KEEP/$v.wasm"
    fi
done
