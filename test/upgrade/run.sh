#!/usr/bin/env bash
# The upgrade tier (tier.mk): a user replaces Debian's libdqlite.so.0 with
# ours under a program that has data. For each case, go-dqlite's app
# (test/upgrade/node) writes keys on the reference library 1.11.1, then runs
# again on the same directories with LD_LIBRARY_PATH=BUILD_DIR and must read
# every key back (on 3 nodes: through each node as leader in turn) and
# accept a write; the 1.11 files must be in dqlite-1.11-backup/. A damaged
# directory must be refused, naming the file, with its files unchanged.
#
#   test/upgrade/run.sh BUILD_DIR      (UPGRADE_NODE overrides the program,
#                                       UPGRADE_KEEP=1 keeps the directories)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
node=${UPGRADE_NODE:-$build/test/upgrade-node}
[ -x "$node" ] || { echo "upgrade: $node missing (make $node)" >&2; exit 1; }
[ -e "$build/libdqlite.so.0" ] || { echo "upgrade: no $build/libdqlite.so.0" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-upgrade.XXXXXX")
cleanup() {
    if [ "${UPGRADE_KEEP:-0}" = 1 ]; then echo "upgrade: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
PORTS_DIR=$tmp
# shellcheck source=../lib/ports.sh
. "$root/test/lib/ports.sh"
tested=0 failing=0

result() { # name status log
    tested=$((tested + 1))
    if [ "$2" = 0 ]; then
        echo "[PASS] upgrade::$1"
    else
        failing=$((failing + 1))
        echo "[FAIL] upgrade::$1"
        sed 's/^/    /' "$3" | tail -20
    fi
}

# Sets dirs and addrs for a case of $2 nodes.
layout() {
    dirs="" addrs=""
    local i
    for i in $(seq "$2"); do
        dirs+="${dirs:+,}$tmp/$1/n$i"
        addrs+="${addrs:+,}127.0.0.1:$(free_port)"
    done
}

reference() { # name nodes keys stop|crash [snapshot]
    layout "$1" "$2"
    env -u LD_LIBRARY_PATH timeout 120 "$node" -dirs "$dirs" -addrs "$addrs" \
        ${5:+-snapshot "$5"} write 1 "$3" "$4" >"$tmp/$1.ref.log" 2>&1
}

ours() { # name keys [snapshot]
    LD_LIBRARY_PATH=$build timeout 120 "$node" -dirs "$dirs" -addrs "$addrs" \
        ${3:+-snapshot "$3"} check "$2" >"$tmp/$1.log" 2>&1
}

backed_up() {
    local d
    for d in ${dirs//,/ }; do
        [ -e "$d/dqlite-1.11-backup/metadata1" ] && [ ! -e "$d/metadata1" ] ||
            { echo "$d: 1.11 files not in dqlite-1.11-backup/" >>"$tmp/$1.log"; return 1; }
    done
}

case_ok() { # name nodes keys stop|crash [snapshot]
    local st=0
    reference "$1" "$2" "$3" "$4" "${5:-}" || { result "$1" 1 "$tmp/$1.ref.log"; return; }
    ours "$1" "$3" "${5:-}" && grep -qx ok "$tmp/$1.log" && backed_up "$1" || st=1
    result "$1" "$st" "$tmp/$1.log"
}

# A closed segment damaged in the middle: refused, named, untouched.
case_refused() {
    local st=0 seg before after
    reference refused 1 10 stop || { result refused 1 "$tmp/refused.ref.log"; return; }
    seg=$(cd "$tmp/refused/n1" && ls -S [0-9]*-[0-9]* | head -1)
    printf '\xff\xff\xff\xff' | dd of="$tmp/refused/n1/$seg" bs=1 seek=200 conv=notrunc status=none
    before=$(cd "$tmp/refused/n1" && find . -type f | sort | xargs md5sum)
    if ours refused 10; then st=1; echo "started on a damaged directory" >>"$tmp/refused.log"; fi
    grep -q "$seg" "$tmp/refused.log" || { st=1; echo "no mention of $seg" >>"$tmp/refused.log"; }
    after=$(cd "$tmp/refused/n1" && find . -type f | sort | xargs md5sum)
    [ "$before" = "$after" ] || { st=1; echo "files changed" >>"$tmp/refused.log"; }
    result refused "$st" "$tmp/refused.log"
}

case_ok one-closed 1 10 stop
case_ok one-open 1 20 crash
case_ok one-snapshots 1 60 crash 16,32
case_ok three-nodes 3 40 crash 16,32
case_refused
echo "upgrade: $tested tested, $((tested - failing)) passing, $failing failing"
[ "$failing" = 0 ]
