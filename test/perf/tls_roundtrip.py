#!/usr/bin/env python3
"""What TLS costs the node per request, until dqlite-bench speaks TLS.

    test/perf/tls_roundtrip.py BUILD_DIR [N]

Starts two one-node dqlited on free 127.0.0.1 ports in a temporary
directory, one plaintext and one with --tls-cert/--tls-key/--tls-ca (a
self-signed certificate the openssl CLI makes there), sends N (20000)
LEADER requests one at a time to each over one connection, and prints
round trips per second and the node's CPU time (user + system, from
/proc) per request. The smallest request there is: it shows what TLS
itself costs the node (OpenSSL opening and sealing one record each way,
in conn.c through tls.c's seam), the upper bound of its share. Not a test: nothing is asserted. Both nodes are
stopped by PID and the directory removed.
"""
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def start(build, tmp, name, extra):
    port = free_port()
    os.mkdir(os.path.join(tmp, name))
    p = subprocess.Popen([os.path.join(build, "dqlited"), "--id", "1",
                          "--address", "127.0.0.1:%d" % port,
                          "--dir", os.path.join(tmp, name)] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()  # "listening on ..."
    return p, port


def run(port, ctx, n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        s = ctx.wrap_socket(s)
    s.sendall(struct.pack("<Q", 1))
    req = struct.pack("<IBBH", 1, 0, 0, 0) + b"\0" * 8

    def readn(k):
        b = b""
        while len(b) < k:
            c = s.recv(k - len(b))
            if not c:
                raise SystemExit("the node closed the connection")
            b += c
        return b

    start_s = time.time()
    for _ in range(n):
        s.sendall(req)
        h = readn(8)
        readn(8 * struct.unpack("<I", h[:4])[0])
    s.close()
    return time.time() - start_s


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        crt, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                        "-out", crt, "-days", "1", "-subj", "/CN=dqlite"],
                       check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(crt)
        ctx.load_cert_chain(crt, key)
        nodes = [("plaintext", None, []),
                 ("tls", ctx, ["--tls-cert", crt, "--tls-key", key,
                               "--tls-ca", crt])]
        for name, c, extra in nodes:
            p, port = start(build, tmp, name, extra)
            try:
                before = cpu_ms(p.pid)
                took_s = run(port, c, n)
                used = cpu_ms(p.pid) - before
                print("%-9s %d LEADER round trips: %.0f/s, node CPU %.1f us "
                      "per request" % (name, n, n / took_s, used * 1000 / n))
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)


if __name__ == "__main__":
    main()
