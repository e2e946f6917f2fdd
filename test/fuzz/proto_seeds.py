#!/usr/bin/env python3
"""Seeds the proto fuzz corpora from the captured protocol vectors.

    test/fuzz/proto_seeds.py [VECTORS_DIR]   (default test/vectors)

Writes, named by the SHA-1 of their content (identical inputs collapse):
  corpus/proto_request/   every request message (header + body)
  corpus/proto_response/  an expectation byte + every response message
  corpus/proto_reader/    side/seed byte + limit byte + each connection's
                          client stream (server side) and server stream
                          (client side)
Messages and streams above 16 KiB are left out to keep the corpus small
(the fuzzers grow large inputs poorly anyway); the unit tests cover them.
"""
import hashlib
import os
import sys

LIMIT = 16 * 1024
here = os.path.dirname(os.path.abspath(__file__))
vectors = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    here, "..", "vectors")


def write(target, data):
    if len(data) > LIMIT:
        return
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def run(path):
    conns = {}
    conn = None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("@ conn"):
            words = line.split()
            n = int(words[2])
            if len(words) > 3 and words[3] == "open":
                conns[n] = {"c": b"", "s": b"", "legacy": False,
                            "formats": []}
            conn = conns[n]
        elif line.startswith("C> ") or line.startswith("S< "):
            msg = bytes.fromhex(line[3:].replace(" ", ""))
            if line[0] == "C":
                if not conn["c"]:
                    conn["legacy"] = msg == bytes.fromhex("e53f4360d74d1086")
                else:
                    write("proto_request", msg)
                    if len(msg) == 16 and msg[4] == 16:
                        fmt = int.from_bytes(msg[8:16], "little")
                        conn["formats"].append(0 if fmt == 0 else 1)
                conn["c"] += msg
            else:
                fmt = 1
                if msg[4] == 3 and conn["formats"]:
                    fmt = conn["formats"].pop(0)
                write("proto_response",
                      bytes([(1 if conn["legacy"] else 0) | fmt << 1]) + msg)
                conn["s"] += msg
    for c in conns.values():
        write("proto_reader", bytes([0x2a, 0xff]) + c["c"])
        if c["s"]:
            write("proto_reader", bytes([0x2b, 0xff]) + c["s"])


for name in sorted(os.listdir(vectors)):
    if name.endswith(".txt"):
        run(os.path.join(vectors, name))
