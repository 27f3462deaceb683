"""Adversarial clients (project issue 4). Each test is bounded in time and runs a well-behaved
client beside the attack (`Prober`): a GET of a stored key every 100 ms, alternately on a fresh
connection and on one kept-alive connection, each of which must be answered correctly in under
1 s while the attack goes on. Stored data must survive every attack.

  - slowloris: slowhttptest (if installed: 200 connections, 10 s, against --header-timeout=2s)
    and a Python slowloris (200 sockets sending a header byte every 0.5 s) whose sockets must all
    be closed by kvd within the header timeout (+ the 1 s sweep);
  - slow readers: connections that pipeline thousands of large responses and never read;
  - 2000 idle connections (RLIMIT_NOFILE raised in this process), all still usable;
  - clients that reset (SO_LINGER 0) mid-request, mid-body and mid-pipeline;
  - a flood of 2000 new connections;
  - a table of malformed and oversize requests (request smuggling variants, bare CR/LF,
    obs-fold, NUL, limits, bad percent-encoding, methods, versions): status and close behaviour
    per README's Errors table, and a request smuggled behind each one is never executed.

Python 3.11 stdlib only; the helpers of kvdtest.py.
"""
from __future__ import annotations

import os
import re
import resource
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from kvdtest import SANITIZED, ConnectionClosed, HttpConn, KvdTestCase, build_request, chunked

SEED = {"/seed": b"seed-value", "/seed-bin": bytes(range(256))}
PROMPT = 1.0  # seconds: the most a well-behaved client may wait for an answer during an attack


# --------------------------------------------------------------------------------------------
# Shared helpers (also imported by test_resources.py)
# --------------------------------------------------------------------------------------------

def raise_nofile(want: int) -> int:
    """Raises this process's RLIMIT_NOFILE soft limit towards `want` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def scrape(port: int) -> dict[str, float]:
    """GET /metrics as {"name{labels}": value}."""
    with HttpConn(port) as c:
        r = c.request("GET", "/metrics")
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used, RSS bytes) of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Prober:
    """A well-behaved client running in a thread: GET `key` every `interval` s, alternately on a
    fresh connection and on a kept-alive one. Records failures: errors, wrong answers, and
    answers slower than PROMPT."""

    def __init__(self, port: int, key: str, value: bytes, interval: float = 0.1):
        self.port, self.key, self.value, self.interval = port, key, value, interval
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._kept: HttpConn | None = None

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._kept:
            self._kept.close()

    def _one(self, fresh: bool) -> None:
        t0 = time.monotonic()
        try:
            if fresh:
                with HttpConn(self.port, timeout=3 * PROMPT) as c:
                    r = c.request("GET", self.key)
            else:
                if self._kept is None:
                    self._kept = HttpConn(self.port, timeout=3 * PROMPT)
                r = self._kept.request("GET", self.key)
        except (OSError, ConnectionClosed, AssertionError) as e:
            if not fresh and self._kept is not None:
                self._kept.close()
                self._kept = None
            self.failures.append(f"{'fresh' if fresh else 'kept'} connection: {type(e).__name__}: {e}")
            return
        dt = time.monotonic() - t0
        self.latencies.append(dt)
        if r.status != 200 or r.body != self.value:
            self.failures.append(f"wrong answer {r.status} {r.body[:40]!r}")
        elif dt >= PROMPT:
            self.failures.append(f"{'fresh' if fresh else 'kept'} connection answered in {dt:.2f}s")

    def _run(self) -> None:
        fresh = True
        while not self._stop.is_set():
            self._one(fresh)
            fresh = not fresh
            self._stop.wait(self.interval)

    def summary(self) -> str:
        if not self.latencies:
            return "no answers"
        lat = sorted(self.latencies)
        return (f"{len(lat)} answers, median {lat[len(lat) // 2] * 1000:.1f} ms, "
                f"max {lat[-1] * 1000:.1f} ms")

    def check(self, test: unittest.TestCase, what: str) -> None:
        test.assertGreater(len(self.latencies), 0, f"{what}: the well-behaved client got no answer")
        test.assertEqual(self.failures[:5], [],
                         f"{what}: the well-behaved client was not served promptly "
                         f"({len(self.failures)} failures; {self.summary()})")


# --------------------------------------------------------------------------------------------
# Malformed and oversize requests
# --------------------------------------------------------------------------------------------

H = b"Host: x\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
BODY5 = b"5\r\nhello\r\n0\r\n\r\n"
# Sent behind every case: a fatal error must keep it from ever running; a kept one answers it.
SMUGGLED = build_request("POST", "/smuggled", b"pwned")


def post(headers: bytes, body: bytes = b"", target: bytes = b"/target", version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST " + target + b" " + version + b"\r\n" + H + headers + b"\r\n" + body


def get(headers: bytes = b"", target: bytes = b"/seed", version: bytes = b"HTTP/1.1") -> bytes:
    return b"GET " + target + b" " + version + b"\r\n" + H + headers + b"\r\n"


# (name, raw request, expected status, connection closed after it?, stored value of /target
# afterwards: None = absent). MAX_VALUE is --max-value-bytes below.
MAX_VALUE = 64 << 10
CASES: list[tuple[str, bytes, int, bool, bytes | None]] = [
    # request smuggling: Content-Length and Transfer-Encoding
    ("CL + TE", post(b"Content-Length: 5\r\n" + TE, BODY5), 400, True, None),
    ("TE + CL", post(TE + b"Content-Length: 5\r\n", BODY5), 400, True, None),
    ("CL 0 + TE smuggling a request", post(b"Content-Length: 0\r\n" + TE, b"0\r\n\r\n" + get(target=b"/x")), 400, True, None),
    ("TE 'chunked ' (trailing OWS) is chunked", post(b"Transfer-Encoding: chunked \r\n", BODY5), 200, False, b"hello"),
    ("TE '\\tchunked' (leading OWS) is chunked", post(b"Transfer-Encoding:\tchunked\r\n", BODY5), 200, False, b"hello"),
    ("TE 'Chunked' (case-insensitive)", post(b"Transfer-Encoding: Chunked\r\n", BODY5), 200, False, b"hello"),
    ("TE 'xchunked'", post(b"Transfer-Encoding: xchunked\r\n", BODY5), 400, True, None),
    ("TE 'chunked, identity'", post(b"Transfer-Encoding: chunked, identity\r\n", BODY5), 400, True, None),
    ("TE 'gzip, chunked' (a coding kvd does not decode)", post(b"Transfer-Encoding: gzip, chunked\r\n", BODY5), 501, True, None),
    ("TE 'identity'", post(b"Transfer-Encoding: identity\r\n", BODY5), 400, True, None),
    ("TE 'chunked;q=1'", post(b"Transfer-Encoding: chunked;q=1\r\n", BODY5), 400, True, None),
    ("TE twice", post(TE + TE, BODY5), 400, True, None),
    ("TE obs-folded onto an empty line", post(b"Transfer-Encoding:\r\n chunked\r\n", BODY5), 400, True, None),
    ("TE value obs-folded", post(b"Transfer-Encoding: chunked\r\n , identity\r\n", BODY5), 400, True, None),
    ("TE name with a space before the colon", post(b"Transfer-Encoding : chunked\r\n", BODY5), 400, True, None),
    ("TE with NUL", post(b"Transfer-Encoding: chunked\x00\r\n", BODY5), 400, True, None),
    ("duplicate CL, equal", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"), 400, True, None),
    ("duplicate CL, different", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), 400, True, None),
    ("CL list '5, 5'", post(b"Content-Length: 5, 5\r\n", b"hello"), 400, True, None),
    ("CL '+5'", post(b"Content-Length: +5\r\n", b"hello"), 400, True, None),
    ("CL '-1'", post(b"Content-Length: -1\r\n", b"hello"), 400, True, None),
    ("CL hex '0x5'", post(b"Content-Length: 0x5\r\n", b"hello"), 400, True, None),
    ("CL overflowing 64 bits", post(b"Content-Length: 99999999999999999999999\r\n", b"hello"), 400, True, None),
    ("CL with OWS is fine", post(b"Content-Length:  5 \r\n", b"hello"), 200, False, b"hello"),
    ("chunk size not hex", post(TE, b"zz\r\nhello\r\n0\r\n\r\n"), 400, True, None),
    ("chunk size overflowing", post(TE, b"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400, True, None),
    ("chunk data longer than its size", post(TE, b"3\r\nhello\r\n0\r\n\r\n"), 400, True, None),
    # line endings, control bytes, folding
    ("bare LF line endings", b"GET /seed HTTP/1.1\nHost: x\n\n", 400, True, None),
    ("bare LF ending one header", b"GET /seed HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400, True, None),
    ("bare CR in a header value", get(b"X-A: a\rb\r\n"), 400, True, None),
    ("bare CR ending a header", b"GET /seed HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", 400, True, None),
    ("bare CR in the request line", b"GET /seed\rHTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("obs-fold with SP", get(b"X-A: one\r\n two\r\n"), 400, True, None),
    ("obs-fold with HTAB", get(b"X-A: one\r\n\ttwo\r\n"), 400, True, None),
    ("obs-fold onto an empty value", get(b"X-A:\r\n two\r\n"), 400, True, None),
    ("NUL in a header value", get(b"X-A: a\x00b\r\n"), 400, True, None),
    ("NUL in a header name", get(b"X-\x00A: b\r\n"), 400, True, None),
    ("NUL in the target", b"GET /se\x00ed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("ESC in a header value", get(b"X-A: a\x1bb\r\n"), 400, True, None),
    ("DEL in a header value", get(b"X-A: a\x7fb\r\n"), 400, True, None),
    ("space before the colon", get(b"Host : x\r\n"), 400, True, None),
    ("empty header name", get(b": empty\r\n"), 400, True, None),
    ("header line without a colon", get(b"NoColonHere\r\n"), 400, True, None),
    # sizes
    ("request target of 9000 bytes", get(target=b"/" + b"a" * 9000), 414, True, None),
    ("key of 300 bytes (target within limits)", get(target=b"/" + b"a" * 300), 414, False, None),
    ("header section of 20000 bytes", get(b"X-Big: " + b"a" * 20000 + b"\r\n"), 431, True, None),
    ("header name of 10000 bytes", get(b"X-" + b"n" * 10000 + b": v\r\n"), 431, True, None),
    ("101 header lines", get(b"".join(b"X-H%d: v\r\n" % i for i in range(100))), 431, True, None),
    ("Content-Length over --max-value-bytes", post(b"Content-Length: %d\r\n" % (MAX_VALUE + 1), b"x" * (MAX_VALUE + 1)), 413, True, None),
    ("Content-Length of 1 TB, no body", post(b"Content-Length: 1000000000000\r\n"), 413, True, None),
    ("chunked body over --max-value-bytes", post(TE, b"%x\r\n" % (MAX_VALUE + 1) + b"x" * (MAX_VALUE + 1) + b"\r\n0\r\n\r\n"), 413, True, None),
    ("body exactly --max-value-bytes", post(b"Content-Length: %d\r\n" % MAX_VALUE, b"v" * MAX_VALUE), 200, False, b"v" * MAX_VALUE),
    # percent-encoding and keys (the connection is kept)
    ("bad percent-encoding %zz", get(target=b"/%zz"), 400, False, None),
    ("truncated percent-encoding %4", get(target=b"/%4"), 400, False, None),
    ("lone %", get(target=b"/a%"), 400, False, None),
    ("empty key", get(target=b"/"), 400, False, None),
    ("nx and xx together", post(b"Content-Length: 1\r\n", b"v", target=b"/target?nx&xx"), 400, False, None),
    ("bad ttl", post(b"Content-Length: 1\r\n", b"v", target=b"/target?ttl=forever"), 400, False, None),
    ("ttl over 24 days", post(b"Content-Length: 1\r\n", b"v", target=b"/target?ttl=25d"), 400, False, None),
    # methods and versions
    ("method with '@'", b"G@T /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("unknown method FOO", b"FOO /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("unknown method PRIX (not the HTTP/2 preface)", b"PRIX /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("lower-case method", b"get /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("method with a control byte", b"G\x01T /seed HTTP/1.1\r\nHost: x\r\n\r\n", 400, True, None),
    ("PATCH is 501, kept", b"PATCH /target HTTP/1.1\r\nHost: x\r\n\r\n", 501, False, None),
    ("CONNECT", b"CONNECT localhost:80 HTTP/1.1\r\nHost: x\r\n\r\n", 501, True, None),
    ("version HTTP/1", get(version=b"HTTP/1"), 400, True, None),
    ("version HTTP/9.9", get(version=b"HTTP/9.9"), 505, True, None),
    ("version http/1.1 (lower case)", get(version=b"http/1.1"), 400, True, None),
    ("version HTTP/1.1x", get(version=b"HTTP/1.1x"), 400, True, None),
    ("version HTTP/2.0", get(version=b"HTTP/2.0"), 505, True, None),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, True, None),
    ("no version (HTTP/0.9 style)", b"GET /seed\r\n\r\n", 400, True, None),
    ("TLS ClientHello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40, 400, True, None),
]


class MalformedTableTest(KvdTestCase):
    kvd_flags = [f"--max-value-bytes={MAX_VALUE}", "--ttl=10m"]

    def test_table_has_40_cases(self):
        self.assertGreaterEqual(len(CASES), 40)

    def test_malformed_and_oversize_requests(self):
        for k, v in SEED.items():
            self.assertStatus(self.put(k, v), 200)
        with Prober(self.port, "/seed", SEED["/seed"]) as prober:
            for name, raw, status, closed, stored in CASES:
                with self.subTest(case=name):
                    self._case(name, raw, status, closed, stored)
        prober.check(self, "malformed requests")

    def _case(self, name: str, raw: bytes, status: int, closed: bool, stored: bytes | None) -> None:
        try:
            with HttpConn(self.port) as c:
                c.try_send(raw + SMUGGLED)
                try:
                    r = c.read_response()
                except ConnectionClosed as e:
                    self.fail(f"{name}: no {status} response before the connection ended: {e}")
                self.assertStatus(r, status, f"{name}:")
                if r.status >= 400:
                    self.assertLess(len(r.body), 200, f"{name}: error body should be one short line")
                    self.assertNotIn(b"\n", r.body.rstrip(b"\n"), f"{name}: error body should be one line")
                if closed:
                    self.assertEqual(r.header("Connection"), "close", f"{name}: no Connection: close")
                    self.assertClosed(c, 3.0, f"{name}:")
                else:
                    self.assertIsNone(r.header("Connection"), f"{name}: connection should be kept")
                    follow = c.read_response()
                    self.assertStatus(follow, 200, f"{name}: the request after it on the same connection:")
                    self.assertEqual(follow.body, b"pwned")
            with HttpConn(self.port) as check:
                for k, v in SEED.items():
                    self.assertEqual(check.request("GET", k).body, v, f"after {name}: {k} changed")
                self.assertEqual(check.request("GET", "/target").body, stored or b"",
                                 f"after {name}: /target")
                if closed:
                    self.assertEqual(check.request("GET", "/smuggled").body, b"",
                                     f"after {name}: a request behind a fatal error ran")
        finally:  # a failed case must not leave state behind for the next one
            with HttpConn(self.port) as cleanup:
                cleanup.request("DELETE", "/smuggled")
                cleanup.request("DELETE", "/target")


# --------------------------------------------------------------------------------------------
# Slow and abusive clients
# --------------------------------------------------------------------------------------------

class AttackTestBase(KvdTestCase):
    kvd_flags = ["--header-timeout=2s", "--max-output-bytes=1M", "--ttl=10m"]

    def setUp(self):
        super().setUp()
        raise_nofile(8192)
        for k, v in SEED.items():
            self.assertStatus(self.put(k, v), 200)

    def assertSeedIntact(self, what: str) -> None:
        with HttpConn(self.port) as c:
            for k, v in SEED.items():
                r = c.request("GET", k)
                self.assertEqual((r.status, r.body), (200, v), f"after {what}: {k}")

    def wait_open_connections(self, at_most: int, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            n = scrape(self.port)['kvd_connections_open{protocol="http"}']
            if n <= at_most or time.monotonic() > deadline:
                return n
            time.sleep(0.1)


class SlowlorisTest(AttackTestBase):

    @unittest.skipUnless(shutil.which("slowhttptest"), "slowhttptest is not installed (scripts/ops/install-deps.sh test)")
    def test_slowhttptest_200_connections(self):
        with tempfile.TemporaryDirectory() as d, Prober(self.port, "/seed", SEED["/seed"]) as prober:
            prefix = os.path.join(d, "slow")
            # -H slow headers: 200 connections opened at 20/s (so the attack lasts ~10 s although
            # kvd drops each one after the 2 s header timeout), a header line every second.
            p = subprocess.run(
                ["slowhttptest", "-H", "-c", "200", "-r", "20", "-i", "1", "-x", "10", "-l", "12",
                 "-p", "2", "-g", "-o", prefix, "-u", f"http://127.0.0.1:{self.port}/seed"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=40)
            out = p.stdout + p.stderr
            with open(prefix + ".csv") as f:
                rows = [line.strip().split(",") for line in f if line[:1].isdigit()]
        prober.check(self, "slowhttptest")
        self.assertTrue(rows, f"no slowhttptest statistics:\n{out[-2000:]}")
        # Seconds,Closed,Pending,Connected,Service Available (the probe's HTTP status, 0 if none)
        self.assertGreaterEqual(len(rows), 9, f"the attack lasted less than 9 s:\n{out[-2000:]}")
        unavailable = [r for r in rows if r[4].strip() != "200"]
        self.assertEqual(unavailable, [], f"slowhttptest saw the service unavailable:\n{out[-2000:]}")
        self.assertGreater(max(int(r[1]) for r in rows), 100,
                           f"kvd closed too few slow connections:\n{out[-2000:]}")
        m = scrape(self.port)
        self.assertGreater(m['kvd_connections_closed_total{protocol="http",reason="timeout"}'], 100)
        self.assertSeedIntact("slowhttptest")

    def test_python_slowloris_200_sockets(self):
        n, interval, duration = 200, 0.5, 5.0
        header = b"GET /seed HTTP/1.1\r\nHost: x\r\n"
        trickle = b"X-Slow: " + b"a" * 64
        socks = []
        with Prober(self.port, "/seed", SEED["/seed"]) as prober:
            t0 = time.monotonic()
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                s.sendall(header)
                socks.append(s)
            closed_at: dict[socket.socket, float] = {}
            got_bytes = 0
            i = 0
            while time.monotonic() - t0 < duration:
                for s in socks:
                    if s in closed_at:
                        continue
                    try:
                        s.send(trickle[i % len(trickle):][:1])
                    except OSError:
                        closed_at[s] = time.monotonic() - t0
                readable, _, _ = select.select([s for s in socks if s not in closed_at], [], [], 0)
                for s in readable:
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    got_bytes += len(data)
                    if not data:
                        closed_at[s] = time.monotonic() - t0
                i += 1
                time.sleep(interval)
            for s in socks:
                s.close()
        prober.check(self, "slowloris")
        self.assertEqual(len(closed_at), n, f"kvd left {n - len(closed_at)} slowloris sockets open "
                                            f"after {duration}s with --header-timeout=2s")
        # Header timeout 2 s, checked by a sweep once a second, plus our 0.5 s polling.
        self.assertLess(max(closed_at.values()), 2 + 1 + interval + 0.5)
        self.assertGreaterEqual(min(closed_at.values()), 1.9, "closed before the header timeout")
        self.assertEqual(got_bytes, 0, "a request whose headers never completed was answered")
        m = scrape(self.port)
        self.assertGreaterEqual(m['kvd_connections_closed_total{protocol="http",reason="timeout"}'], n)
        self.assertSeedIntact("slowloris")


class SlowReaderTest(AttackTestBase):

    def test_pipelining_clients_that_never_read(self):
        big = os.urandom(60 << 10)
        self.assertStatus(self.put("/big", big), 200)
        n_conns, n_reqs = 20, 400  # 400 x 60 KiB = 24 MiB of answers per connection
        burst = build_request("GET", "/big") * n_reqs
        _, rss0 = proc_stat(self.kvd.pid())
        conns = []
        with Prober(self.port, "/seed", SEED["/seed"]) as prober:
            for _ in range(n_conns):
                c = HttpConn(self.port)
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                c.send(burst)
                conns.append(c)
            time.sleep(3)
            _, rss = proc_stat(self.kvd.pid())
            # One slow reader finally reads: every answer arrives, in order, intact.
            c = conns[0]
            c.sock.settimeout(10)
            for i in range(n_reqs):
                r = c.read_response()
                self.assertEqual((r.status, len(r.body)), (200, len(big)), f"response {i}")
                if i % 50 == 0:
                    self.assertEqual(r.body, big)
            for c in conns:
                c.close()
        prober.check(self, "slow readers")
        # --max-output-bytes=1M per connection bounds what kvd holds for them.
        if not SANITIZED:
            self.assertLess(rss - rss0, 64 << 20, f"kvd grew by {(rss - rss0) >> 20} MiB for {n_conns} slow readers")
        self.assertLessEqual(self.wait_open_connections(1), 1)
        self.assertSeedIntact("slow readers")


class IdleConnectionsTest(AttackTestBase):

    def test_2000_idle_connections(self):
        n = 2000
        socks = []
        try:
            with Prober(self.port, "/seed", SEED["/seed"]) as prober:
                for _ in range(n):
                    socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                deadline = time.monotonic() + 5
                while scrape(self.port)['kvd_connections_open{protocol="http"}'] < n and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertGreaterEqual(scrape(self.port)['kvd_connections_open{protocol="http"}'], n)
                time.sleep(1)
                # Idle connections are still usable: a request on every 40th one.
                for s in socks[::40]:
                    s.sendall(build_request("GET", "/seed"))
                for s in socks[::40]:
                    data = b""
                    while b"seed-value" not in data:
                        chunk = s.recv(4096)
                        self.assertTrue(chunk, "an idle connection was closed")
                        data += chunk
                    self.assertTrue(data.startswith(b"HTTP/1.1 200 "))
        finally:
            for s in socks:
                s.close()
        prober.check(self, "2000 idle connections")
        self.assertLessEqual(self.wait_open_connections(1), 1)
        self.assertSeedIntact("2000 idle connections")


def _reset(s: socket.socket) -> None:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


class ResetTest(AttackTestBase):

    def test_resets_mid_request_body_and_pipeline(self):
        big = os.urandom(200 << 10)
        self.assertStatus(self.put("/big", big), 200)
        kinds = {
            "mid-request-line": b"GET /se",
            "mid-headers": b"POST /partial HTTP/1.1\r\nHost: x\r\nContent-Le",
            "mid-body": b"POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"p" * 500,
            "mid-chunked-body": b"POST /partial HTTP/1.1\r\nHost: x\r\n" + TE + b"\r\n100\r\n" + b"p" * 50,
            "mid-pipeline": build_request("GET", "/big") * 50,
            "after-request-before-reading": build_request("GET", "/seed"),
        }
        errors: list[str] = []

        def worker(w: int) -> None:
            try:
                for i in range(60):
                    name = list(kinds)[(w + i) % len(kinds)]
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    s.sendall(kinds[name])
                    if name == "mid-pipeline" and i % 2:
                        s.recv(1000)  # reset while kvd is in the middle of writing
                    _reset(s)
            except OSError as e:
                errors.append(f"worker {w}: {e}")

        with Prober(self.port, "/seed", SEED["/seed"]) as prober:
            threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        prober.check(self, "resets")
        self.assertEqual(errors, [])
        self.assertTrue(self.kvd.alive())
        self.assertLessEqual(self.wait_open_connections(1), 1, "connections leaked after resets")
        m = scrape(self.port)
        self.assertLessEqual(m["in_flight_requests"], 1, "requests left in flight after resets")
        self.assertEqual(self.get("/partial").body, b"", "a request cut by a reset was executed")
        self.assertSeedIntact("resets")


class FloodTest(AttackTestBase):

    def test_flood_of_2000_new_connections(self):
        n_threads, per_thread = 8, 250
        failures: list[str] = []
        served = [0] * n_threads
        accepted0 = scrape(self.port)['kvd_connections_accepted_total{protocol="http"}']

        def worker(w: int) -> None:
            for i in range(per_thread):
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    if i % 2:  # half only connect and hang up
                        s.close()
                        continue
                    s.sendall(build_request("GET", "/seed", headers=[("Connection", "close")]))
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    s.close()
                    if not data.startswith(b"HTTP/1.1 200 ") or not data.endswith(b"seed-value"):
                        failures.append(f"bad answer {data[:60]!r}")
                    served[w] += 1
                except OSError as e:
                    failures.append(f"{type(e).__name__}: {e}")

        with Prober(self.port, "/seed", SEED["/seed"]) as prober:
            t0 = time.monotonic()
            threads = [threading.Thread(target=worker, args=(w,)) for w in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(40)
            elapsed = time.monotonic() - t0
        prober.check(self, "connection flood")
        self.assertEqual(failures[:5], [], f"{len(failures)} flood connections failed")
        self.assertEqual(sum(served), n_threads * per_thread // 2)
        m = scrape(self.port)
        self.assertGreaterEqual(m['kvd_connections_accepted_total{protocol="http"}'] - accepted0, n_threads * per_thread)
        self.assertLessEqual(self.wait_open_connections(1), 1)
        self.assertSeedIntact(f"a flood of {n_threads * per_thread} connections in {elapsed:.1f}s")


if __name__ == "__main__":
    unittest.main()
