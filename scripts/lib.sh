# Shared helpers for edgepg's shell scripts. Source it; it defines functions only.
# shellcheck shell=bash

# Absolute path of the repository root (this file lives in <root>/scripts).
# shellcheck disable=SC2034 # used by the scripts that source this file
EDGEPG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Prints a message on stderr, prefixed with the calling script's name.
say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# Prints a message on stderr and exits with status 1.
die() { say "error: $*"; exit 1; }

# Runs a command with root rights: directly when we are root, through sudo when it exists,
# otherwise fails with a message (we never prompt for anything else).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' (not root and no sudo): install it by hand"
    fi
}

# Prints the bin directory of the highest installed PostgreSQL server version
# (Debian puts them in /usr/lib/postgresql/<ver>/bin), or nothing if there is none.
pg_bin_dir() {
    local dir best=""
    # sort -V orders 9.6 < 10 < 15 < 17 correctly.
    while IFS= read -r dir; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            best="$dir"
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
    printf '%s' "$best"
}
