#!/usr/bin/env python3
"""A client that sends one query and never reads, interrupts nor leaves.

    hold_query.py HOST:PORT DATABASE SQL SECONDS

Speaks the wire protocol itself (docs/wire-spec.md: handshake, OPEN,
QUERY_SQL) because the dqlite shell interrupts a call after its 5 s
timeout: this one keeps its statement running for SECONDS (unless the node
stops it), then closes the connection. Used by cases_runaway.sh to hold a
node's db thread past its stuck bound. Prints "sent" once the query is out.
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


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(struct.pack("<Q", 1))
    sock.sendall(message(3, text(sys.argv[2]) + struct.pack("<Q", 0) +
                         text("")))
    header = sock.recv(8, socket.MSG_WAITALL)
    words, mtype = struct.unpack("<IB", header[:5])
    sock.recv(words * 8, socket.MSG_WAITALL)
    if mtype != 4:
        sys.exit("OPEN failed: response type %d" % mtype)
    params = b"\0" * 8  # an empty parameter tuple
    sock.sendall(message(9, struct.pack("<Q", 0) + text(sys.argv[3]) + params))
    print("sent", flush=True)
    time.sleep(float(sys.argv[4]))
    sock.close()


main()
