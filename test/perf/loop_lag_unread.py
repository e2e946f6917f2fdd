#!/usr/bin/env python3
"""How long a node's event loop is held by N clients that each send one
QUERY_SQL and never read the answer (docs/sql-policy.md, "Limits"):
LEADER requests, answered by the loop itself, go back to back on another
connection meanwhile; prints the longest and median round trip.

    loop_lag_unread.py ADDRESS DATABASE N SQL

Speaks the wire protocol itself (version 1, protocol.md): OPEN, then
QUERY_SQL with no parameters. Bounded: probes for 3 s, then closes all.
"""
import socket
import statistics
import struct
import sys
import threading
import time


def text(s):
    b = s.encode() + b"\0"
    return b + b"\0" * ((8 - len(b) % 8) % 8)


def request(rtype, body):
    return struct.pack("<IBBH", len(body) // 8, rtype, 0, 0) + body


def recv_one(s):
    h = b""
    while len(h) < 8:
        h += s.recv(8 - len(h))
    words = struct.unpack("<I", h[:4])[0]
    b = b""
    while len(b) < words * 8:
        b += s.recv(min(1 << 20, words * 8 - len(b)))
    return h[4], b


def dial(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(struct.pack("<Q", 1))
    return s


def main():
    addr, db, n, sql = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    host, port = addr.rsplit(":", 1)
    conns = []
    for _ in range(n):
        s = dial(host, int(port))
        s.sendall(request(3, text(db) + struct.pack("<QQ", 0, 0) +
                          text("volatile")))  # OPEN
        recv_one(s)
        conns.append(s)
    lat, stop = [], threading.Event()

    def probe():
        s = dial(host, int(port))
        while not stop.is_set():
            t0 = time.monotonic()
            s.sendall(request(0, struct.pack("<Q", 0)))  # LEADER
            recv_one(s)
            lat.append(time.monotonic() - t0)
            time.sleep(0.0005)
        s.close()

    t = threading.Thread(target=probe)
    t.start()
    time.sleep(0.2)
    for s in conns:  # QUERY_SQL: db id, padding, text, no parameters
        s.sendall(request(9, struct.pack("<II", 0, 0) + text(sql) +
                          b"\0" * 8))
    time.sleep(3)
    stop.set()
    t.join()
    for s in conns:
        s.close()
    print("%d unread %s: LEADER round trips %d, longest %.1f ms, "
          "median %.2f ms" % (n, sql, len(lat), max(lat) * 1000,
                              statistics.median(lat) * 1000))


if __name__ == "__main__":
    main()
