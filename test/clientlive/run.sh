#!/usr/bin/env bash
# The client-live tier: our C client against real clusters.
#
#   test/clientlive/run.sh BUILD_DIR      (make check-clientlive [SAN=1])
#
# Starts 3 dqlited nodes of BUILD_DIR (plus a 4th, not a member, for the
# membership calls) on free 127.0.0.1 ports in a temporary directory and
# runs BUILD_DIR/test/clientlive against them; then does the same with the
# reference: Debian's dqlite-demo (go-dqlite's demo on libdqlite 1.11.1),
# node 1 bootstrapping and the others joining with --join (go-dqlite's app
# makes them voters; the 4th joins as a stand-by). Without dqlite-demo the
# reference half is skipped with a [SKIP] line. The program kills nodes
# itself (fail-over) by the PIDs given here; whatever is left is stopped by
# PID on exit and the directory removed. After each half the nodes' logs
# are searched for sanitizer reports and assertion failures. Prints the
# program's lines and ends with
#   [====] client-live: Tested: N | Passing: N | Failing: N
# The programs run from private copies in the temporary directory (a
# concurrent rebuild cannot swap them). CLIENTLIVE_ONLY=ours|reference runs
# one half; CLIENTLIVE_KEEP=1 keeps the temporary directory (node logs) for
# a look after a failure; CLIENTLIVE_DEMO=PATH picks another dqlite-demo.
set -uo pipefail
B=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
PROG=$B/test/clientlive
DEMO=${CLIENTLIVE_DEMO:-$(command -v dqlite-demo || true)}
ONLY=${CLIENTLIVE_ONLY:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-clientlive.XXXXXX")
PIDS=()
tested=0 passed=0 failed=0

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_all
    if [ "${CLIENTLIVE_KEEP:-0}" = 1 ]; then
        echo "client-live: kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# members ADDR: the cluster as ADDR's leader reports it (id|address|role).
members() { timeout 10 "$BIN/dqlite" -s "$1" clientlive .cluster 2>/dev/null; }
count_role() { # ADDR ROLE N: the cluster has N nodes of ROLE
    [ "$(members "$1" | grep -c "|$2\$")" = "$3" ]
}
has_member() { members "$1" | grep -q "|$2|"; }

# result NAME STATUS [FILE]: a check of the runner itself.
result() {
    tested=$((tested + 1))
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
        echo "[PASS] $1"
    else
        failed=$((failed + 1))
        echo "[FAIL] $1"
        [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/       /' "$3" | tail -20
    fi
}

# start_ours DIR: dqlited nodes 1-3 (a cluster) and 4 (not a member).
start_ours() {
    local dir=$1 i join
    for i in 1 2 3 4; do
        ADDR[$i]=127.0.0.1:$(free_port)
        case $i in 2 | 3) join=${ADDR[1]} ;; *) join="" ;; esac
        # shellcheck disable=SC2086
        "$BIN/dqlited" --id "$i" --address "${ADDR[$i]}" --dir "$dir/n$i" \
            ${join:+--join "$join"} --failure-domain "$i" --log-level info \
            >"$dir/n$i.out" 2>"$dir/n$i.log" &
        PIDS+=($!)
        PID[$i]=$!
        wait_for 60 grep -q '^listening on' "$dir/n$i.out" || {
            echo "client-live: dqlited node $i did not start" >&2
            tail -5 "$dir/n$i.log" >&2
            return 1
        }
    done
}

# start_ref DIR: dqlite-demo nodes 1-3 (voters) and 4 (a stand-by).
start_ref() {
    local dir=$1 i join=""
    for i in 1 2 3 4; do
        ADDR[$i]=127.0.0.1:$(free_port)
        # shellcheck disable=SC2086
        "$DEMO" --api "127.0.0.1:$(free_port)" --db "${ADDR[$i]}" \
            --dir "$dir/n$i" ${join:+--join "$join"} -v \
            >"$dir/n$i.log" 2>&1 &
        PIDS+=($!)
        PID[$i]=$!
        join=${ADDR[1]}
        wait_for 60 has_member "${ADDR[1]}" "${ADDR[$i]}" || {
            echo "client-live: dqlite-demo node $i did not join" >&2
            tail -5 "$dir/n$i.log" >&2
            return 1
        }
    done
    # go-dqlite's app promotes the joined nodes on its own: 3 voters, then
    # the 4th as a stand-by.
    wait_for 60 count_role "${ADDR[1]}" voter 3 &&
        wait_for 60 count_role "${ADDR[1]}" stand-by 1 || {
        echo "client-live: the reference cluster did not settle:" >&2
        members "${ADDR[1]}" >&2
        return 1
    }
}

# logs_clean DIR: no sanitizer report nor assertion failure in node logs.
logs_clean() {
    ! grep -l -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|Assertion .* failed|assertion failed" \
        "$1"/n*.log
}

# run_half SERVER: starts the cluster, runs the program, checks the logs.
run_half() {
    local server=$1 dir=$TMP/$1 out=$TMP/$1.out rc
    declare -gA ADDR=() PID=()
    mkdir -p "$dir"
    if ! "start_$([ "$server" = ours ] && echo ours || echo ref)" "$dir"; then
        result "$server::cluster-start" 1
        stop_all
        return
    fi
    # The shell's notes about the nodes the program killed go to a file.
    {
        timeout -k 5 200 "$PROG" --server "$server" \
            --nodes "${ADDR[1]},${ADDR[2]},${ADDR[3]}" \
            --pids "${PID[1]},${PID[2]},${PID[3]}" \
            --extra "${ADDR[4]}" --extra-pid "${PID[4]}" --dir "$dir" 2>&1 |
            tee "$out"
        rc=${PIPESTATUS[0]}
        stop_all
    } 2>>"$TMP/shell-notes"
    count_program "$out" "$rc" "$server"
    if [ "$server" = ours ]; then
        logs_clean "$dir" >"$TMP/logs.out" 2>&1
        result "$server::node-logs-clean" $? "$TMP/logs.out"
    fi
    if [ "$rc" != 0 ]; then
        for f in "$dir"/n*.log; do
            echo "---- last lines of $server $(basename "$f")"
            tail -8 "$f"
        done
    fi
}

# count_program OUT RC SERVER: adds the program's summary to the totals.
count_program() {
    local line t p f
    line=$(grep '^\[====\] client-live' "$1" | tail -1)
    if [[ $line =~ Tested:\ ([0-9]+)\ \|\ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
        t=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}
        tested=$((tested + t)) passed=$((passed + p)) failed=$((failed + f))
        # A crash or sanitizer exit after a clean summary still fails.
        [ "$f" = 0 ] && [ "$2" != 0 ] && result "$3::program-exit-status ($2)" 1
    else
        result "$3::program-summary (exit $2, no summary line)" 1
    fi
}

[ -x "$PROG" ] || { echo "client-live: $PROG missing (run make)" >&2; exit 2; }
# Private copies: a concurrent rebuild of BUILD_DIR must not swap a binary
# under a node being started.
mkdir -p "$TMP/bin"
cp "$PROG" "$B/dqlited" "$B/dqlite" "$TMP/bin/" || exit 2
PROG=$TMP/bin/clientlive
BIN=$TMP/bin
start=$(date +%s)
if [ "$ONLY" != reference ]; then
    run_half ours
fi
if [ "$ONLY" != ours ]; then
    if [ -n "$DEMO" ] && [ -x "$DEMO" ]; then
        run_half reference
    else
        echo "[SKIP] client-live (reference): dqlite-demo not installed" \
            "(Debian package go-dqlite; scripts/deps.sh installs it)"
    fi
fi
echo "client-live: $(($(date +%s) - start)) s"
echo "[====] client-live: Tested: $tested | Passing: $passed | Failing: $failed"
[ "$failed" -eq 0 ]
