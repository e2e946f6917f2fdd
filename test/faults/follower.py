#!/usr/bin/env python3
"""faults-workload's follower-read workload (docs/faults.md, "follower").

    follower.py ADDR[,ADDR] SECONDS CLIENTS SEED HISTORY [IGNORED]

DQF_CALL_TIMEOUT_MS: a call's timeout (2000).

Our C client always goes to the leader, so this speaks the wire protocol
itself (as test/integration/follower_read.py does) to read on a chosen
node. Each client thread, on keys that rotate as the register workload's:
writes a unique value (EXEC_SQL upsert on whichever node takes it: a
follower's "not leader" is a certain failure), or reads the key on a random
node at PRAGMA dqlite_consistency 'linearizable' (f = read) or 'bounded:N'
(f = bread, invoke value N). Events are stamped with CLOCK_MONOTONIC
(time.monotonic_ns), the clock of the C workloads, and written in the
history format of docs/faults.md; check with `faults-check follower`.
Which node answered each ok read goes to HISTORY.nodes ("TIME PROCESS F
KEY ADDRESS", the time just after the completion's). Prints "follower: invoked N ok N fail N info N".
"""
import os
import random
import socket
import struct
import sys
import threading
import time

DB = "follower"
NOT_LEADER = 10250
OPS_PER_KEYS = 120
BOUNDS_MS = (100, 500)

lock = threading.Lock()
events = []
answered = []  # "TIME PROCESS F KEY NODE" of each ok read: HISTORY.nodes
counts = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
counter = [0]


def record(process, kind, f, key, value):
    with lock:
        events.append("%d %d %s %s %d %s" % (time.monotonic_ns(), process,
                                             kind, f, key, value))
        counts[kind] += 1


def next_counter():
    with lock:
        counter[0] += 1
        return counter[0]


def text(s):
    b = s.encode() + b"\0"
    return b + b"\0" * (-len(b) % 8)


def message(mtype, body):
    return struct.pack("<IBBH", len(body) // 8, mtype, 0, 0) + body


class Failure(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def recv(sock):
    header = sock.recv(8, socket.MSG_WAITALL)
    if len(header) < 8:
        raise OSError("connection closed")
    words, mtype = struct.unpack("<IB", header[:5])
    body = sock.recv(words * 8, socket.MSG_WAITALL)
    if len(body) < words * 8:
        raise OSError("connection closed")
    return mtype, body


def get_text(body, off):
    end = body.index(b"\0", off)
    return body[off:end].decode(), off + ((end - off + 1 + 7) // 8) * 8


class Conn:
    """One connection to one node, database DB open, at one level."""

    def __init__(self, addr, level, timeout_s):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)),
                                             timeout=timeout_s)
        self.sock.sendall(struct.pack("<Q", 1))
        self.sock.sendall(message(3, text(DB) + struct.pack("<Q", 0) +
                                  text("")))
        mtype, body = recv(self.sock)
        if mtype == 0:
            raise Failure(*self.failure(body))
        self.db = struct.unpack_from("<I", body, 0)[0]
        if level is not None:
            self.execute("PRAGMA dqlite_consistency = '%s'" % level)

    @staticmethod
    def failure(body):
        return struct.unpack_from("<Q", body, 0)[0], get_text(body, 8)[0]

    def call(self, mtype, sql, params=()):
        body = struct.pack("<Q", self.db) + text(sql)
        if params:  # one-byte count and types, padded to 8, then values
            head = bytes([len(params)] + [1] * len(params))
            body += head + b"\0" * (-len(head) % 8)
            body += b"".join(struct.pack("<q", p) for p in params)
        else:
            body += b"\0" * 8
        self.sock.sendall(message(mtype, body))
        got = []
        while True:
            mtype, body = recv(self.sock)
            if mtype == 0:
                raise Failure(*self.failure(body))
            if mtype == 6:
                return got
            if mtype != 7:
                raise OSError("unexpected response type %d" % mtype)
            n = struct.unpack_from("<Q", body, 0)[0]
            off = 8
            for _ in range(n):
                _, off = get_text(body, off)
            header = ((n + 1) // 2 + 7) // 8 * 8
            while off < len(body):
                marker = struct.unpack_from("<Q", body, off)[0]
                if marker in (0xFFFFFFFFFFFFFFFF, 0xEEEEEEEEEEEEEEEE):
                    if marker == 0xFFFFFFFFFFFFFFFF:
                        return got
                    break
                t = body[off] & 0xF
                off += header
                got.append(None if t == 5 else
                           struct.unpack_from("<q", body, off)[0])
                off += 8 * n

    def execute(self, sql, params=()):
        return self.call(8, sql, params)

    def query(self, sql, params=()):
        return self.call(9, sql, params)

    def close(self):
        self.sock.close()


def client(process, addrs, deadline, seed, timeout_s):
    rnd = random.Random(seed * 1000 + process)
    conns = {}

    def conn(addr, level):
        if (addr, level) not in conns:
            conns[(addr, level)] = Conn(addr, level, timeout_s)
        return conns[(addr, level)]

    def drop(addr, level):
        c = conns.pop((addr, level), None)
        if c is not None:
            c.close()

    writer = rnd.randrange(len(addrs))
    while time.monotonic() < deadline:
        n = next_counter()
        key = (n // OPS_PER_KEYS) * 3 + rnd.randrange(3)
        dice = rnd.randrange(4)
        if dice < 2:  # write a unique value on the node that takes it
            value = n
            addr = addrs[writer]
            record(process, "invoke", "write", key, value)
            try:
                conn(addr, None).execute(
                    "INSERT INTO reg(k, v) VALUES(?1, ?2) ON CONFLICT(k) "
                    "DO UPDATE SET v = excluded.v", (key, value))
                record(process, "ok", "write", key, value)
            except Failure as e:
                # "not leader" (and a follower's refusal) is certain.
                sure = e.code == NOT_LEADER or "not leader" in str(e)
                record(process, "fail" if sure else "info", "write", key,
                       value)
                if sure:
                    writer = rnd.randrange(len(addrs))
            except OSError:
                record(process, "info", "write", key, value)
                drop(addr, None)
                writer = rnd.randrange(len(addrs))
            continue
        addr = addrs[rnd.randrange(len(addrs))]
        if dice == 2:
            level, f, arg = "linearizable", "read", "-"
        else:
            bound = rnd.choice(BOUNDS_MS)
            level, f, arg = "bounded:%d" % bound, "bread", str(bound)
        record(process, "invoke", f, key, arg)
        try:
            got = conn(addr, level).query("SELECT v FROM reg WHERE k = ?",
                                          (key,))
            record(process, "ok", f, key, "nil" if not got else got[0])
            with lock:
                answered.append("%d %d %s %d %s" % (time.monotonic_ns(),
                                                    process, f, key, addr))
        except Failure:
            record(process, "fail", f, key, arg)
        except OSError:
            record(process, "fail", f, key, arg)  # a read changes nothing
            drop(addr, level)
            time.sleep(0.05)
    for c in conns.values():
        c.close()


def setup(addrs, timeout_s, until):
    while time.monotonic() < until:
        for addr in addrs:
            try:
                c = Conn(addr, None, timeout_s)
                c.execute("CREATE TABLE IF NOT EXISTS reg "
                          "(k INTEGER PRIMARY KEY, v INTEGER)")
                c.close()
                return True
            except (OSError, Failure):
                pass
        time.sleep(0.2)
    return False


def main():
    addrs = sys.argv[1].split(",")
    seconds, clients, seed = (int(a) for a in sys.argv[2:5])
    timeout_s = int(os.environ.get("DQF_CALL_TIMEOUT_MS") or 2000) / 1000
    if not setup(addrs, timeout_s, time.monotonic() + 30):
        sys.exit("follower: schema setup failed")
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client,
                                args=(p, addrs, deadline, seed, timeout_s))
               for p in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(sys.argv[5], "w") as out:
        out.write("\n".join(events) + "\n")
    with open(sys.argv[5] + ".nodes", "w") as out:
        out.write("\n".join(answered) + "\n")
    print("follower: invoked %d ok %d fail %d info %d" %
          (counts["invoke"], counts["ok"], counts["fail"], counts["info"]))


if __name__ == "__main__":
    main()
