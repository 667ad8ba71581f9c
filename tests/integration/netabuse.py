#!/usr/bin/python3
"""netabuse.py -- misbehaving TCP clients for the receiver abuse tests.

Every subcommand talks to 127.0.0.1 only, bounds every wait, prints one line
that the shell test can log, and exits 0 when the server behaved:

  garbage PORT KIND LIMIT   send KIND (random | http1 | h2preface) and expect
                            the server to close within LIMIT seconds; prints
                            the first line it answered (if any)
  idle PORT LIMIT           connect, send nothing; the server must close the
                            connection within LIMIT seconds; prints the time
  slowloris PORT KIND LIMIT send a request (http: HTTP/1.1 headers, grpc: the
                            HTTP/2 preface) one byte per second; the server
                            must close within LIMIT seconds; prints the time
  flood PORT N LIMIT        open N connections at once, then send 512 random
                            bytes on each; every one must be closed by the
                            server within LIMIT seconds; prints the count
  spans N                   writes an ExportTraceServiceRequest with N spans
                            (protobuf) to stdout
"""
import os
import select
import socket
import struct
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_closed(s, deadline):
    """Reads until EOF or reset; returns (closed, first bytes received)."""
    got = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not chunk:
            return True, got
        if len(got) < 4096:
            got += chunk[: 4096 - len(got)]
    return False, got


def h2_goaway(data):
    """Describes the first GOAWAY among the HTTP/2 frames in data."""
    off = 0
    while off + 9 <= len(data):
        n = int.from_bytes(data[off : off + 3], "big")
        if data[off + 3] == 7 and n >= 8 and off + 9 + n <= len(data):
            p = data[off + 9 : off + 9 + n]
            code = int.from_bytes(p[4:8], "big")
            return f"GOAWAY code={code} debug={p[8:80].decode('latin-1')!r}"
        off += 9 + n
    return f"{len(data)} bytes, no GOAWAY"


PAYLOADS = {
    "random": lambda: os.urandom(4096),
    "http1": lambda: b"POST /opentelemetry.proto.collector.trace.v1.TraceService/Export HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\x00\x00\x00\x00\x00",
    # The client connection preface and an empty SETTINGS frame.
    "h2preface": lambda: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
}


def garbage(port, kind, limit):
    s = connect(port)
    try:
        s.sendall(PAYLOADS[kind]())
    except (ConnectionResetError, BrokenPipeError):
        pass
    closed, got = wait_closed(s, time.monotonic() + limit)
    s.close()
    if got.startswith(b"HTTP/"):
        answer = got.split(b"\r\n", 1)[0][:80].decode("latin-1")
    else:
        answer = h2_goaway(got)
    print(f"{kind}: closed={closed} answer={answer}")
    return 0 if closed else 1


def idle(port, limit):
    start = time.monotonic()
    s = connect(port)
    closed, _ = wait_closed(s, start + limit)
    s.close()
    print(f"idle: closed={closed} after {time.monotonic() - start:.1f}s")
    return 0 if closed else 1


SLOW = {
    "http": b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
    + b"X-Slow: " + b"a" * 200,
    "grpc": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00" * 200,
}


def slowloris(port, kind, limit):
    start = time.monotonic()
    s = connect(port)
    sent = 0
    for b in SLOW[kind]:
        try:
            s.send(bytes([b]))
        except (ConnectionResetError, BrokenPipeError):
            break
        sent += 1
        closed, _ = wait_closed(s, time.monotonic() + 1.0)
        if closed or time.monotonic() - start > limit:
            break
    else:
        closed = False
    took = time.monotonic() - start
    s.close()
    print(f"slowloris {kind}: closed={closed} after {took:.1f}s, {sent} bytes sent")
    return 0 if closed and took <= limit else 1


def flood(port, n, limit):
    socks = [connect(port) for _ in range(n)]
    for s in socks:
        try:
            s.sendall(os.urandom(512))
        except (ConnectionResetError, BrokenPipeError):
            pass
    deadline = time.monotonic() + limit
    open_ = set(socks)
    while open_ and time.monotonic() < deadline:
        r, _, _ = select.select(list(open_), [], [], 0.1)
        for s in r:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                open_.discard(s)
    for s in socks:
        s.close()
    print(f"flood: {n - len(open_)}/{n} closed by the server")
    return 0 if not open_ else 1


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def spans(n):
    now = time.time_ns()
    body = b""
    for i in range(n):
        span = (
            field(1, struct.pack(">QQ", 0x5EED, i + 1))  # trace_id
            + field(2, struct.pack(">Q", i + 1))  # span_id
            + field(5, b"abuse")  # name
            + struct.pack("<BQ", 7 << 3 | 1, now)  # start_time_unix_nano
            + struct.pack("<BQ", 8 << 3 | 1, now + 1000)  # end_time_unix_nano
        )
        body += field(2, span)
    resource_spans = field(2, body)  # ResourceSpans{scope_spans: [ScopeSpans{spans}]}
    sys.stdout.buffer.write(field(1, resource_spans))
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "garbage":
        return garbage(int(args[0]), args[1], float(args[2]))
    if cmd == "idle":
        return idle(int(args[0]), float(args[1]))
    if cmd == "slowloris":
        return slowloris(int(args[0]), args[1], float(args[2]))
    if cmd == "flood":
        return flood(int(args[0]), int(args[1]), float(args[2]))
    if cmd == "spans":
        return spans(int(args[0]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
