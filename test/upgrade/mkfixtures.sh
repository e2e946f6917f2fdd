#!/usr/bin/env bash
# Regenerates test/upgrade/fixtures/*.tar.xz: real dqlite 1.11 data
# directories written by go-dqlite's app on Debian's libdqlite0 1.11.1
# (test/upgrade/node), which test/unit/server/test_upgrade.c converts with
# no reference library installed (docs/disk-format.md §5).
#
#   test/upgrade/mkfixtures.sh BUILD_DIR     (needs BUILD_DIR/test/upgrade-node)
#
# one-open   1 node, 20 keys, killed: open segments, no snapshot
# one-snap   1 node, 60 keys, snapshots every 16 entries (trailing 32),
#            killed: two snapshots, closed and open segments
# three      3 nodes n1 n2 n3, 40 keys, snapshots every 16 entries, killed
# Each archive holds DIR/keys (the number of keys) and DIR/addrs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: mkfixtures.sh BUILD_DIR}" && pwd)
node=$build/test/upgrade-node
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-fixtures.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
PORTS_DIR=$tmp
# shellcheck source=../lib/ports.sh
. "$root/test/lib/ports.sh"
out=$root/test/upgrade/fixtures
mkdir -p "$out"

make_one() { # name keys nodes [snapshot params]
    local name=$1 keys=$2 nodes=$3 snap=${4:-} dirs="" addrs="" i
    for i in $(seq "$nodes"); do
        dirs+="${dirs:+,}$tmp/$name/n$i"
        addrs+="${addrs:+,}127.0.0.1:$(free_port)"
    done
    mkdir -p "$tmp/$name"
    env -u LD_LIBRARY_PATH timeout 300 "$node" -dirs "$dirs" -addrs "$addrs" \
        ${snap:+-snapshot "$snap"} write 1 "$keys" crash
    echo "$keys" >"$tmp/$name/keys"
    echo "$addrs" >"$tmp/$name/addrs"
    tar -C "$tmp" -cJf "$out/$name.tar.xz" "$name"
    echo "mkfixtures: $out/$name.tar.xz ($(stat -c %s "$out/$name.tar.xz") bytes)"
}

ldd "$node" | grep -q '/libdqlite.so.0' || { echo "mkfixtures: $node not linked to libdqlite" >&2; exit 1; }
make_one one-open 20 1
make_one one-snap 60 1 16,32
make_one three 40 3 16,32
