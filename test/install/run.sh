#!/usr/bin/env bash
# The install tier (make check-install):
#
#   test/install/run.sh BUILD_DIR [CFLAGS]
#
# Installs the build into a temporary PREFIX (the tree was built for
# another PREFIX, /usr/local by default), checks the installed dqlite.pc
# names that PREFIX, builds and runs a small program with pkg-config
# against it (with Debian's libdqlite-dev installed, a .pc saying
# /usr/local would silently pick the reference library's), uninstalls, and
# checks that nothing is left. CFLAGS (the sanitizer flags under SAN=1) go
# to the small program. Last line: "[====] install: Tested: N | ...".
set -uo pipefail
B=${1:?usage: run.sh BUILD_DIR [CFLAGS]}
EXTRA_CFLAGS=${2:-}
MODE=$(basename "$B")
SAN=0
[ "$MODE" = asan ] && SAN=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-install.XXXXXX")
PREFIX=$TMP/prefix/x
trap 'rm -rf "$TMP"' EXIT
tested=0 passed=0 failed=0

check() {
    local name=$1
    shift
    tested=$((tested + 1))
    if "$@" >"$TMP/check.out" 2>&1; then
        passed=$((passed + 1))
        echo "[PASS] $name"
    else
        failed=$((failed + 1))
        echo "[FAIL] $name"
        sed 's/^/       /' "$TMP/check.out"
    fi
}

t_install() {
    make --no-print-directory SAN=$SAN install PREFIX="$PREFIX" || return 1
    [ -f "$PREFIX/lib/pkgconfig/dqlite.pc" ] && [ -x "$PREFIX/bin/dqlited" ]
}

t_pc_follows_prefix() {
    local pc=$PREFIX/lib/pkgconfig/dqlite.pc
    grep -qx "prefix=$PREFIX" "$pc" || { cat "$pc"; return 1; }
    ! grep -q /usr/local "$pc" || { cat "$pc"; return 1; }
    [ "$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --variable=prefix \
        dqlite)" = "$PREFIX" ]
}

t_program_builds_and_runs() {
    local flags
    flags=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs \
        dqlite) || return 1
    echo "pkg-config: $flags"
    case "$flags" in *"-I$PREFIX/include"*) ;; *) return 1 ;; esac
    cat >"$TMP/prog.c" <<'PROG'
#include <dqlite.h>
#include <stdio.h>
int main(void)
{
#ifndef DQLITE_LOCKED /* only this tree's header has it */
#error not this tree's dqlite.h
#endif
    dqlite_node *n;
    int rv = dqlite_node_create(1, "127.0.0.1:1", "/nonexistent", &n);
    printf("%d %s\n", dqlite_version_number(), rv != 0 ? "refused" : "?");
    dqlite_node_destroy(n);
    return 0;
}
PROG
    # shellcheck disable=SC2086 # flags are words
    cc $EXTRA_CFLAGS -o "$TMP/prog" "$TMP/prog.c" $flags || return 1
    # Linked against the installed library, not a system one.
    LD_LIBRARY_PATH=$PREFIX/lib ldd "$TMP/prog" | tee "$TMP/ldd"
    grep -q "libdqlite.so.0 => $PREFIX/lib/libdqlite.so.0" "$TMP/ldd" ||
        return 1
    expect="11100 refused"
    [ "$(LD_LIBRARY_PATH=$PREFIX/lib "$TMP/prog")" = "$expect" ]
}

t_uninstall_leaves_nothing() {
    make --no-print-directory SAN=$SAN uninstall PREFIX="$PREFIX" || return 1
    local left
    # The PREFIX directory itself is the caller's; nothing inside stays.
    left=$(find "$PREFIX" -mindepth 1)
    [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

check "make install PREFIX=<temp> after a build for another PREFIX" t_install
check "installed dqlite.pc names the install PREFIX" t_pc_follows_prefix
check "a program builds with pkg-config and runs on the installed library" \
    t_program_builds_and_runs
check "make uninstall removes everything install wrote" \
    t_uninstall_leaves_nothing
echo "[====] install: Tested: $tested | Passing: $passed | Failing: $failed"
[ "$failed" -eq 0 ]
