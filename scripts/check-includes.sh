#!/usr/bin/env bash
# Checks every #include of the tree against the module rules of docs/design.md §4.
#
#   scripts/check-includes.sh [ROOT]     (ROOT defaults to the repository)
#
# Project headers are included by module path ("raft/log.h"); a module may
# name only itself and the modules it uses. System headers are checked against
# an allow-list per module: the pure modules (lib, raft, proto) get the C
# library only, so no clock, file, socket, thread or random source can creep
# into them; <uv.h>, <sqlite3.h> and <lz4.h> are allowed exactly where the
# dependency table says. cmd/ sees public headers only. Exits 1 on the first
# run with any violation, listing all of them.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

declare -A uses=(
    [lib]="lib"
    [raft]="raft lib"
    [proto]="proto lib"
    [vfs]="vfs lib"
    [raftio]="raftio raft lib"
    [repl]="repl raft vfs lib"
    [client]="client proto lib"
    [http]="http client proto lib"
    [server]="server raft raftio proto vfs repl client http lib"
)
# C library headers any module may use.
pure="assert.h errno.h inttypes.h limits.h stdalign.h stdarg.h stdbool.h
stddef.h stdint.h stdlib.h string.h"
# POSIX and C headers that do I/O, time or threads.
posix="ftw.h strings.h stdio.h stdatomic.h time.h unistd.h fcntl.h pthread.h signal.h poll.h
dirent.h math.h ctype.h setjmp.h netdb.h sys/types.h sys/stat.h sys/socket.h
sys/un.h sys/uio.h sys/mman.h sys/time.h sys/file.h sys/random.h sys/wait.h
sys/resource.h sys/syscall.h sys/statvfs.h sys/eventfd.h netinet/in.h
netinet/tcp.h arpa/inet.h linux/falloc.h linux/fs.h"
public="dqlite.h raft.h dqlite_client.h"
# OpenSSL 3 (libssl-dev): the client's TLS (src/client/tls.c) and the
# node's (src/server/tls.c).
openssl="openssl/err.h openssl/ssl.h openssl/x509.h openssl/x509v3.h"
declare -A system=(
    [lib]="$pure stdio.h stdatomic.h nmmintrin.h cpuid.h"
    [raft]="$pure"
    [proto]="$pure"
    [vfs]="$pure $posix sqlite3.h"
    [raftio]="$pure $posix uv.h lz4.h lz4frame.h"
    [repl]="$pure $posix sqlite3.h"
    [client]="$pure $posix sqlite3.h $public $openssl"
    [http]="$pure $posix $public $openssl microhttpd.h gnutls/gnutls.h jansson.h"
    [server]="$pure $posix sqlite3.h uv.h lz4.h lz4frame.h $public $openssl"
)

violations=0
fail() {
    echo "include-check: $1:$2: $3"
    violations=$((violations + 1))
}

in_list() { # word list...
    local w=$1
    shift
    for x in $*; do [ "$x" = "$w" ] && return 0; done
    return 1
}

# check_file FILE MODULE_ALLOWED SYSTEM_ALLOWED
check_file() {
    local file=$1 allowed=$2 sys=$3 n=0 line target
    while IFS= read -r line; do
        n=$((n + 1))
        [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\"\<])([^\"\>]+)[\"\>] ]] || continue
        target=${BASH_REMATCH[2]}
        if [ "${BASH_REMATCH[1]}" = '<' ]; then
            in_list "$target" "$sys" ||
                fail "$file" $n "<$target> is not allowed here"
        elif [[ $target == *..* ]]; then
            fail "$file" $n "\"$target\": no relative paths; include by module"
        elif [[ $target == */* ]]; then
            in_list "${target%%/*}" "$allowed" ||
                fail "$file" $n "\"$target\": module ${target%%/*} is not allowed here"
        else
            # A bare name: a public header or a file next to the includer.
            in_list "$target" "$allowed" || [ -e "$(dirname "$file")/$target" ] ||
                fail "$file" $n "\"$target\": include project headers by module path"
        fi
    done <"$file"
}

for mod in "${!uses[@]}"; do
    [ -d "src/$mod" ] || continue
    while IFS= read -r f; do
        check_file "$f" "${uses[$mod]}" "${system[$mod]}"
    done < <(find "src/$mod" -type f \( -name '*.c' -o -name '*.h' \))
done
# Unit tests: their module's rules plus the shared test helpers, criterion.
for mod in "${!uses[@]}"; do
    [ -d "test/unit/$mod" ] || continue
    while IFS= read -r f; do
        check_file "$f" "${uses[$mod]} test" \
            "${system[$mod]} criterion/criterion.h criterion/parameterized.h criterion/new/assert.h criterion/redirect.h criterion/theories.h $posix"
    done < <(find "test/unit/$mod" -type f \( -name '*.c' -o -name '*.h' \))
done
# Programs: public headers, their own local headers, libc/POSIX.
if [ -d cmd ]; then
    while IFS= read -r f; do
        check_file "$f" "$public" \
            "$pure $posix $public sqlite3.h getopt.h histedit.h editline/readline.h readline/readline.h readline/history.h systemd/sd-daemon.h jansson.h"
    done < <(find cmd -type f \( -name '*.c' -o -name '*.h' \))
fi

if [ $violations -ne 0 ]; then
    echo "include-check: $violations violation(s)"
    exit 1
fi
echo "include-check: ok"
