#!/usr/bin/env bash
# Integration tests of dqlited and the dqlite shell:
#
#   test/integration/run.sh BUILD_DIR      (make check-integration)
#   INTEGRATION_ONLY="disk member" test/integration/run.sh BUILD_DIR   (some groups)
#   INTEG_KEEP=DIR ...   (a failed case's node logs are copied to DIR/N/)
#
# Starts real nodes on free 127.0.0.1 ports in a temporary directory, joins
# them into a cluster, and checks what a user sees: the shell's tabular and
# JSON output, dot-commands, .dump files opened with sqlite3, fail-over when
# the leader is killed, a killed node rejoining, graceful SIGTERM, refused
# data directories and bad command lines. Every process it starts is
# stopped by PID, the temporary directory is removed, and the last line is
# the summary "[====] integration: Tested: N | Passing: N | Failing: N".
set -uo pipefail
B=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-integration.XXXXXX")
DB=itest
declare -A PIDS=() ADDRS=()
REFERENCE_SHELL=${REFERENCE_SHELL:-/usr/bin/dqlite} # go-dqlite's shell
tested=0 passed=0 failed=0 skipped=0

cleanup() {
    local id pid
    for id in "${!PIDS[@]}"; do kill -TERM "${PIDS[$id]}" 2>/dev/null; done
    for id in "${!PIDS[@]}"; do
        pid=${PIDS[$id]}
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    # A case's tmpfs left mounted by a failure or an interrupt.
    awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts |
        xargs -r umount -l
    # INTEGRATION_KEEP=DIR: the nodes' logs are copied there first.
    if [ -n "${INTEGRATION_KEEP:-}" ]; then
        mkdir -p "$INTEGRATION_KEEP" && cp "$TMP"/*.log "$INTEGRATION_KEEP"/
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check NAME COMMAND...: one test; the command's output is shown if it fails.
check() {
    local name=$1
    shift
    tested=$((tested + 1))
    # Not in a subshell: cases record the nodes they start.
    if "$@" >"$TMP/check.out" 2>&1; then
        passed=$((passed + 1))
        echo "[PASS] $name"
    else
        failed=$((failed + 1))
        echo "[FAIL] $name"
        sed 's/^/       /' "$TMP/check.out"
        # INTEG_KEEP=DIR keeps the failed case's node logs for a post-mortem.
        [ -z "${INTEG_KEEP:-}" ] || { mkdir -p "$INTEG_KEEP/$tested" &&
            cp "$TMP"/node*.log "$INTEG_KEEP/$tested/" 2>/dev/null; }
        return 1
    fi
}

# skip NAME REASON: a check that cannot run here, reported as such.
skip() {
    skipped=$((skipped + 1))
    echo "[SKIP] $1: $2"
}

# expect_eq EXPECTED ACTUAL
expect_eq() {
    [ "$1" = "$2" ] && return 0
    echo "expected:"
    printf '%s\n' "$1"
    echo "got:"
    printf '%s\n' "$2"
    return 1
}

PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

# start_node ID [ARGS...]: starts dqlited for node ID (its data in
# $TMP/nodeID) and waits for its "listening" line.
start_node() {
    local id=$1
    shift
    [ -n "${ADDRS[$id]:-}" ] || ADDRS[$id]=127.0.0.1:$(free_port)
    "$B/dqlited" --id "$id" --address "${ADDRS[$id]}" --dir "$TMP/node$id" \
        --log-level debug "$@" >"$TMP/node$id.out" 2>>"$TMP/node$id.log" &
    PIDS[$id]=$!
    for _ in $(seq 200); do
        grep -q '^listening on' "$TMP/node$id.out" && return 0
        kill -0 "${PIDS[$id]}" 2>/dev/null || break
        sleep 0.05
    done
    # Show a sanitizer's report (with the top of its stack) or the log's end.
    grep -m1 -A8 -E "ERROR: |runtime error" "$TMP/node$id.log" ||
        tail -5 "$TMP/node$id.log"
    return 1
}

# stop_node ID SIGNAL: signals the node and waits (10 s) for its exit;
# sets STOP_STATUS to its exit status (not in a subshell: it must wait).
stop_node() {
    local pid=${PIDS[$1]}
    STOP_STATUS=0
    kill "-$2" "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    { wait "$pid" || STOP_STATUS=$?; } 2>/dev/null
    unset "PIDS[$1]"
}

servers() {
    local id list=""
    for id in $(printf '%s\n' "${!PIDS[@]}" | sort); do list+=${list:+,}${ADDRS[$id]}; done
    echo "$list"
}

# sh_ [SHELL-ARGS...]: the shell against the running nodes.
sh_() { timeout 30 "$B/dqlite" -s "$(servers)" "$@"; }

# wait_leader NOT: waits for a leader other than NOT; prints it.
wait_leader() {
    local l=""
    for _ in $(seq 80); do
        l=$(sh_ "$DB" .leader 2>/dev/null)
        [ -n "$l" ] && [ "$l" != "$1" ] && break
        sleep 0.25
    done
    echo "$l"
}

# shellcheck source=test/integration/cases.sh
. "$(dirname "$0")/cases.sh"
# shellcheck source=test/integration/cases_member.sh
. "$(dirname "$0")/cases_member.sh"
# shellcheck source=test/integration/cases_snapshot.sh
. "$(dirname "$0")/cases_snapshot.sh"
# shellcheck source=test/integration/cases_disk.sh
. "$(dirname "$0")/cases_disk.sh"
# shellcheck source=test/integration/cases_limits.sh
. "$(dirname "$0")/cases_limits.sh"
# shellcheck source=test/integration/cases_datadir.sh
. "$(dirname "$0")/cases_datadir.sh"
# shellcheck source=test/integration/cases_errors.sh
. "$(dirname "$0")/cases_errors.sh"
# shellcheck source=test/integration/cases_hostile.sh
. "$(dirname "$0")/cases_hostile.sh"
# shellcheck source=test/integration/cases_runaway.sh
. "$(dirname "$0")/cases_runaway.sh"
# shellcheck source=test/integration/cases_errs.sh
. "$(dirname "$0")/cases_errs.sh"
# shellcheck source=test/integration/cases_attack.sh
. "$(dirname "$0")/cases_attack.sh"
# shellcheck source=test/integration/cases_tls.sh
. "$(dirname "$0")/cases_tls.sh"
# shellcheck source=test/integration/cases_ops.sh
. "$(dirname "$0")/cases_ops.sh"
# shellcheck source=test/integration/cases_shell.sh
. "$(dirname "$0")/cases_shell.sh"
# shellcheck source=test/integration/cases_load.sh
. "$(dirname "$0")/cases_load.sh"
# shellcheck source=test/integration/cases_follower.sh
. "$(dirname "$0")/cases_follower.sh"

# INTEGRATION_ONLY="tls errs": only those groups (run_<name>_cases).
if [ -n "${INTEGRATION_ONLY:-}" ]; then
    for g in $INTEGRATION_ONLY; do "run_${g}_cases"; done
    echo "[====] integration: Tested: $tested | Passing: $passed | Failing: $failed"
    [ "$failed" -eq 0 ]
    exit
fi

run_cases
run_member_cases
run_snapshot_cases
run_disk_cases
run_limits_cases
run_datadir_cases
run_error_cases
run_hostile_cases
run_runaway_cases
run_errs_cases
run_attack_cases
run_tls_cases
run_ops_cases
run_shell_cases
run_load_cases
run_follower_cases
extra=""
[ "$skipped" -gt 0 ] && extra=" | Skipped: $skipped"
echo "[====] integration: Tested: $tested | Passing: $passed | Failing: $failed$extra"
[ "$failed" -eq 0 ]
