#!/usr/bin/env python3
"""Runs statements on one chosen node, whichever role it has.

    follower_read.py HOST:PORT DATABASE SQL...

Speaks the wire protocol itself (docs/wire-spec.md: handshake, OPEN,
EXEC_SQL, QUERY_SQL) because the dqlite shell always goes to the leader:
cases_follower.sh uses it to read on followers (docs/protocol.md "Read
consistency"). A statement starting with "PRAGMA dqlite_consistency ="
or "exec:" (which is cut off) is sent as EXEC_SQL, every other as
QUERY_SQL. Prints, one line per
statement: "ok" (EXEC_SQL), the first column of each row joined with ','
(QUERY_SQL), or "FAILURE code message"; then "ms N": how long the last
statement took. Exits 1 if any statement failed.
"""
import socket
import struct
import sys
import time


def text(s):
    b = s.encode() + b"\0"
    return b + b"\0" * (-len(b) % 8)


def message(mtype, body):
    return struct.pack("<IBBH", len(body) // 8, mtype, 0, 0) + body


def recv(sock):
    header = sock.recv(8, socket.MSG_WAITALL)
    if len(header) < 8:
        sys.exit("connection closed")
    words, mtype = struct.unpack("<IB", header[:5])
    return mtype, sock.recv(words * 8, socket.MSG_WAITALL)


def get_text(body, off):
    end = body.index(b"\0", off)
    s = body[off:end].decode()
    return s, off + ((end - off + 1 + 7) // 8) * 8


def rows(body):
    """First column of every row of a ROWS body; True once DONE."""
    n = struct.unpack_from("<Q", body, 0)[0]
    off = 8
    for _ in range(n):
        _, off = get_text(body, off)
    out = []
    header = ((n + 1) // 2 + 7) // 8 * 8
    while off < len(body):
        marker = struct.unpack_from("<Q", body, off)[0]
        if marker in (0xFFFFFFFFFFFFFFFF, 0xEEEEEEEEEEEEEEEE):
            return out, marker == 0xFFFFFFFFFFFFFFFF
        types = [(body[off + i // 2] >> (4 * (i % 2))) & 0xF for i in range(n)]
        off += header
        first = None
        for i, t in enumerate(types):
            if t == 3:
                v, off = get_text(body, off)
            else:
                v = struct.unpack_from("<q", body, off)[0]
                off += 8
            if i == 0:
                first = v if t != 5 else "NULL"
        out.append(str(first))
    return out, False


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(struct.pack("<Q", 1))
    sock.sendall(message(3, text(sys.argv[2]) + struct.pack("<Q", 0) +
                         text("")))
    mtype, body = recv(sock)
    if mtype != 4:
        sys.exit("OPEN failed: response type %d" % mtype)
    failed = False
    elapsed_ms = 0
    for sql in sys.argv[3:]:
        pragma = sql.lower().startswith("pragma dqlite_consistency =")
        if sql.startswith("exec:"):
            sql, pragma = sql[5:], True
        start = time.monotonic()
        sock.sendall(message(8 if pragma else 9, struct.pack("<Q", 0) +
                             text(sql) + b"\0" * 8))
        got = []
        while True:
            mtype, body = recv(sock)
            if mtype == 0:
                code = struct.unpack_from("<Q", body, 0)[0]
                print("FAILURE %d %s" % (code, get_text(body, 8)[0]))
                failed = True
                break
            if mtype == 6:
                print("ok")
                break
            if mtype != 7:
                sys.exit("unexpected response type %d" % mtype)
            batch, done = rows(body)
            got += batch
            if done:
                print(",".join(got))
                break
        elapsed_ms = int((time.monotonic() - start) * 1000)
    print("ms %d" % elapsed_ms, flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
