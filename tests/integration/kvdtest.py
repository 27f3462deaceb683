"""Helpers for kvd integration tests: start/stop a real kvd, talk raw HTTP/1.1 to it.

Python 3.11 stdlib only. Every blocking operation has a timeout, so no test can hang:
sockets default to SOCKET_TIMEOUT seconds, process start/stop are bounded, and each test
additionally runs under a SIGALRM watchdog (TEST_TIMEOUT seconds).

Usage:

    class MyTest(kvdtest.KvdTestCase):
        kvd_flags = ["--ttl=300ms"]          # extra flags for the kvd started before each test

        def test_x(self):
            r = self.request("POST", "/k1", b"v1")   # one request on a fresh connection
            c = self.connect()                          # a raw keep-alive connection
            c.send(kvdtest.build_request("GET", "/k1"))
            r = c.read_response()

    class MyRespTest(kvdtest.KvdTestCase):
        resp = True                          # also serve RESP (--resp-port=<a free port>)

        def test_y(self):
            c = self.resp_connect()                     # a raw RESP2 connection
            self.assertEqual(c.command("SET", "k", "v"), "OK")
            self.assertEqual(c.command("GET", "k"), b"v")
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
from dataclasses import dataclass, field

KVD_BIN = os.environ.get("KVD_BIN", "/work/main/kvd")
# Set by `make SAN=... test`: sanitizers keep freed memory in quarantine and add shadow memory, so
# RSS bounds only hold for the plain build.
SANITIZED = bool(os.environ.get("KVD_SAN")) or "/san-" in KVD_BIN  # tsan-test sets only KVD_BIN
HOST = "127.0.0.1"
SOCKET_TIMEOUT = 5.0   # every socket operation
START_TIMEOUT = 10.0   # until "Starting server on <port>" appears
STOP_TIMEOUT = 5.0     # SIGTERM -> exit, before SIGKILL
TEST_TIMEOUT = 60      # whole-test watchdog (seconds)

_STARTING_RE = re.compile(r"Starting server on :?(\d+)")

_live_procs: set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    for p in list(_live_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(2)
            except subprocess.TimeoutExpired:
                pass


# --------------------------------------------------------------------------------------------
# Process management
# --------------------------------------------------------------------------------------------

class KvdStartError(AssertionError):
    pass


RESP_PORT_ATTEMPTS = 5


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick for 127.0.0.1:0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listeners_of_others(port: int, pid: int) -> int:
    """How many sockets listening on `port` (any address) do not belong to process `pid`."""
    mine = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(link[len("socket:["):-1])
    others = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and inode not in mine:
                others += 1
    return others


class Kvd:
    """One kvd process on an ephemeral port (`--port=0 --bind=127.0.0.1`)."""

    def __init__(self, flags: list[str] | None = None, binary: str | None = None,
                 resp: bool = False):
        self.binary = binary or KVD_BIN
        self.base_flags = ["--port=0", "--bind=127.0.0.1"] + list(flags or [])
        self.flags = list(self.base_flags)
        # --resp-port=0 means "off", so a RESP port cannot be left to the kernel: start() picks a
        # free one (see free_port) and passes it.
        self.resp = resp
        self.resp_port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self.terminated_by_us = False

    # -- lifecycle --
    def start(self) -> "Kvd":
        if not os.path.isfile(self.binary) or not os.access(self.binary, os.X_OK):
            raise KvdStartError(f"kvd binary not found or not executable: {self.binary} "
                                f"(set KVD_BIN or build it with `make kvd`)")
        if not self.resp:
            return self._start_once()
        # The port free_port found can be taken before kvd binds it: by another test's client as
        # its ephemeral port, or by another process's listener (kvd refuses to share a port it
        # finds listened on, but one that joins with SO_REUSEPORT after kvd looked would split
        # the connections silently). Either way: another port.
        for attempt in range(RESP_PORT_ATTEMPTS):
            self.resp_port = free_port()
            self.flags = self.base_flags + [f"--resp-port={self.resp_port}"]
            try:
                self._start_once()
            except KvdStartError:
                if "Address already in use" not in self.stderr() or attempt + 1 == RESP_PORT_ATTEMPTS:
                    raise
                self._reset()
                continue
            if listeners_of_others(self.resp_port, self.pid()) == 0:
                return self
            self.kill()
            self._reset()
        raise KvdStartError(f"no free RESP port for kvd after {RESP_PORT_ATTEMPTS} attempts")

    def _reset(self) -> None:
        """Forgets a failed start, for another attempt."""
        self.proc = None
        self.port = None
        self.terminated_by_us = False
        with self._lock:
            self.stderr_lines = []
            self.stdout_lines = []
        self._threads = []

    def _start_once(self) -> "Kvd":
        self.proc = subprocess.Popen(
            [self.binary] + self.flags,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            close_fds=True)
        _live_procs.add(self.proc)
        for stream, sink in ((self.proc.stderr, self.stderr_lines),
                             (self.proc.stdout, self.stdout_lines)):
            t = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while self.port is None:
                if self.proc.poll() is not None and all(not t.is_alive() for t in self._threads):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        if self.port is None:
            rc = self.proc.poll()
            self.kill()
            raise KvdStartError(
                f"kvd {' '.join(self.flags)} did not log 'Starting server on <port>' within "
                f"{START_TIMEOUT}s (exit code {rc}).\n--- stderr ---\n{self.stderr()}"
                f"\n--- stdout ---\n{''.join(self.stdout_lines)}")
        return self

    def _drain(self, stream, sink: list[str]) -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace")
                with self._cond:
                    sink.append(line)
                    if self.port is None and sink is self.stderr_lines:
                        m = _STARTING_RE.search(line)
                        if m:
                            self.port = int(m.group(1))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._cond.notify_all()

    def stderr(self) -> str:
        with self._lock:
            return "".join(self.stderr_lines)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.terminated_by_us = True
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """Waits for exit; returns the exit code (negative = killed by signal) or None on timeout."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM by PID, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.terminated_by_us = True
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            rc = self.wait(timeout)
            if rc is None:
                self.kill()
                rc = self.proc.returncode
        self._finish()
        return rc

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.terminated_by_us = True
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._finish()

    def _finish(self) -> None:
        for t in self._threads:
            t.join(2)
        if self.proc is not None:
            for s in (self.proc.stdout, self.proc.stderr):
                try:
                    s.close()
                except Exception:
                    pass
            _live_procs.discard(self.proc)


# --------------------------------------------------------------------------------------------
# Raw HTTP/1.1
# --------------------------------------------------------------------------------------------

class ConnectionClosed(AssertionError):
    """The server closed (or reset) the connection before a complete response arrived."""


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw_head: bytes = b""
    interim: list["Response"] = field(default_factory=list)  # 1xx responses before this one
    body_until_close: bool = False  # no Content-Length/chunked: body delimited by close

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name: str) -> bool:
        return self.header(name) is not None

    def __repr__(self) -> str:
        b = self.body if len(self.body) <= 80 else self.body[:80] + b"..."
        return f"<Response {self.version} {self.status} {self.reason!r} {self.headers} body={b!r}>"


def build_request(method: str, target: str | bytes, body: bytes | None = None,
                  headers: list[tuple[str, str]] | dict | None = None,
                  version: str = "HTTP/1.1", host: bool = True,
                  content_length: bool | None = None) -> bytes:
    """A request as bytes. A Content-Length is added when `body` is not None (unless
    content_length=False, or the caller passes its own Content-Length/Transfer-Encoding)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    out = bytearray(method.encode("latin-1") + b" " + target + b" " + version.encode() + b"\r\n")
    if host and "host" not in names:
        out += b"Host: localhost\r\n"
    for k, v in hdrs:
        out += k.encode("latin-1") + b": " + (v if isinstance(v, bytes) else v.encode("latin-1")) + b"\r\n"
    if body is not None and content_length is not False and \
            "content-length" not in names and "transfer-encoding" not in names:
        out += b"Content-Length: %d\r\n" % len(body)
    out += b"\r\n"
    if body:
        out += body
    return bytes(out)


def chunked(*parts: bytes) -> bytes:
    """A chunked body of the given chunks, plus the terminating zero chunk."""
    out = bytearray()
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


_STATUS_RE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")
MAX_HEAD = 1 << 20


class RawConn:
    """A raw TCP connection; what HttpConn and RespConn share. Reads are buffered in `self.buf`."""

    def __init__(self, port: int, timeout: float = SOCKET_TIMEOUT, host: str = HOST,
                 rcvbuf: int | None = None):
        """rcvbuf: SO_RCVBUF, set before connecting (so the window is sized by it), for a client
        that is to hold back what the server sends."""
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.reset = False  # the connection ended with ECONNRESET rather than a FIN

    # -- io --
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, piece: int = 1, delay: float = 0.0) -> None:
        for i in range(0, len(data), piece):
            self.sock.sendall(data[i:i + piece])
            if delay:
                time.sleep(delay)

    def try_send(self, data: bytes) -> Exception | None:
        """sendall that reports (instead of raising) a reset/broken pipe: the server may close
        the connection while we are still sending something it rejects."""
        try:
            self.sock.sendall(data)
            return None
        except (BrokenPipeError, ConnectionResetError) as e:
            return e

    def _fill(self, timeout: float | None = None) -> bool:
        """Reads more bytes into buf. False at EOF/reset. Raises socket.timeout on timeout."""
        if self.eof:
            return False
        if timeout is not None:
            self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            self.eof = True
            self.reset = True
            return False
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, what: str) -> None:
        try:
            ok = self._fill()
        except socket.timeout:
            raise socket.timeout(f"timed out after {self.timeout}s waiting for {what}; "
                                 f"buffered {bytes(self.buf[:200])!r}") from None
        if not ok:
            how = "reset" if self.reset else "closed"
            raise ConnectionClosed(f"server {how} the connection while waiting for {what}; "
                                   f"buffered {bytes(self.buf[:200])!r}")

    # -- closing --
    def wait_closed(self, timeout: float = 3.0) -> bool:
        """True if the server closes (FIN or RST) within `timeout`. Bytes that arrive meanwhile
        are appended to self.buf (callers usually assert it stays empty)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(left)
            except socket.timeout:
                return False
            except OSError:
                self.eof = True
        return True

    def is_open(self, wait: float = 0.3) -> bool:
        """True if the server has NOT closed the connection within `wait` seconds."""
        return not self.wait_closed(wait)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def close_with_reset(self) -> None:
        """Closes with SO_LINGER 0, so the server sees an RST."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HttpConn(RawConn):
    """A raw TCP connection with an HTTP/1.1 response parser."""

    # -- responses --
    def read_response(self, head: bool = False, interim: bool = False) -> Response:
        """Reads one response. 1xx responses are collected in `.interim` of the final one,
        unless interim=True, in which case a 1xx response is returned by itself.
        head=True: the response is to a HEAD request (no body)."""
        collected: list[Response] = []
        while True:
            r = self._read_one(head)
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                collected.append(r)
                continue
            r.interim = collected
            return r

    def read_responses(self, n: int, heads: list[bool] | None = None) -> list[Response]:
        return [self.read_response(head=bool(heads and heads[i])) for i in range(n)]

    def _read_one(self, head: bool) -> Response:
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise AssertionError(f"response head larger than {MAX_HEAD} bytes")
            self._need("a response head")
        raw_head = bytes(self.buf[:i + 4])
        del self.buf[:i + 4]
        lines = raw_head[:-4].split(b"\r\n")
        m = _STATUS_RE.match(lines[0])
        if not m:
            raise AssertionError(f"malformed status line {lines[0]!r} (head {raw_head!r})")
        headers = []
        for ln in lines[1:]:
            if b":" not in ln:
                raise AssertionError(f"malformed response header line {ln!r}")
            k, v = ln.split(b":", 1)
            if k != k.strip() or not k:
                raise AssertionError(f"malformed response header name {k!r}")
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        r = Response(m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1"),
                     headers, raw_head=raw_head)
        if head or 100 <= r.status < 200 or r.status in (204, 304):
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header("Content-Length")
        if te is not None and te.lower() == "chunked":
            r.body = self._read_chunked()
        elif cl is not None:
            if not cl.isdigit():
                raise AssertionError(f"invalid response Content-Length {cl!r}")
            n = int(cl)
            while len(self.buf) < n:
                self._need(f"{n} body bytes (have {len(self.buf)})")
            r.body = bytes(self.buf[:n])
            del self.buf[:n]
        else:
            while self._fill_or_timeout():
                pass
            r.body = bytes(self.buf)
            self.buf.clear()
            r.body_until_close = True
        return r

    def _fill_or_timeout(self) -> bool:
        try:
            return self._fill()
        except socket.timeout:
            raise socket.timeout("timed out reading a close-delimited response body") from None

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            while (i := self.buf.find(b"\r\n")) < 0:
                self._need("a chunk size line")
            size = int(bytes(self.buf[:i]).split(b";")[0].strip(), 16)
            del self.buf[:i + 2]
            if size == 0:
                while (j := self.buf.find(b"\r\n")) != 0:
                    if j > 0:
                        del self.buf[:j + 2]  # a trailer line
                        continue
                    self._need("the end of the chunked body")
                del self.buf[:2]
                return bytes(body)
            while len(self.buf) < size + 2:
                self._need("chunk data")
            body += self.buf[:size]
            del self.buf[:size + 2]

    def request(self, method: str, target: str | bytes, body: bytes | None = None,
                headers=None, version: str = "HTTP/1.1") -> Response:
        if body is None and method in ("POST", "PUT"):
            body = b""
        self.send(build_request(method, target, body, headers, version))
        return self.read_response(head=(method == "HEAD"))


# --------------------------------------------------------------------------------------------
# Raw RESP2
# --------------------------------------------------------------------------------------------

class RespError:
    """An error reply ("-ERR ..."): returned, not raised, so a test compares it like any reply."""

    def __init__(self, message: str):
        self.message = message

    def __eq__(self, other) -> bool:
        return isinstance(other, RespError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)

    def __repr__(self) -> str:
        return f"RespError({self.message!r})"


def encode_command(*args: str | bytes | int) -> bytes:
    """One command as a multibulk ("*<n>\\r\\n" then "$<len>\\r\\n<bytes>\\r\\n" each), as
    client libraries send it."""
    out = bytearray(b"*%d\r\n" % len(args))
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n" % len(a) + a + b"\r\n"
    return bytes(out)


_RESP_INT_RE = re.compile(rb"^(0|-?[1-9][0-9]*)$")


class RespConn(RawConn):
    """A raw TCP connection speaking RESP2. Replies become Python values: a simple string is
    str, an error RespError, an integer int, a bulk string bytes, an array a list (nested as
    sent), a null bulk string or null array None. Anything that is not well-formed RESP2 fails
    the test (AssertionError)."""

    def send_command(self, *args: str | bytes | int) -> None:
        self.send(encode_command(*args))

    def command(self, *args: str | bytes | int):
        self.send_command(*args)
        return self.read_reply()

    def pipeline(self, commands: list[tuple]) -> list:
        """Sends every command in one write, then reads their replies."""
        self.send(b"".join(encode_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    def read_reply(self):
        return self.read_reply_raw()[0]

    def read_reply_raw(self) -> tuple[object, bytes]:
        """One reply as (value, its exact bytes)."""
        value, end = self._parse(0, 0)
        raw = bytes(self.buf[:end])
        del self.buf[:end]
        return value, raw

    def _line(self, at: int) -> tuple[bytes, int]:
        while (i := self.buf.find(b"\r\n", at)) < 0:
            self._need("a reply line")
        line = bytes(self.buf[at:i])
        if b"\n" in line or b"\r" in line:
            raise AssertionError(f"CR or LF inside a reply line: {line[:100]!r}")
        return line, i + 2

    def _parse(self, at: int, depth: int) -> tuple[object, int]:
        if depth > 32:
            raise AssertionError("arrays nested deeper than 32")
        while len(self.buf) <= at:
            self._need("a reply")
        kind = self.buf[at:at + 1]
        line, at = self._line(at + 1)
        if kind == b"+":
            return line.decode("latin-1"), at
        if kind == b"-":
            if not re.match(rb"^[A-Z]+( |$)", line):
                raise AssertionError(f"error reply without an upper-case code: {line[:100]!r}")
            return RespError(line.decode("latin-1")), at
        if kind in (b":", b"$", b"*"):
            if not (_RESP_INT_RE.match(line) or line == b"-1"):
                raise AssertionError(f"malformed number in a {kind.decode()} reply: {line[:40]!r}")
            n = int(line)
            if kind == b":":
                if not -(1 << 63) <= n < (1 << 63):
                    raise AssertionError(f"integer reply out of the 64-bit range: {n}")
                return n, at
            if n < -1:
                raise AssertionError(f"negative length in a {kind.decode()} reply: {n}")
            if n == -1:
                return None, at
            if kind == b"$":
                while len(self.buf) < at + n + 2:
                    self._need(f"{n} bytes of a bulk string")
                if self.buf[at + n:at + n + 2] != b"\r\n":
                    raise AssertionError(f"bulk string of {n} bytes not followed by CRLF")
                return bytes(self.buf[at:at + n]), at + n + 2
            items = []
            for _ in range(n):
                v, at = self._parse(at, depth + 1)
                items.append(v)
            return items, at
        raise AssertionError(f"reply of unknown type {kind!r}: {bytes(self.buf[at - 1:at + 60])!r}")


def parse_info(text: bytes | str) -> dict[str, dict[str, str]]:
    """INFO's text as {section: {name: value}}; fails on a line that is neither "# Section" nor
    name:value."""
    if isinstance(text, bytes):
        text = text.decode()
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("# "):
            current = sections.setdefault(line[2:], {})
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or current is None:
            raise AssertionError(f"INFO line is not name:value under a section: {line!r}")
        current[name] = value
    return sections


# --------------------------------------------------------------------------------------------
# Test base class
# --------------------------------------------------------------------------------------------

class _TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _TestTimeout(f"test exceeded the {TEST_TIMEOUT}s watchdog")


class KvdTestCase(unittest.TestCase):
    """Starts a fresh kvd (flags: `kvd_flags`) before each test and stops it after."""

    kvd_flags: list[str] = []
    start_kvd = True
    resp = False  # also serve RESP, on a port Kvd picks (self.resp_port)

    def setUp(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(TEST_TIMEOUT)
            self.addCleanup(signal.alarm, 0)
        self._conns: list[RawConn] = []
        self.kvd: Kvd | None = None
        if self.start_kvd:
            self.kvd = self.start_server(self.kvd_flags)

    def start_server(self, flags: list[str], resp: bool | None = None) -> Kvd:
        k = Kvd(flags, resp=self.resp if resp is None else resp).start()
        self.addCleanup(self._stop_server, k)
        return k

    def _stop_server(self, k: Kvd) -> None:
        for c in self._conns:
            c.close()
        died = k.proc is not None and k.proc.poll() is not None and not k.terminated_by_us
        rc = k.proc.poll() if k.proc else None
        k.stop()
        if died:
            self.fail(f"kvd died during the test (exit code {rc}; negative = signal).\n"
                      f"--- stderr tail ---\n{k.stderr()[-3000:]}")

    @property
    def port(self) -> int:
        assert self.kvd is not None and self.kvd.port is not None
        return self.kvd.port

    @property
    def resp_port(self) -> int:
        assert self.kvd is not None and self.kvd.resp_port is not None, "the class needs resp = True"
        return self.kvd.resp_port

    def resp_connect(self, port: int | None = None, timeout: float = SOCKET_TIMEOUT,
                     rcvbuf: int | None = None) -> RespConn:
        c = RespConn(port or self.resp_port, timeout, rcvbuf=rcvbuf)
        self._conns.append(c)
        return c

    def connect(self, port: int | None = None, timeout: float = SOCKET_TIMEOUT) -> HttpConn:
        c = HttpConn(port or self.port, timeout)
        self._conns.append(c)
        return c

    def request(self, method: str, target: str | bytes, body: bytes | None = None,
                headers=None, version: str = "HTTP/1.1", port: int | None = None) -> Response:
        """One request on a fresh connection (closed afterwards)."""
        with HttpConn(port or self.port) as c:
            return c.request(method, target, body, headers, version)

    # -- common assertions --
    def assertStatus(self, r: Response, status: int, msg: str = "") -> None:
        self.assertEqual(r.status, status, f"{msg} expected {status}, got {r!r}")

    def assertClosed(self, c: HttpConn, timeout: float = 3.0, msg: str = "") -> None:
        self.assertTrue(c.wait_closed(timeout),
                        f"{msg} server did not close the connection within {timeout}s")
        self.assertEqual(bytes(c.buf), b"",
                         f"{msg} unexpected bytes after the response before the close")

    def assertKeptOpen(self, c: HttpConn, msg: str = "") -> None:
        """The connection still serves requests: /healthz on it answers 200."""
        try:
            r = c.request("GET", "/healthz")
        except (ConnectionClosed, OSError) as e:
            self.fail(f"{msg} connection should have been kept open, but: {e}")
        self.assertStatus(r, 200, f"{msg} follow-up request on the same connection:")

    def get(self, key: str, conn: HttpConn | None = None) -> Response:
        return conn.request("GET", key) if conn else self.request("GET", key)

    def put(self, key: str, value: bytes, conn: HttpConn | None = None) -> Response:
        return conn.request("POST", key, value) if conn else self.request("POST", key, value)

    def size(self, conn: HttpConn | None = None) -> int:
        r = conn.request("GET", "/size") if conn else self.request("GET", "/size")
        self.assertStatus(r, 200, "/size:")
        body = r.body.strip()
        self.assertTrue(body.isdigit(), f"/size body is not a decimal number: {r.body!r}")
        return int(body)
