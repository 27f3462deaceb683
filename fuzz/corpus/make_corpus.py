#!/usr/bin/env python3
"""Writes the fuzz seed corpora: fuzz/corpus/connection/, fuzz/corpus/uri/ and fuzz/corpus/resp/.

    python3 fuzz/corpus/make_corpus.py        # rewrites the seeds (idempotent)

Connection seeds are a 4-byte prefix (byte 0: options, bytes 1-3: split seed; see
fuzz/connection_harness.h) followed by requests like those of tests/integration: the API,
pipelines, chunked bodies, Expect, and the malformed inputs of the README's Errors table.
Uri seeds are one option byte and a target, query or TTL. Resp seeds have the connection seeds'
layout (fuzz/resp_harness.h) and carry RESP2 commands: multibulk and inline, every command kvd
has with its options and errors, pipelines, QUIT, AUTH, and framing errors. File names are the content's SHA-1, as
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


def mb(*args: bytes | str) -> bytes:
    """One command as a multibulk, as client libraries send it."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n" % len(a) + a + b"\r\n"
    return out


def mbs(*commands: str) -> bytes:
    """Commands given as space-separated words, each as a multibulk."""
    return b"".join(mb(*c.split(" ")) for c in commands)


RESP: list[bytes] = [
    # connection commands
    mbs("PING", "PING hello", "ECHO hi", "ping a b", "echo", "SELECT 0", "SELECT 1", "select abc"),
    mb("ECHO", b"") + mb("PING", b"") + mb("ECHO", bytes(range(256))),
    mbs("HELLO", "HELLO 2", "HELLO 3", "HELLO abc", "HELLO 2 SETNAME me", "HELLO 2 AUTH default s3cret",
        "HELLO 2 AUTH default wrong", "HELLO 2 FOO", "CLIENT GETNAME"),
    mbs("CLIENT SETNAME conn1", "CLIENT GETNAME", "CLIENT ID", "CLIENT INFO", "CLIENT SETNAME",
        "CLIENT SETINFO lib-name redis-py", "CLIENT SETINFO lib-ver 1.0", "CLIENT SETINFO foo x",
        "CLIENT HELP", "CLIENT NOPE", "CLIENT") + mb("CLIENT", "SETNAME", "a b"),
    mbs("AUTH s3cret", "GET k", "AUTH default s3cret", "AUTH wrong", "AUTH a b c", "AUTH nobody s3cret"),
    mbs("GET k", "PING", "AUTH wrong", "GET k", "AUTH s3cret", "SET k v", "GET k", "QUIT"),
    mbs("SET a 1", "QUIT", "SET b 2", "GET a"),
    mbs("QUIT extra args") + b"PING\r\n",
    # strings and SET's options
    mbs("SET k v", "GET k", "SET k v2 XX", "SET n v XX", "SET k v3 NX", "SET m v NX", "GET k", "GET m"),
    mbs("SET k v EX 100", "TTL k", "PTTL k", "SET k v PX 1500", "PTTL k", "SET k v KEEPTTL", "PTTL k",
        "SET k w GET", "SET k x NX GET", "SET k y XX GET", "SET q z GET", "SET k v EX 10 EX 20", "TTL k"),
    mbs("SET k v EX 10 PX 5", "SET k v NX XX", "SET k v EX 0", "SET k v EX -1", "SET k v EX abc",
        "SET k v EX", "SET k v KEEPTTL EX 10", "SET k v FOO", "SET k v EXAT 99999999999", "SET k v PXAT 1",
        "SET k v PX 2073600001", "SET k v EX 9223372036854775807", "SET k", "GET", "GET a b"),
    mbs("SET " + "k" * 9 + " v", "SET " + "k" * 251 + " v", "GET " + "k" * 251) + mb("SET", "", "v") + mb("GET", ""),
    mb("SET", "big", b"x" * 65) + mb("SET", "big", b"y" * 2000) + mb("GET", "big") + mb("SET", "bin", b"a\0b\r\nc") + mb("GET", "bin"),
    # keys and expiry
    mbs("SET a 1", "SET b 2", "DEL a a b c", "EXISTS a b", "SET a 1", "EXISTS a a b", "UNLINK a nope", "DEL", "EXISTS", "DBSIZE"),
    mbs("SET e 1", "EXPIRE e 100", "TTL e", "PEXPIRE e 1500", "PTTL e", "EXPIRE e 0", "EXISTS e", "TTL e", "PTTL e",
        "SET e 1", "EXPIRE e 100 NX", "EXPIRE e 100 XX", "EXPIRE e 50 GT", "EXPIRE e 500 GT", "EXPIRE e 10 LT",
        "EXPIRE e 10 NX XX", "EXPIRE e 10 GT LT", "EXPIRE e 10 FOO", "EXPIRE e abc", "EXPIRE e 2073601",
        "PEXPIRE e 9223372036854775807", "EXPIRE e -5 LT", "PERSIST e", "PERSIST", "EXPIRE nokey 10"),
    # counters
    mbs("INCR n", "INCRBY n 9223372036854775806", "INCR n", "GET n", "INCRBY n abc", "INCRBY n 1.5",
        "INCRBY n -0", "INCRBY n 01", "DECRBY x -9223372036854775808", "DECRBY x 9223372036854775807",
        "DECR x", "DECR x", "INCRBY y -9223372036854775808", "DECR y", "SET s abc", "INCR s", "DECR s",
        "INCR", "INCR a b", "INCRBY z", "DECRBY z -10"),
    mbs("MSET a 1 b 2", "MGET a b c a", "MSET a", "MSET a 1 b", "MGET", "DBSIZE", "DBSIZE x"),
    # server commands
    mbs("INFO", "INFO server", "INFO clients memory", "INFO stats keyspace", "INFO commandstats", "INFO everything", "INFO nosuch"),
    mbs("COMMAND COUNT", "COMMAND INFO get set config|get nosuch", "COMMAND DOCS get", "COMMAND LIST",
        "COMMAND LIST FILTERBY x", "COMMAND HELP", "COMMAND NOPE"),
    mbs("COMMAND", "COMMAND DOCS", "COMMAND INFO"),
    mbs("CONFIG GET *", "CONFIG GET save appendonly", "CONFIG GET max*", "CONFIG GET [ab]*", "CONFIG SET save x",
        "CONFIG HELP", "CONFIG", "CONFIG NOPE"),
    mbs("FOO", "FOO bar baz", "get|x k", "FLUSHALL", "KEYS *") + mb("FOO", "a" * 200, "b" * 200),
    # pipelines
    b"".join(mb("SET", f"p{i}", "v" * (i * 7 % 90)) for i in range(40)) + b"".join(mb("GET", f"p{i}") for i in range(40)),
    b"".join(mb("INCR", "c") for i in range(100)) + mb("GET", "c"),
    mb("SET", "v", b"z" * 3000) + mb("GET", "v") * 30,
    mb("MSET", *[f"m{i}" for i in range(60)]) + mb("MGET", *[f"m{i}" for i in range(0, 60, 2)]),
    # inline commands, as telnet and nc users send them
    b"PING\r\nPING\nECHO hello\r\nSET k \"a b\"\r\nGET k\r\n",
    b"SET k 'it\\'s'\r\nGET k\r\nSET h \"\\x41\\x42\\n\\t\\\\\"\r\nGET h\r\n",
    b"\r\n   \r\n\t\nPING\r\n  set   k   v  \r\nget k\r\n",
    b"SET k \"abc\r\nPING\r\n",
    b"SET k \"abc\"def\r\nPING\r\n",
    b"SET k 'abc\r\n",
    b"SET k a\"b c\"\r\nGET k\r\n",
    b"PING" + b" x" * 40 + b"\r\n" + b"GET " + b"k" * 300 + b"\r\n",
    b"PING\r\n" + b"A" * 70000,
    mb("SET", "k", "v") + b"GET k\r\n" + mb("GET", "k"),
    # framing errors
    b"*abc\r\n" + mb("SET", "after", "1"),
    b"*1\r\n$-5\r\n" + mb("PING"),
    b"*2\r\n$3\r\nGET\r\n+k\r\n",
    b"*1\r\n$4\r\nPINGxx",
    b"*1\r\n$4\r\nPING\rX",
    b"*1\r\n$01\r\nP\r\n",
    b"*01\r\n$4\r\nPING\r\n",
    b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
    b"*-2\r\n",
    b"*1\r\n$99999999999999999999\r\n",
    b"*99999999999\r\n",
    b"*1\r\n$2000\r\n" + b"x" * 2000 + b"\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$70000\r\n" + b"v" * 200,
    b"*11\r\n" + b"$1\r\nx\r\n" * 11,
    b"*2\r\n$4\r\nAUTH\r\n$17000\r\n" + b"p" * 100,
    b"*500\r\n" + b"$1\r\nx\r\n" * 500,
    b"*1\r\n$4\nPING\r\n",
    b"*1\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n*1\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab",
    b"*+1\r\n$4\r\nPING\r\n",
    b"*1 \r\n$4\r\nPING\r\n",
    b"$4\r\nPING\r\n",
]
RESP += [mbs("AUTH s3cret") + s for s in RESP[:30]]

# Option bytes (RespOptions::FromByte): piece sizes 3/16/256/all, small output buffer, slow
# reader, auth, small limits, no memory, more shards.
RESP_OPTIONS = [0x00, 0x01, 0x02, 0x03, 0x06, 0x0d, 0x13, 0x23, 0x43, 0x83, 0x2e, 0x57, 0xb5, 0x3f]


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
    resp = []
    for i, s in enumerate(RESP):
        for opt in (0x03, RESP_OPTIONS[i % len(RESP_OPTIONS)], RESP_OPTIONS[(i * 5 + 2) % len(RESP_OPTIONS)]):
            resp.append(bytes([opt, i & 0xFF, 0x3C, 0x96]) + s)
    resp = list(dict.fromkeys(resp))
    n1 = write("connection", conn)
    n2 = write("uri", uri)
    n3 = write("resp", resp)
    for sub in ("regressions/connection", "regressions/uri", "regressions/resp"):
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    print(f"wrote {n1} connection seeds, {n2} uri seeds, {n3} resp seeds")


if __name__ == "__main__":
    main()
