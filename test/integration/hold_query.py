#!/usr/bin/env python3
"""A client that sends one query and never reads, interrupts nor leaves.

    hold_query.py HOST:PORT DATABASE SQL SECONDS [drain]

Speaks the wire protocol itself (docs/wire-spec.md: handshake, OPEN,
QUERY_SQL) because the dqlite shell interrupts a call after its 5 s
timeout: this one keeps its statement running for SECONDS (unless the node
stops it), then closes the connection. Used by cases_runaway.sh to hold a
node's db thread past its stuck bound. Prints "sent" once the query is out.

With "drain", SIGUSR1 (or the end of SECONDS) ends the hold: it then reads
the stream to its end and prints how it ended ("failure CODE MESSAGE",
"done", or "closed"): cases_load.sh checks that a query whose database a
restore replaced fails with a clear message.
"""
import signal
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
    drain = len(sys.argv) > 5 and sys.argv[5] == "drain"
    if drain:
        signal.signal(signal.SIGUSR1, wake)
    try:
        time.sleep(float(sys.argv[4]))
    except Woken:
        pass
    if drain:
        print(drain_stream(sock), flush=True)
    sock.close()


class Woken(Exception):
    pass


def wake(*_):
    raise Woken()  # a handler that returns would let sleep() go on


def drain_stream(sock):
    """Reads messages up to the first that is not a ROWS batch."""
    sock.settimeout(20)
    n = 0
    while True:
        n += 1
        header = sock.recv(8, socket.MSG_WAITALL)
        if len(header) < 8:
            return "closed after %d messages" % n
        words, mtype = struct.unpack("<IB", header[:5])
        body = b""
        while len(body) < words * 8:
            chunk = sock.recv(min(words * 8 - len(body), 1 << 20))
            if not chunk:
                return "closed in message %d" % n
            body += chunk
        if mtype == 0:
            code = struct.unpack("<Q", body[:8])[0]
            return "failure %d %s" % (code, body[8:].split(b"\0")[0].decode())
        if mtype != 7:
            return "response type %d" % mtype
        if body[-8:] == b"\xff" * 8:  # DONE (PART is 0xee)
            return "done"


main()
