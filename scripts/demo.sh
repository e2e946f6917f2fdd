#!/usr/bin/env bash
# `make demo`: starts a 3-node cluster on loopback with data in ./demo-data,
# shows writes and reads, kills the leader and shows fail-over.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build/release}
if [ ! -x "$B/dqlited" ] || [ ! -x "$B/dqlite" ]; then
    echo "demo: not available yet: the node daemon (dqlited) and the shell"
    echo "demo: (dqlite) are not built in this tree; the demo needs both."
    exit 1
fi
exec scripts/demo-cluster.sh "$B"
