#!/usr/bin/env bash
# `make demo`: builds dqlited and the dqlite shell, then runs
# scripts/demo-cluster.sh: a 3-node cluster on loopback with data in
# ./demo-data, writes and reads, the leader killed, fail-over shown, and
# everything it started stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build/release}
make --no-print-directory -s "$B/dqlited" "$B/dqlite"
exec timeout 60 scripts/demo-cluster.sh "$B"
