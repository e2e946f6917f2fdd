#!/usr/bin/env python3
"""How long a node's event loop is held while one statement runs
(docs/sql-policy.md, "Limits"): LEADER requests, answered by the loop
itself, are sent back to back on one connection while the dqlite shell
runs STATEMENT on another; prints the statement's own outcome and the
longest and median LEADER round trip during it.

    loop_lag.py SHELL ADDRESS DATABASE STATEMENT

Bounded: the statement gets 30 s (timeout), the probe stops when it ends.
"""
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time


def leader_probe(addr, stop, out):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(struct.pack("<Q", 1))
    req = struct.pack("<IBBH", 1, 0, 0, 0) + struct.pack("<Q", 0)
    while not stop.is_set():
        t0 = time.monotonic()
        s.sendall(req)
        hdr = b""
        while len(hdr) < 8:
            hdr += s.recv(8 - len(hdr))
        words = struct.unpack("<I", hdr[:4])[0]
        body = b""
        while len(body) < words * 8:
            body += s.recv(words * 8 - len(body))
        out.append(time.monotonic() - t0)
        time.sleep(0.0005)
    s.close()


def main():
    shell, addr, db, sql = sys.argv[1:5]
    stop = threading.Event()
    lat = []
    t = threading.Thread(target=leader_probe, args=(addr, stop, lat))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    p = subprocess.run(["timeout", "30", shell, "-s", addr, db, sql],
                       capture_output=True, text=True)
    took = time.monotonic() - t0
    time.sleep(0.1)
    stop.set()
    t.join()
    res = (p.stdout + p.stderr).strip().replace("\n", " ")
    print("statement: %.3f s, exit %d: %s" % (took, p.returncode, res[:100]))
    print("LEADER round trips: %d, longest %.1f ms, median %.2f ms" %
          (len(lat), max(lat) * 1000, statistics.median(lat) * 1000))


if __name__ == "__main__":
    main()
