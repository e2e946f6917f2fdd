#!/usr/bin/env bash
# make check-packaging: the systemd unit passes `systemd-analyze verify`
# (when systemd-analyze is installed), each manual page renders without a
# warning from man/groff and documents the options the program takes, and
# the example configuration is accepted by dqlited's own parser.
#
#   scripts/check-packaging.sh BUILD_DIR
set -uo pipefail
B=${1:?usage: check-packaging.sh BUILD_DIR}
failed=0
tested=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-packaging.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

check() {
    local name=$1
    shift
    tested=$((tested + 1))
    if "$@" >"$TMP/out" 2>&1; then
        echo "[PASS] $name"
    else
        failed=$((failed + 1))
        echo "[FAIL] $name"
        sed 's/^/       /' "$TMP/out"
    fi
}

unit_verifies() {
    command -v systemd-analyze >/dev/null || { echo "no systemd-analyze"; return 0; }
    # verify resolves ExecStart: point it at the built binary.
    sed "s|^ExecStart=[^ ]*|ExecStart=$(cd "$B" && pwd)/dqlited|" \
        "$B/dqlited.service" >"$TMP/dqlited.service"
    local out
    out=$(systemd-analyze verify --man=no "$TMP/dqlited.service" 2>&1)
    # Outside a booted systemd (a container) verify may complain about the
    # manager itself; only lines naming our unit count.
    if echo "$out" | grep "dqlited.service"; then
        return 1
    fi
    grep -qx "Type=notify" "$B/dqlited.service" &&
        grep -qx "Restart=on-failure" "$B/dqlited.service"
}

page_renders() { # PAGE PROGRAM
    local warnings
    warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$1" 2>&1 >/dev/null)
    [ -z "$warnings" ] || { echo "$warnings"; return 1; }
    # Every long option of --help is in the page.
    local opt
    for opt in $("$2" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
        grep -qF -- "$opt" "$1" || { echo "$1 lacks $opt"; return 1; }
    done
}

config_parses() {
    "$B/dqlited" --config packaging/dqlited.conf --version || return 1
    printf 'no-such = 1\n' >"$TMP/bad.conf"
    ! "$B/dqlited" --config "$TMP/bad.conf" --version
}

check "packaging: the systemd unit verifies" unit_verifies
check "packaging: dqlited(8) renders" page_renders "$B/man/dqlited.8" "$B/dqlited"
check "packaging: dqlite(1) renders" page_renders "$B/man/dqlite.1" "$B/dqlite"
check "packaging: dqlite-bench(1) renders" page_renders "$B/man/dqlite-bench.1" "$B/dqlite-bench"
check "packaging: the example configuration parses" config_parses
echo "[====] packaging: Tested: $tested | Passing: $((tested - failed)) | Failing: $failed"
[ "$failed" -eq 0 ]
