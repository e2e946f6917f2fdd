#!/usr/bin/env bash
# The upgrade tier (tier.mk): a user replaces Debian's libdqlite.so.0 with
# ours under a program that has data. First Debian's dqlite-demo itself
# (keys stored over HTTP, restarted on our library, read back). Then, for
# each case, go-dqlite's app
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
    # node.lock is the library's data directory lock (docs/abi.md), made
    # before the conversion looks at the 1.11 files: it is not one of them.
    before=$(cd "$tmp/refused/n1" && find . -type f ! -name node.lock | sort | xargs md5sum)
    if ours refused 10; then st=1; echo "started on a damaged directory" >>"$tmp/refused.log"; fi
    grep -q "$seg" "$tmp/refused.log" || { st=1; echo "no mention of $seg" >>"$tmp/refused.log"; }
    after=$(cd "$tmp/refused/n1" && find . -type f ! -name node.lock | sort | xargs md5sum)
    [ "$before" = "$after" ] || { st=1; echo "files changed" >>"$tmp/refused.log"; }
    result refused "$st" "$tmp/refused.log"
}

# HTTP/1.0 over bash's /dev/tcp: METHOD PORT PATH [BODY]; prints the body.
http() {
    local body=${4:-} reply
    exec 3<>"/dev/tcp/127.0.0.1/$2" || return 1
    printf '%s %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s' "$1" "$3" \
        "${#body}" "$body" >&3
    reply=$(timeout 10 cat <&3) || { exec 3<&-; return 1; }
    exec 3<&-
    printf '%s' "${reply#*$'\r\n\r\n'}"
}

# dqlite-demo (Debian's go-dqlite) on DIR with the library of $1 ("ref" or
# a directory for LD_LIBRARY_PATH); sets demo_pid once its API answers.
demo_start() {
    if [ "$1" = ref ]; then
        env -u LD_LIBRARY_PATH dqlite-demo -a "127.0.0.1:$api" -d "127.0.0.1:$db" \
            -D "$tmp/demo" >>"$tmp/demo.log" 2>&1 &
    else
        LD_LIBRARY_PATH=$1 dqlite-demo -a "127.0.0.1:$api" -d "127.0.0.1:$db" \
            -D "$tmp/demo" >>"$tmp/demo.log" 2>&1 &
    fi
    demo_pid=$!
    local i
    for i in $(seq 100); do
        http GET "$api" /k0 >/dev/null 2>&1 && return 0
        kill -0 "$demo_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

demo_stop() {
    kill -TERM "$demo_pid" 2>/dev/null || true
    timeout 20 tail --pid="$demo_pid" -f /dev/null || kill -KILL "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
}

# The issue's own case: dqlite-demo stores keys on 1.11.1, is restarted on
# our library (same directory) and must still serve them.
case_demo() {
    local st=0 i got
    command -v dqlite-demo >/dev/null || { echo "dqlite-demo missing" >"$tmp/demo.log"; result dqlite-demo 1 "$tmp/demo.log"; return; }
    api=$(free_port) db=$(free_port)
    if demo_start ref; then
        for i in 1 2 3 4 5; do http PUT "$api" "/k$i" "v$i" >/dev/null || st=1; done
    else
        st=1
    fi
    demo_stop
    if [ "$st" = 0 ] && demo_start "$build"; then
        for i in 1 2 3 4 5; do
            got=$(http GET "$api" "/k$i") || got=
            [ "$got" = "v$i" ] || { st=1; echo "k$i: got '$got'" >>"$tmp/demo.log"; }
        done
    else
        st=1
    fi
    demo_stop
    [ -e "$tmp/demo/127.0.0.1:$db/dqlite-1.11-backup/metadata1" ] ||
        { st=1; echo "no backup" >>"$tmp/demo.log"; }
    result dqlite-demo "$st" "$tmp/demo.log"
}

case_demo
case_ok one-closed 1 10 stop
case_ok one-open 1 20 crash
case_ok one-snapshots 1 60 crash 16,32
case_ok three-nodes 3 40 crash 16,32
case_refused
echo "upgrade: $tested tested, $((tested - failing)) passing, $failing failing"
[ "$failing" = 0 ]
