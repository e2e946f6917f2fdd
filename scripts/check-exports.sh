#!/usr/bin/env bash
# Checks the library's exports: every function a public header marks
# DQLITE_API is defined in libdqlite.so.0 (dynamic symbols) and in
# libdqlite.a, and the shared library exports nothing else but the
# dqlite_ prefix. Usage: scripts/check-exports.sh BUILD_DIR
set -euo pipefail
b=${1:?build directory}
cd "$(dirname "$0")/.."
declared=$(grep -hv '^#' include/*.h | tr '\n' ' ' | grep -oE 'DQLITE_API[^;(]*\(' |
    grep -oE '[a-z_0-9]+ *\($' | tr -d ' (' | sort -u)
so=$(nm -D --defined-only "$b/libdqlite.so.0" | awk '$2 == "T" {print $3}' | sort -u)
ar=$(nm "$b/libdqlite.a" 2>/dev/null | awk '$2 == "T" {print $3}' | sort -u)
fail=0
for f in $declared; do
    grep -qx "$f" <<<"$so" || { echo "exports: $f missing from libdqlite.so.0"; fail=1; }
    grep -qx "$f" <<<"$ar" || { echo "exports: $f missing from libdqlite.a"; fail=1; }
done
extra=$(grep -v '^dqlite_' <<<"$so" || true)
if [ -n "$extra" ]; then
    echo "exports: libdqlite.so.0 exports non-API symbols:" $extra
    fail=1
fi
n=$(wc -w <<<"$declared")
echo "[====] exports: $n public functions checked in libdqlite.so.0 and libdqlite.a"
exit $fail
