#!/usr/bin/env python3
"""A TLS client that misbehaves on purpose, for test/integration/cases_tls.sh.

    tls_probe.py ADDR CERT KEY CA MODE

Does a TLS handshake with ADDR (host:port) presenting CERT/KEY (none if
CERT is "-") and
verifying the node against CA (no host name check), then, by MODE:

  handshake  send the protocol word and a LEADER request; print the
             response's type (1) or "closed" (exit 1 if the handshake fails)
  garbage    write 4 KiB of bytes that are no TLS record straight to the
             socket, under the TLS layer; print "closed" when the node closes
  connect    send the dqlite protocol word and a CONNECT request (a peer
             stream) over TLS; print the response's type and, for a FAILURE
             (0), its message, or "closed", or "no answer" after 3 s (the
             node took the stream as a peer's)
  dump       send the protocol word and a DUMP request for database "x";
             print the response as for connect
  toobig     the protocol word and a request declaring 2 GiB, then 64 KiB
             of its body: print the answer as for connect (the node refuses
             it at its header, reads and drops the body, then closes)
  pipeline   the protocol word and 40 LEADER requests sent with the
             handshake's last flight (the client's Finished), 20 in one
             record and 20 in a record each, the bytes written 5 at a time;
             print how many answers came back, in order, as LEADER answers

Runs OpenSSL through Python's memory BIOs, so it can write raw bytes after a
good handshake. Bounded: every wait times out after 10 s (exit 2).
"""
import socket
import ssl
import struct
import sys

TIMEOUT_S = 10


def connect(addr, cert, key, ca, hold=False):
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        flush(sock, outgoing)
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed during the handshake")
        incoming.write(data)
    if not hold:  # else the caller's first records go with the Finished
        flush(sock, outgoing)
    return sock, tls, incoming, outgoing


def flush(sock, outgoing):
    data = outgoing.read()
    if data:
        sock.sendall(data)


def read_exactly(sock, tls, incoming, n):
    got = b""
    while len(got) < n:
        try:
            more = tls.read(n - len(got))
            if not more:
                return None  # close_notify
            got += more
            continue
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ssl.SSLError):
            return None
        data = sock.recv(65536)
        if not data:
            return None
        incoming.write(data)
    return got


def read_response(sock, tls, incoming):
    """One response: (type, body), or None if the node closed."""
    head = read_exactly(sock, tls, incoming, 8)
    if head is None:
        return None
    words = struct.unpack("<I", head[:4])[0]
    body = read_exactly(sock, tls, incoming, 8 * words)
    return None if body is None else (head[4], body)


def pipeline(sock, tls, incoming, outgoing, n=40):
    """See MODE pipeline: how many LEADER answers came back."""
    leader = struct.pack("<IBBH", 1, 0, 0, 0) + b"\0" * 8
    tls.write(struct.pack("<Q", 1) + leader * (n // 2))
    for _ in range(n - n // 2):
        tls.write(leader)
    data = outgoing.read()  # the Finished, then the requests' records
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(0, len(data), 5):
        sock.sendall(data[i:i + 5])
    answered = 0
    for _ in range(n):
        r = read_response(sock, tls, incoming)
        if r is None or r[0] != 1:
            break
        answered += 1
    return str(answered)


def request(sock, tls, incoming, outgoing, msg_type, body):
    """Sends the protocol word and one request; returns the response type,
    with the message of a FAILURE, or "closed"."""
    frame = struct.pack("<Q", 1)
    frame += struct.pack("<IBBH", len(body) // 8, msg_type, 0, 0) + body
    tls.write(frame)
    flush(sock, outgoing)
    head = read_exactly(sock, tls, incoming, 8)
    if head is None:
        return "closed"
    words = struct.unpack("<I", head[:4])[0]
    body = read_exactly(sock, tls, incoming, 8 * words)
    if body is None:
        return "closed"
    if head[4] == 0:
        return "0 " + body[8:].split(b"\0")[0].decode(errors="replace")
    return str(head[4])


def main():
    addr, cert, key, ca, mode = sys.argv[1:6]
    try:
        sock, tls, incoming, outgoing = connect(addr, cert, key, ca,
                                                hold=mode == "pipeline")
    except (OSError, ssl.SSLError, ConnectionError) as e:
        print("handshake failed: %s" % e)
        return 1
    try:
        if mode == "handshake":
            print(request(sock, tls, incoming, outgoing, 0, b"\0" * 8))
        elif mode == "garbage":
            sock.sendall(bytes(range(256)) * 16)
            while sock.recv(65536):
                pass
            print("closed")
        elif mode == "connect":
            address = b"127.0.0.1:1\0"
            address += b"\0" * (-len(address) % 8)
            body = struct.pack("<Q", 99) + address
            sock.settimeout(3)
            print(request(sock, tls, incoming, outgoing, 11, body))
        elif mode == "toobig":
            frame = struct.pack("<Q", 1)
            frame += struct.pack("<IBBH", 1 << 28, 0, 0, 0) + b"\0" * 65536
            tls.write(frame)
            flush(sock, outgoing)
            r = read_response(sock, tls, incoming)
            if r is None:
                print("closed")
            else:
                print("%d %s" % (r[0], r[1][8:].split(b"\0")[0].decode(errors="replace")))
            print("closed" if read_response(sock, tls, incoming) is None else "open")
        elif mode == "pipeline":
            print(pipeline(sock, tls, incoming, outgoing))
        elif mode == "dump":
            print(request(sock, tls, incoming, outgoing, 15, b"x\0" + b"\0" * 6))
        else:
            print("unknown mode " + mode)
            return 1
    except socket.timeout:
        print("no answer")
        return 0 if mode == "connect" else 2
    except ConnectionResetError:
        print("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
