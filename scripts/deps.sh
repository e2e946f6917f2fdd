#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, or says exactly
# what to install where it cannot (not Debian, or not root). Fast when all is
# present: one dpkg-query. The package list is scripts/packages.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -v '^\s*#' "$here/packages.txt" | awk 'NF {print $1}')

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install the equivalents of:" >&2
    printf '  %s\n' "${wanted[@]}" >&2
    exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A lock held by another apt run is waited for, not failed on.
apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
if ! apt-get install "${apt_opts[@]}" "${missing[@]}" >/tmp/dqlite-deps.log 2>&1; then
    apt-get update -q >>/tmp/dqlite-deps.log 2>&1
    apt-get install "${apt_opts[@]}" "${missing[@]}" >>/tmp/dqlite-deps.log 2>&1 || {
        tail -20 /tmp/dqlite-deps.log >&2
        echo "deps: apt-get install failed (log: /tmp/dqlite-deps.log)" >&2
        exit 1
    }
fi
