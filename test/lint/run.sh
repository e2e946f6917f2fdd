#!/usr/bin/env bash
# Tests of the include checker (scripts/check-includes.sh): it passes on the
# real tree, and for every module of docs/design.md §4 a forbidden include planted in
# a scratch copy makes it fail. Prints a summary line like the other runners.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
checker=$repo/scripts/check-includes.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
ko() { echo "lint: FAIL: $1"; failed=$((failed + 1)); }

if "$checker" "$repo" >/dev/null; then ok; else ko "real tree rejected"; fi

# expect_reject MODULE INCLUDE_LINE
expect_reject() {
    rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/src/$1"
    printf '%s\n' "$2" >"$tmp/tree/src/$1/planted.c"
    if "$checker" "$tmp/tree" >/dev/null; then
        ko "src/$1 accepted: $2"
    else
        ok
    fi
}
# expect_accept MODULE INCLUDE_LINE
expect_accept() {
    rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/src/$1"
    printf '%s\n' "$2" >"$tmp/tree/src/$1/planted.c"
    if "$checker" "$tmp/tree" >/dev/null; then ok; else ko "src/$1 rejected: $2"; fi
}

expect_reject raft '#include <uv.h>'
expect_reject raft '#include <sqlite3.h>'
expect_reject raft '#include <time.h>'
expect_reject raft '#include <stdio.h>'
expect_reject raft '#include <unistd.h>'
expect_reject raft '#include "vfs/vfs.h"'
expect_reject raft '#include "raftio/log.h"'
expect_reject raft '#include "../vfs/vfs.h"'
expect_accept raft '#include "lib/buf.h"'
expect_reject lib '#include "raft/raft.h"'
expect_reject lib '#include <uv.h>'
expect_reject proto '#include <sys/socket.h>'
expect_reject proto '#include "raft/raft.h"'
expect_reject proto '#include <uv.h>'
expect_accept proto '#include "lib/byte.h"'
expect_reject vfs '#include <uv.h>'
expect_reject vfs '#include "raft/raft.h"'
expect_accept vfs '#include <sqlite3.h>'
expect_reject raftio '#include <sqlite3.h>'
expect_reject raftio '#include "vfs/vfs.h"'
expect_accept raftio '#include <uv.h>'
expect_accept raftio '#include "raft/raft.h"'
expect_reject repl '#include <uv.h>'
expect_reject repl '#include "raftio/log.h"'
expect_reject repl '#include "proto/message.h"'
expect_accept repl '#include "vfs/vfs.h"'
expect_reject client '#include <uv.h>'
expect_reject client '#include "raft/raft.h"'
expect_reject client '#include "server/node.h"'
expect_accept client '#include "proto/message.h"'
expect_accept server '#include "repl/fsm.h"'
expect_accept server '#include <uv.h>'

# cmd/ may use public headers only.
rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/cmd/x"
echo '#include "server/node.h"' >"$tmp/tree/cmd/x/main.c"
if "$checker" "$tmp/tree" >/dev/null; then ko "cmd accepted an internal header"; else ok; fi

echo "[====] lint: Tested: $((passed + failed)) | Passing: $passed | Failing: $failed"
[ $failed -eq 0 ]
