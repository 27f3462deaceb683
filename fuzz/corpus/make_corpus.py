#!/usr/bin/env python3
"""Writes the fuzz seed corpora: fuzz/corpus/connection/ and fuzz/corpus/uri/.

    python3 fuzz/corpus/make_corpus.py        # rewrites the seeds (idempotent)

Connection seeds are a 4-byte prefix (byte 0: options, bytes 1-3: split seed; see
fuzz/connection_harness.h) followed by requests like those of tests/integration: the API,
pipelines, chunked bodies, Expect, and the malformed inputs of the README's Errors table.
Uri seeds are one option byte and a target, query or TTL. File names are the content's SHA-1, as
libFuzzer names what it finds. fuzz/corpus/regressions/ is not touched: inputs there come
from crashes `make fuzz` found.
"""
from __future__ import annotations

import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def req(method: str, target: str, body: bytes | None = None, headers: list[tuple[str, str]] = (),
        version: str = "HTTP/1.1") -> bytes:
    out = f"{method} {target} {version}\r\nHost: localhost\r\n".encode()
    for k, v in headers:
        out += f"{k}: {v}\r\n".encode()
    if body is not None:
        out += b"Content-Length: %d\r\n" % len(body)
    return out + b"\r\n" + (body or b"")


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


TE = [("Transfer-Encoding", "chunked")]

STREAMS: list[bytes] = [
    # API
    req("POST", "/k1", b"v1") + req("GET", "/k1") + req("POST", "/size"),
    req("PUT", "/k2", b"v2") + req("HEAD", "/k2") + req("DELETE", "/k2") + req("DELETE", "/k2"),
    req("POST", "/t?ttl=500ms", b"x") + req("POST", "/t?nx", b"y") + req("POST", "/u?xx", b"z"),
    req("POST", "/a?nx&xx", b"v") + req("POST", "/b?ttl=0", b"v") + req("POST", "/c?ttl=1.5s&foo=1", b"v"),
    req("GET", "/size") + req("GET", "/healthz") + req("HEAD", "/metrics") + req("GET", "/metrics"),
    req("PATCH", "/k") + req("OPTIONS", "/k") + req("DELETE", "/size") + req("POST", "/healthz", b""),
    req("GET", "/%41%62c") + req("POST", "/sp%20ace", b"v") + req("GET", "/%zz") + req("GET", "/"),
    req("GET", "/" + "k" * 300) + req("POST", "/bin", bytes(range(256))),
    req("GET", "http://localhost/abs?x") + req("GET", "*") + req("GET", "/q?"),
    req("GET", "/k", headers=[("Authorization", "Bearer s3cret")]) + req("GET", "/size", headers=[("Authorization", "Bearer nope")]),
    # pipelines, keep-alive and close
    b"".join(req("POST", f"/p{i}", b"%d" % i) for i in range(20)) + b"".join(req("GET", f"/p{i}") for i in range(20)),
    req("GET", "/k", headers=[("Connection", "close")]) + req("GET", "/never"),
    req("GET", "/k", version="HTTP/1.0") + req("GET", "/after"),
    req("GET", "/k", headers=[("Connection", "keep-alive")], version="HTTP/1.0") + req("GET", "/k"),
    # bodies
    req("POST", "/c", headers=TE) + chunked(b"hello", b" world") + req("GET", "/c"),
    req("POST", "/c", headers=TE) + b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    req("POST", "/e", b"body", headers=[("Expect", "100-continue")]) + req("GET", "/e"),
    req("POST", "/big", b"x" * 150) + req("POST", "/c", headers=TE) + chunked(b"a" * 80, b"b" * 80),
    req("POST", "/e", headers=[("Expect", "100-continue"), ("Content-Length", "999999999")]),
    # framing and smuggling attempts
    b"POST /s HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: \tchunked\r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /s HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
    b"POST /s HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
    b"GET /s HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n",
    b"GET /s HTTP/1.1\r\nX-A:\r\n two\r\n\r\n",
    b"POST /s HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    b"GET /s HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
    b"GET /s HTTP/1.1\nHost: x\n\n",
    b"GET /s HTTP/1.1\r\nX-A: a\x00b\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET /s HTTP/1.1\r\n: empty\r\n\r\n",
    # request line
    b"G@T /s HTTP/1.1\r\n\r\n",
    b"FOO /s HTTP/1.1\r\n\r\n",
    b"GET /s HTTP/1\r\n\r\n",
    b"GET /s HTTP/2.0\r\n\r\n",
    b"GET /s HTTP/9.9\r\n\r\n",
    b"GET /s\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"CONNECT localhost:80 HTTP/1.1\r\n\r\n",
    b"GET /u HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + req("GET", "/after"),
    b"\r\n\r\nGET /s HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 20,
    # sizes
    req("GET", "/s", headers=[("X-Big", "a" * 300)]),
    req("GET", "/s", headers=[(f"X-H{i}", "v") for i in range(110)]),
    req("GET", "/" + "a" * 9000),
    req("POST", "/s", headers=[("Content-Length", "200")]) + b"x" * 200,
]

# RFC 9110 / 9112 conformance (docs/http.md): each case followed by a plain request, so that a
# refusal that keeps the connection is seen answering it and one that closes is seen not to.
NEXT = req("POST", "/next", b"n")
TE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
CONFORMANCE: list[bytes] = [
    # Host
    b"GET /h HTTP/1.1\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost:\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: user@h\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: h/path\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: a, b\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: [::1]:8081 \r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: ex%41mple:80\r\n\r\n",
    b"GET /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET http://h/k HTTP/1.1\r\n\r\n",
    b"GET http://u@h/k HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET HTTP://h HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET ftp://h/k HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
    # request line and line endings
    b"GET /h HTTP/1.1\nHost: h\r\n\r\n",
    b"GET /h HTTP/1.0\n\r\n",
    b"GET /h HTTP/1.0\r\n\n",
    b"GET  /h HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /h  HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /h#f HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET /café HTTP/1.1\r\nHost: h\r\n\r\n".encode(),
    b"GET /\xc0\xaf HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /h HTTP/1.2\r\nHost: h\r\n\r\n",
    b"GET /h HTTP/3.0\r\nHost: h\r\n\r\n",
    b"GET /h HTTP/1.1\r\nHost: h\r\n\n",
    b"GET /h HTTP/1.1\r\nHost: h\r\n\rX",
    # framing fields
    req("POST", "/c", headers=[("Content-Length", "007")]) + b"1234567",
    req("POST", "/c", headers=[("Content-Length", "0")]),
    req("POST", "/c", headers=[("Content-Length", "  5  ")]) + b"hello",
    b"POST /c HTTP/1.0\r\n" + TE_CHUNKED + b"\r\n1\r\nx\r\n0\r\n\r\n",
    req("POST", "/c", headers=[("Transfer-Encoding", "gzip, chunked")]) + b"1\r\nx\r\n0\r\n\r\n",
    # chunks and trailers
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\n\n",
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\nX: y\r\n\n",
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\n\rX",
    req("POST", "/c", headers=TE) + b"1\rXx\r\n0\r\n\r\n",
    req("POST", "/c", headers=TE) + b"1;" + b"e" * 5000 + b"\r\nx\r\n0\r\n\r\n",
    req("POST", "/c", headers=TE) + b"1;a=b\r\nx\r\n0;" + b"e" * 3000 + b"\r\n\r\n",
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\nX-Checksum: 1\r\n\r\n",
] + [
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\n" + name + b": x\r\n\r\n"
    for name in (b"Content-Length", b"Host", b"Authorization", b"Content-Type", b"Transfer-Encoding")
] + [
    # a token sent only in a trailer (the auth option byte sets one)
    req("POST", "/c", headers=TE) + b"1\r\nx\r\n0\r\nAuthorization: Bearer s3cret\r\n\r\n",
    req("POST", "/c", headers=[("Authorization", "Bearer s3cret")] + TE) + b"1\r\nx\r\n0\r\nX: y\r\n\r\n",
    # Expect
    req("POST", "/e", b"body", headers=[("Expect", "foo")]),
    req("POST", "/e", b"body", headers=[("Expect", "100-continue, foo")]),
    b"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    req("POST", "/e", b"body", headers=[("Expect", "100-"), ("Expect", "continue")]),
    # values refused in well-framed requests, methods
    req("GET", "/a%00b") + req("POST", "/a%0d%0ab", b"v"),
    req("GET", "/k", headers=[("Authorization", "Bearer s3"), ("Authorization", "cret")]),
    req("PUT", "/r", b"hi", headers=[("Content-Range", "bytes 0-1/2")]),
    req("GET", "/c", headers=[("If-Match", '"x"'), ("If-None-Match", "*")]),
    req("OPTIONS", "*") + req("OPTIONS", "/k") + req("OPTIONS", "/size") + req("OPTIONS", "/metrics"),
    req("PATCH", "/k", b"x") + req("TRACE", "/k") + req("PUT", "/new", b"1") + req("PUT", "/new", b"2"),
    req("PUT", "/n?nx", b"1") + req("PUT", "/n?nx", b"2") + req("PUT", "/m?xx", b"3"),
]
STREAMS += [c + NEXT for c in CONFORMANCE]

# Option bytes (see ConnOptions::FromByte): piece sizes 3/16/256/all, small output buffer, slow
# reader, 404 misses, auth, small limits, more shards.
OPTIONS = [0x00, 0x01, 0x02, 0x03, 0x06, 0x0d, 0x52, 0x61, 0x4e, 0xa3, 0x17]

URIS: list[bytes] = [
    b"/k1", b"/a%20b", b"/%41%42", b"/%zz", b"/%4", b"/%", b"/a+b", b"/%00%ff%FF",
    b"/k?ttl=500ms", b"/k?nx&xx", b"ttl=1.5s", b"ttl=10", b"ttl=0.001", b"ttl=0.3", b"ttl=1h30m",
    b"ttl=24h&nx", b"ttl=%31%30s", b"xx&foo=bar&ttl=2m", b"http://host/k?x=1", b"https://h",
    b"1.5s", b"500ms", b"0", b"-1s", b"1e3", b"inf", b"nan", b"576h", b"577h", b"2073600", b"0.0005",
    # hosts
    b"kvd", b"kvd.example.com:8081", b"127.0.0.1:80", b"[::1]:8081", b"[v1.a:b]", b"ex%41mple", b"u@h",
    b"h/p", b"a, b", b"h:80x", b"[::1", b"HTTP://h/k", b"ftp://h/k",
]


def write(dirname: str, blobs: list[bytes]) -> int:
    d = os.path.join(HERE, dirname)
    os.makedirs(d, exist_ok=True)
    for b in blobs:
        with open(os.path.join(d, hashlib.sha1(b).hexdigest()), "wb") as f:
            f.write(b)
    return len(blobs)


def main() -> None:
    conn = []
    for i, s in enumerate(STREAMS):
        # Each stream once in one piece and with two other option sets, varied by index.
        for opt in (0x03, OPTIONS[i % len(OPTIONS)], OPTIONS[(i * 7 + 3) % len(OPTIONS)]):
            conn.append(bytes([opt, i & 0xFF, 0x5A, 0xC3]) + s)
    conn = list(dict.fromkeys(conn))
    uri = list(dict.fromkeys(bytes([i & 3]) + u for i, u in enumerate(URIS)))
    n1 = write("connection", conn)
    n2 = write("uri", uri)
    for sub in ("regressions/connection", "regressions/uri"):
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    print(f"wrote {n1} connection seeds, {n2} uri seeds")


if __name__ == "__main__":
    main()
