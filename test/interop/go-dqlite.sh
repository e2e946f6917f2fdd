#!/usr/bin/env bash
# go-dqlite's own Go test suite (Debian's golang-github-canonical-go-dqlite-dev,
# 1.11.5) built in a scratch GOPATH against a chosen libdqlite.so.0:
#
#   test/interop/go-dqlite.sh [--lib DIR | --reference] [--work DIR]
#
#   --lib DIR      our library: DIR holds libdqlite.so.0 (default build/release);
#                  our include/dqlite.h comes first on the include path, and
#                  every test binary is checked with ldd to load DIR's copy
#   --reference    Debian's libdqlite0 (1.11.1), for the baseline
#   --work DIR     scratch directory (default build/go-dqlite/<lib>)
#   --run REGEX    only the tests matching REGEX (passed to -test.run)
#
# The scratch GOPATH holds only a copy of go-dqlite (the rest comes from
# /usr/share/gocode) with upstream's 1.11.7 fix applied to app/tls.go: the
# server's CurvePreferences line is removed (on Go >= 1.19.6 it breaks TLS
# session resumption whatever library is used). Nothing of it is committed.
#
# Each package runs in its own network namespace (unshare -n, loopback only)
# when we are root, so the suites' fixed ports (9000-9009) collide neither
# with each other nor with anything else (otherwise the packages run one
# after another); every test runs in its own process under a timeout
# (GO_DQLITE_TEST_TIMEOUT, 120 s), every package under GO_DQLITE_PKG_TIMEOUT
# (420 s).
# Prints per-package pass/fail/skip counts of top-level tests and a summary
# line; exits non-zero if any test failed or a package did not finish.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=ours
libdir=$root/build/release
work=
run=
while [ $# -gt 0 ]; do
    case $1 in
    --lib) libdir=$(cd "$2" && pwd); shift 2 ;;
    --reference) lib=reference; shift ;;
    --work) work=$2; shift 2 ;;
    --run) run=$2; shift 2 ;;
    *) echo "usage: $0 [--lib DIR | --reference] [--work DIR] [--run REGEX]" >&2; exit 2 ;;
    esac
done
[ -n "$work" ] || work=$root/build/go-dqlite/$lib
pkg_timeout=${GO_DQLITE_PKG_TIMEOUT:-420}

src=/usr/share/gocode/src/github.com/canonical/go-dqlite
if [ ! -d "$src" ]; then
    echo "go-dqlite: $src missing (package golang-github-canonical-go-dqlite-dev)" >&2
    exit 1
fi
if [ ! -f /usr/include/raft.h ]; then
    echo "go-dqlite: /usr/include/raft.h missing (package libraft-dev)" >&2
    exit 1
fi

mkdir -p "$work"
work=$(cd "$work" && pwd)
gopath=$work/gopath
rm -rf "$gopath" "$work/bin" "$work/logs"
mkdir -p "$gopath/src/github.com/canonical" "$work/bin" "$work/logs"
cp -r "$src" "$gopath/src/github.com/canonical/go-dqlite"
chmod -R u+w "$gopath"
tls=$gopath/src/github.com/canonical/go-dqlite/app/tls.go
grep -q 'CurvePreferences:' "$tls"
sed -i '/CurvePreferences:/d' "$tls"

export GO111MODULE=off
export GOPATH=$gopath:/usr/share/gocode
# The build cache is shared (keys include the cgo flags, which differ per lib).
export GOCACHE=${GOCACHE:-$root/build/gocache}
export GOFLAGS=
export CGO_ENABLED=1
# go-dqlite links with -Wl,-z,now, which cgo refuses unless allowed.
export CGO_LDFLAGS_ALLOW="-Wl,-z,now"
if [ "$lib" = ours ]; then
    if [ ! -e "$libdir/libdqlite.so.0" ]; then
        echo "go-dqlite: $libdir/libdqlite.so.0 missing (run make)" >&2
        exit 1
    fi
    # A linker name for -ldqlite in a private directory, so that only our
    # library (and not, say, build/<mode>/libdqlite.a) can be picked.
    mkdir -p "$work/lib"
    ln -sf "$libdir/libdqlite.so.0" "$work/lib/libdqlite.so"
    ln -sf "$libdir/libdqlite.so.0" "$work/lib/libdqlite.so.0"
    export CGO_CFLAGS="-I$root/include"
    export CGO_LDFLAGS="-L$work/lib"
    export LD_LIBRARY_PATH=$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    want=$work/lib/libdqlite.so.0
    # An ASan+UBSan library (build/asan) loads into the uninstrumented Go
    # test binaries when the sanitizer runtimes are preloaded; Go's own
    # allocations are not tracked, leak detection is off.
    if ldd "$libdir/libdqlite.so.0" | grep -q libasan; then
        preload="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
        export GO_DQLITE_PRELOAD=$preload
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    fi
else
    unset CGO_CFLAGS CGO_LDFLAGS LD_LIBRARY_PATH
    want=$(/sbin/ldconfig -p | awk '/libdqlite\.so\.0 .*x86-64/ && !f {print $NF; f = 1}')
    [ -n "$want" ] || want=/usr/lib/x86_64-linux-gnu/libdqlite.so.0
fi

pkgs=(internal/bindings internal/protocol internal/logging client driver app benchmark)
echo "go-dqlite: building ${#pkgs[@]} test binaries against $lib ($want)"
for p in "${pkgs[@]}"; do
    name=${p//\//-}
    (cd "$gopath/src/github.com/canonical/go-dqlite/$p" &&
        go test -c -o "$work/bin/$name.test" . >"$work/logs/$name.build" 2>&1) || {
        cat "$work/logs/$name.build" >&2
        echo "go-dqlite: building $p failed" >&2
        exit 1
    }
    # The loader must pick the library we mean (ours, or the reference).
    got=$(ldd "$work/bin/$name.test" | awk '/libdqlite\.so\.0/ {print $3}')
    if [ -n "$got" ] && [ "$(readlink -f "$got")" != "$(readlink -f "$want")" ]; then
        echo "go-dqlite: $p loads $got, not $want" >&2
        exit 1
    fi
done

netns=0
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    netns=1
fi

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

wrap=()
[ $netns = 1 ] && wrap=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh)

# One package: every top-level test in its own process (-test.run ^Name$),
# so that a test that crashes the process (a node bug can abort it) costs
# only itself; it is counted as failed with the last lines of its output.
run_package() { # name
    local name=$1 t out rc
    for t in $(env LD_PRELOAD="${GO_DQLITE_PRELOAD:-}" "$work/bin/$name.test" -test.list '.*' | grep -E '^(Test|Example)' |
        { if [ -n "$run" ]; then grep -E -- "$run" || true; else cat; fi; }); do
        out=$work/logs/$name.$t.out
        rc=0
        timeout -k 5 "$test_timeout" env LD_PRELOAD="${GO_DQLITE_PRELOAD:-}" \
            "$work/bin/$name.test" -test.v \
            -test.run "^$t\$" >"$out" 2>&1 || rc=$?
        cat "$out"
        if ! grep -qE "^--- (PASS|FAIL|SKIP): $t " "$out"; then
            echo "--- FAIL: $t (process ended with status $rc without a result)"
            tail -5 "$out" | sed 's/^/        /'
        fi
        rm -f "$out"
    done
    echo "DONE"
}
test_timeout=${GO_DQLITE_TEST_TIMEOUT:-120}

start=$(date +%s)
for p in "${pkgs[@]}"; do
    name=${p//\//-}
    dir=$gopath/src/github.com/canonical/go-dqlite/$p
    # Each package in its own session (so the trap can kill all of it) and,
    # when root, its own network namespace; packages run in parallel then.
    (cd "$dir" && exec setsid timeout -k 10 "$pkg_timeout" "${wrap[@]}" \
        bash -c "$(declare -f run_package); work='$work' run='$run' \
            test_timeout='$test_timeout' run_package $name") \
        >"$work/logs/$name.log" 2>&1 &
    pids+=($!)
    if [ $netns = 0 ]; then
        wait "${pids[-1]}" || true
    fi
done
status=()
for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    status[$i]=$rc
done
pids=()

tp=0 tf=0 ts=0 bad=0
for i in "${!pkgs[@]}"; do
    p=${pkgs[$i]}
    name=${p//\//-}
    log=$work/logs/$name.log
    np=$(grep -c '^--- PASS' "$log" || true)
    nf=$(grep -c '^--- FAIL' "$log" || true)
    ns=$(grep -c '^--- SKIP' "$log" || true)
    note=
    if ! grep -qE '^DONE$' "$log"; then
        note=" (did not finish: see $log)"
        bad=1
    fi
    printf 'go-dqlite: %-18s pass %3d  fail %2d  skip %2d%s\n' "$p" "$np" "$nf" "$ns" "$note"
    grep '^--- FAIL' "$log" | sed 's/^/go-dqlite:     /' || true
    tp=$((tp + np)) tf=$((tf + nf)) ts=$((ts + ns))
done
[ $bad = 0 ] || tf=$((tf + 1))
echo "go-dqlite: logs in $work/logs ($(($(date +%s) - start)) s)"
echo "[====] go-dqlite ($lib): Tested: $((tp + tf)) | Passing: $tp | Failing: $tf | Skipped: $ts"
[ "$tf" = 0 ]
