"""Three kvd nodes behind HAProxy and behind nginx, with the shipped configurations.

For each proxy (skipped, with the reason, only when its binary is absent) the scenario test:

  1. starts 3 kvd nodes on free ports and the proxy on a free port, with deploy/<proxy>/... rendered
     for those ports (the same substitutions scripts/ops/cluster.sh makes, plus shorter health-check
     timings so the test is quick);
  2. writes KEYS keys through the proxy and reads them all back through it, on one keep-alive
     connection, and checks the proxy kept connections to the nodes alive (each node accepted far
     fewer connections than it served requests);
  3. reads every node directly: each key is on exactly one node, and each node holds between
     MIN_SHARE and MAX_SHARE of the keys;
  4. stops one node (SIGTERM by PID): reads through the proxy of the keys on the other two nodes
     are all still correct at once; writes and reads of the dead node's keys succeed through the
     proxy after it notices (a few seconds, with retries) and each such key is then on exactly one
     survivor; keys of live nodes did not move (new values written through the proxy are on their
     original node); the proxy stops sending to the dead node (haproxy: the node is DOWN and its
     connection count stops growing; nginx: at most one probe per fail_timeout reaches it);
  5. restarts the node on the same port: the proxy routes its keys to it again (new values written
     through the proxy are on that node), and every key is on its original node.

A second test per proxy sends 50 pipelined requests (writes and reads of keys on different nodes)
on one connection and checks all 50 responses arrive, in order, and the connection stays open.

TwemproxyClusterTest does the same over RESP with twemproxy (deploy/twemproxy/nutcracker.yml, the
nodes' RESP ports as its servers, server_retry_timeout 1 s instead of 5 s and timeout 10 s instead
of 1 s): placement, spread, one connection per node; a stopped node's keys answer errors until
twemproxy ejects it (it never retries: the test retries them, as a client must), then live on the
survivors, while no other key moves; after the node restarts, twemproxy's retry puts it back on
the ring and its keys return.
Further tests: 1,000 commands in one write, all answered in order; MSET, MGET, DEL, UNLINK split
across nodes (and EXISTS, which twemproxy does not split); the commands twemproxy refuses, which
close the client's connection though kvd itself serves them.

Every process (kvd nodes, the proxy and, for nginx, its workers: the proxy runs in its own process
group) is stopped by PID in the cleanup, also when a test fails. Proxy logs are in a temporary
directory, printed on failure. HAPROXY_BIN / NGINX_BIN / NUTCRACKER_BIN select the binaries
(default: PATH, then /usr/sbin).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import kvdtest
from kvdtest import ConnectionClosed, HttpConn, Kvd, build_request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")
NGINX_CONF = os.path.join(ROOT, "deploy", "nginx", "nginx.conf")
NUTCRACKER_YML = os.path.join(ROOT, "deploy", "twemproxy", "nutcracker.yml")

KEYS = 3000
NODES = 3
MIN_SHARE, MAX_SHARE = 0.20, 0.47   # each node's share of the keys (even is 1/3)
NODE_FLAGS = ["--ttl=10m", "--miss-status=404", "--threads=1"]
NOTICE_TIMEOUT = 10.0    # seconds the proxy may take to route around a dead / back to a live node
PROXY_START_TIMEOUT = 10.0
TEST_TIMEOUT = 150       # whole-test watchdog (seconds); a run takes ~10-20 s per proxy

# Faster health checking than the shipped defaults (which suit production), so the test is quick.
HAPROXY_CHECKS = ("inter 1s fall 2 rise 2", "inter 200ms fall 2 rise 1")
NGINX_FAIL_TIMEOUT = 1  # seconds; the template says fail_timeout=5s (max_fails is kept)
TWEMPROXY_RETRY_MS = (5000, 1000)  # server_retry_timeout: the template's, the test's
# timeout: the template's, the test's. Longer in the test so that a test machine under load cannot
# make a live node's reply late enough to count as a failure (no test needs a request to time out)
TWEMPROXY_TIMEOUT_MS = (1000, 10000)
TWEMPROXY_FAILURE_LIMIT = 2        # the template's server_failure_limit (kept)


def _find_binary(env: str, name: str) -> str | None:
    path = os.environ.get(env)
    if path:
        return path if os.access(path, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


HAPROXY_BIN = _find_binary("HAPROXY_BIN", "haproxy")
NGINX_BIN = _find_binary("NGINX_BIN", "nginx")
NUTCRACKER_BIN = _find_binary("NUTCRACKER_BIN", "nutcracker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Rendering the shipped configurations for given ports
# --------------------------------------------------------------------------------------------

_SERVERS_RE = re.compile(r"(?m)^([ \t]*)# BEGIN kvd servers\n.*?^[ \t]*# END kvd servers\n", re.S)


def _sub1(pattern: str, repl: str, text: str, what: str) -> str:
    """re.sub that insists on exactly one match, so a template edit that breaks rendering fails
    loudly instead of testing something else."""
    out, n = re.subn(pattern, repl, text, flags=re.M)
    if n != 1:
        raise AssertionError(f"rendering the proxy template: expected one {what}, found {n}")
    return out


def _servers(text: str, lines: list[str]) -> str:
    m = _SERVERS_RE.search(text)
    if not m:
        raise AssertionError("proxy template has no '# BEGIN kvd servers' ... '# END kvd servers' block")
    ind = m.group(1)
    block = f"{ind}# BEGIN kvd servers\n" + "".join(f"{ind}{ln}\n" for ln in lines) + \
        f"{ind}# END kvd servers\n"
    return text[:m.start()] + block + text[m.end():]


def render_haproxy(ports: list[int], listen_port: int, rundir: str) -> str:
    with open(HAPROXY_CFG) as f:
        text = f.read()
    text = _servers(text, [f"server kvd{i + 1} 127.0.0.1:{p}" for i, p in enumerate(ports)])
    text = _sub1(r"^([ \t]*)bind \S+", rf"\g<1>bind 127.0.0.1:{listen_port}", text, "bind line")
    text = _sub1(r"^([ \t]*)stats socket \S+", rf"\g<1>stats socket {rundir}/haproxy.sock",
                 text, "stats socket line")
    text = _sub1(r"^([ \t]*default-server .*)" + re.escape(HAPROXY_CHECKS[0]),
                 r"\g<1>" + HAPROXY_CHECKS[1], text, f"default-server line with '{HAPROXY_CHECKS[0]}'")
    return text


def render_nginx(ports: list[int], listen_port: int) -> str:
    with open(NGINX_CONF) as f:
        text = f.read()
    m = re.search(r"(?m)^[ \t]*server 127\.0\.0\.1:\d+ (.*);$", text)
    if not m:
        raise AssertionError("nginx template: no 'server 127.0.0.1:PORT ...;' line")
    params = re.sub(r"fail_timeout=\S+", f"fail_timeout={NGINX_FAIL_TIMEOUT}s", m.group(1))
    text = _servers(text, [f"server 127.0.0.1:{p} {params};" for p in ports])
    text = _sub1(r"^([ \t]*)listen [^\s;]+", rf"\g<1>listen 127.0.0.1:{listen_port}", text,
                 "listen line")
    return text


def render_twemproxy(resp_ports: list[int], listen_port: int) -> str:
    with open(NUTCRACKER_YML) as f:
        text = f.read()
    text = _servers(text, [f"- 127.0.0.1:{p}:1 kvd{i + 1}" for i, p in enumerate(resp_ports)])
    text = _sub1(r"^([ \t]*)listen: \S+", rf"\g<1>listen: 127.0.0.1:{listen_port}", text,
                 "listen: line")
    text = _sub1(r"^([ \t]*server_retry_timeout: )%d$" % TWEMPROXY_RETRY_MS[0],
                 r"\g<1>%d" % TWEMPROXY_RETRY_MS[1], text,
                 f"'server_retry_timeout: {TWEMPROXY_RETRY_MS[0]}' line")
    text = _sub1(r"^([ \t]*timeout: )%d$" % TWEMPROXY_TIMEOUT_MS[0],
                 r"\g<1>%d" % TWEMPROXY_TIMEOUT_MS[1], text,
                 f"'timeout: {TWEMPROXY_TIMEOUT_MS[0]}' line")
    _sub1(r"^[ \t]*server_failure_limit: %d$" % TWEMPROXY_FAILURE_LIMIT, "", text,
          f"'server_failure_limit: {TWEMPROXY_FAILURE_LIMIT}' line")  # what the test assumes
    return text


# --------------------------------------------------------------------------------------------
# RESP
# --------------------------------------------------------------------------------------------

class RespError(str):
    """An error reply ("ERR Connection refused"): returned, not raised, so that a pipeline's
    replies stay in their places."""


def resp_command(*args) -> bytes:
    out = bytearray(b"*%d\r\n" % len(args))
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return bytes(out)


class RespConn:
    """A RESP2 client connection: simple strings come back as str, bulk strings as bytes (nil as
    None), integers as int, arrays as lists, errors as RespError."""

    def __init__(self, port: int, timeout: float = kvdtest.SOCKET_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, what: str) -> None:
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        if not data:
            raise ConnectionClosed(f"connection closed while waiting for {what}; buffered "
                                   f"{bytes(self.buf[:200])!r}")
        self.buf += data

    def _line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill("a reply line")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill(f"a bulk string of {n} bytes")
            data = bytes(self.buf[:n])
            del self.buf[:n + 2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise AssertionError(f"not a RESP reply: {line!r}")

    def command(self, *args):
        self.send(resp_command(*args))
        return self.read_reply()

    def pipeline(self, commands: list[tuple]) -> list:
        """Every command in one write, then every reply."""
        self.send(b"".join(resp_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    def closed_by_peer(self, wait: float = 2.0) -> bool:
        """True if the peer closes the connection within `wait` seconds and sends nothing more;
        anything it sends meanwhile is kept in buf."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        self.buf += data
        return data == b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RespConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Proxy:
    """haproxy, nginx or twemproxy in the foreground, in its own process group, logging to a file.
    `ports` are the nodes' (HTTP ports; RESP ports for twemproxy)."""

    def __init__(self, kind: str, ports: list[int], rundir: str):
        self.kind = kind
        self.ports = ports
        self.rundir = rundir
        self.port: int | None = None
        self.stats_port: int | None = None  # twemproxy's
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(rundir, f"{kind}.log")

    def start(self) -> "Proxy":
        last = ""
        for _ in range(3):  # the free port may be taken between probing and binding: retry
            self.port = free_port()
            if self.kind == "haproxy":
                cfg = os.path.join(self.rundir, "haproxy.cfg")
                with open(cfg, "w") as f:
                    f.write(render_haproxy(self.ports, self.port, self.rundir))
                argv = [HAPROXY_BIN, "-f", cfg, "-db"]
            elif self.kind == "twemproxy":
                cfg = os.path.join(self.rundir, "nutcracker.yml")
                with open(cfg, "w") as f:
                    f.write(render_twemproxy(self.ports, self.port))
                self.stats_port = free_port()
                # -i: stats refreshed every 100 ms (default 30 s), so the test can read them
                argv = [NUTCRACKER_BIN, "-c", cfg, "-a", "127.0.0.1", "-s", str(self.stats_port),
                        "-i", "100"]
            else:
                cfg = os.path.join(self.rundir, "nginx.conf")
                with open(cfg, "w") as f:
                    f.write(render_nginx(self.ports, self.port))
                argv = [NGINX_BIN, "-p", self.rundir + "/", "-c", cfg, "-g", "daemon off;"]
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.rundir, start_new_session=True)
            log.close()
            deadline = time.monotonic() + PROXY_START_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return self
                time.sleep(0.05)
            last = self.log()
            self.stop()
        what = "PING" if self.kind == "twemproxy" else "/healthz"
        raise AssertionError(f"{self.kind} did not start answering {what} within "
                             f"{PROXY_START_TIMEOUT}s\n--- log ---\n{last}")

    def _answers(self) -> bool:
        try:
            if self.kind == "twemproxy":  # twemproxy answers PING itself; GET reaches a node
                with RespConn(self.port, timeout=1.0) as c:
                    return c.command("PING") == "PONG" and c.command("GET", "probe") is None
            with HttpConn(self.port, timeout=1.0) as c:
                return c.request("GET", "/healthz").status == 200
        except (OSError, ConnectionClosed):
            return False

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the proxy's PID, then SIGKILL to its process group (the group id is that PID,
        so nginx workers orphaned by a killed master go too)."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # leftovers in the group, if any
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    # -- haproxy's runtime API --
    def haproxy_stats(self) -> dict[str, dict[str, str]]:
        """`show stat` over the stats socket: {server name: {column: value}} for backend kvd."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(os.path.join(self.rundir, "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        cols = lines[0].lstrip("# ").split(",")
        out = {}
        for ln in lines[1:]:
            row = dict(zip(cols, ln.split(",")))
            if row.get("pxname") == "kvd" and row.get("svname", "").startswith("kvd"):
                out[row["svname"]] = row
        return out


    # -- twemproxy's stats port --
    def twemproxy_stats(self) -> dict:
        """The JSON document the stats port sends (and then closes): the pool "kvd" with a dict
        per server (kvd1, kvd2, ...)."""
        with socket.create_connection(("127.0.0.1", self.stats_port), timeout=3) as s:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data)["kvd"]


class ProxyClient:
    """Requests through the proxy on one keep-alive connection; reconnects (and counts it) only if
    the proxy closes it."""

    def __init__(self, port: int):
        self.port = port
        self.conn: HttpConn | None = None
        self.connects = 0

    def request(self, method: str, target: str, body: bytes | None = None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = HttpConn(self.port)
                self.connects += 1
            try:
                return self.conn.request(method, target, body)
            except (ConnectionClosed, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"test exceeded the {TEST_TIMEOUT}s watchdog")


def value(key: str, phase: str) -> bytes:
    return f"{key}={phase}".encode()


class _NodesBase:
    """kvd nodes and one proxy, every process stopped by PID in the cleanup whatever happens;
    what the HTTP proxies' and twemproxy's scenarios share."""
    proxy_kind = ""

    # -- setup / teardown --
    def setUp(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(TEST_TIMEOUT)
            self.addCleanup(signal.alarm, 0)
        self.rundir = tempfile.mkdtemp(prefix=f"kvd-cluster-{self.proxy_kind}-")
        os.chmod(self.rundir, 0o755)  # nginx workers (user nobody under root) use temp dirs in it
        self.addCleanup(shutil.rmtree, self.rundir, True)
        self.nodes: list[Kvd] = []
        self.clients: list[ProxyClient] = []
        self.proxy: Proxy | None = None
        self.addCleanup(self._stop_all)

    def _stop_all(self) -> None:
        for c in self.clients:
            c.close()
        if self.proxy is not None:
            self.proxy.stop()
        for n in self.nodes:
            n.stop()

    def start_node(self, port: int = 0, flags: list[str] | None = None) -> Kvd:
        k = Kvd(NODE_FLAGS + list(flags or []) + [f"--port={port}"])
        self.nodes.append(k)  # before start(): stopped in cleanup whatever happens
        k.start()
        if port:
            self.assertEqual(k.port, port, "restarted node is not on its old port")
        return k

    def wait_for(self, cond, what: str, timeout: float = NOTICE_TIMEOUT) -> float:
        t0 = time.monotonic()
        while True:
            if cond():
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                self.fail(f"timed out after {timeout}s waiting for {what}\n{self.diag()}")
            time.sleep(0.05)

    def diag(self) -> str:
        out = f"--- {self.proxy_kind} log (tail) ---\n"
        out += (self.proxy.log()[-3000:] if self.proxy else "(not started)")
        return out

    # -- helpers --
    def node_metric(self, node: Kvd, name: str) -> float:
        with HttpConn(node.port) as c:
            r = c.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        m = re.search(rb"(?m)^" + re.escape(name.encode()) + rb" (\S+)$", r.body)
        self.assertIsNotNone(m, f"{name} not in /metrics of node :{node.port}")
        return float(m.group(1))

    def locate(self, keys: list[str], nodes: dict[int, Kvd], phase: str, what: str) -> dict[str, int]:
        """Reads every key from every given node directly. Each key must be on exactly one of them,
        with the value of `phase`. Returns {key: node index}."""
        found: dict[str, list[int]] = {k: [] for k in keys}
        for idx, node in nodes.items():
            with HttpConn(node.port) as c:
                for k in keys:
                    r = c.request("GET", k)
                    if r.status == 200:
                        self.assertEqual(r.body, value(k, phase),
                                         f"{what}: node {idx} (:{node.port}) has a stale {k}")
                        found[k].append(idx)
                    else:
                        self.assertEqual(r.status, 404, f"{what}: node {idx} GET {k}: {r!r}")
        bad = {k: v for k, v in found.items() if len(v) != 1}
        self.assertFalse(bad, f"{what}: {len(bad)} keys not on exactly one node "
                              f"(key: nodes having it), e.g. {dict(list(bad.items())[:5])}")
        return {k: v[0] for k, v in found.items()}


class _ClusterBase(_NodesBase):
    """The scenarios for an HTTP proxy (haproxy, nginx)."""

    def start_cluster(self) -> tuple[list[Kvd], Proxy, ProxyClient]:
        nodes = [self.start_node() for _ in range(NODES)]
        self.proxy = Proxy(self.proxy_kind, [n.port for n in nodes], self.rundir)
        self.proxy.start()
        if self.proxy_kind == "haproxy":
            self.wait_for(lambda: all(r["status"] == "UP"
                                      for r in self.proxy.haproxy_stats().values()),
                          "haproxy to see every node UP")
        c = ProxyClient(self.proxy.port)
        self.clients.append(c)
        return nodes, self.proxy, c

    def write_all(self, c: ProxyClient, keys: list[str], phase: str, what: str) -> None:
        for k in keys:
            r = c.request("POST", k, value(k, phase))
            self.assertEqual((r.status, r.body), (200, value(k, phase)),
                             f"{what}: POST {k} through {self.proxy_kind}: {r!r}\n{self.diag()}")

    def read_all(self, c: ProxyClient, keys: list[str], phase: str, what: str) -> list:
        rs = []
        for k in keys:
            r = c.request("GET", k)
            self.assertEqual((r.status, r.body), (200, value(k, phase)),
                             f"{what}: GET {k} through {self.proxy_kind}: {r!r}\n{self.diag()}")
            rs.append(r)
        return rs

    def retry_until_routed(self, c: ProxyClient, keys: list[str], phase: str, node: Kvd,
                           what: str) -> tuple[float, str, int]:
        """Writes `keys` through the proxy until a full pass succeeds and `node` (if given, read
        directly) holds all of them. Returns the seconds it took, the phase last written and the
        number of passes (1: no request failed or went elsewhere)."""
        t0 = time.monotonic()
        rnd = 0
        last = ""
        while True:
            rnd += 1
            ph = f"{phase}{rnd}"
            ok = True
            for k in keys:
                try:
                    r = c.request("POST", k, value(k, ph))
                except (OSError, ConnectionClosed) as e:
                    ok, last = False, f"POST {k}: {e}"
                    break
                if (r.status, r.body) != (200, value(k, ph)):
                    ok, last = False, f"POST {k}: {r!r}"
                    break
            if ok and node is not None:
                with HttpConn(node.port) as d:
                    for k in keys:
                        r = d.request("GET", k)
                        if (r.status, r.body) != (200, value(k, ph)):
                            ok, last = False, f"node :{node.port} GET {k}: {r!r}"
                            break
            if ok:
                return time.monotonic() - t0, ph, rnd
            if time.monotonic() - t0 > NOTICE_TIMEOUT:
                self.fail(f"{what}: not done after {NOTICE_TIMEOUT}s ({rnd} passes); last "
                          f"problem: {last}\n{self.diag()}")
            time.sleep(0.1)

    # -- the scenario --
    def test_consistent_hashing_failover_and_return(self):
        nodes, proxy, c = self.start_cluster()
        keys = [f"/cluster/key-{i}" for i in range(KEYS)]
        accepted0 = [self.node_metric(n, 'kvd_connections_accepted_total{protocol="http"}') for n in nodes]

        # 1. write and read everything through the proxy, on one client connection
        self.write_all(c, keys, "a", "initial write")
        self.read_all(c, keys, "a", "initial read")
        self.assertEqual(c.connects, 1, f"{self.proxy_kind} closed the keep-alive client "
                                        f"connection during {2 * KEYS} requests")

        # 2. each key on exactly one node, spread evenly
        owner = self.locate(keys, dict(enumerate(nodes)), "a", "initial placement")
        counts = [sum(1 for o in owner.values() if o == i) for i in range(NODES)]
        print(f"\n  {self.proxy_kind}: keys per node {counts} of {KEYS}", file=sys.stderr)
        for i, n in enumerate(counts):
            self.assertTrue(MIN_SHARE * KEYS <= n <= MAX_SHARE * KEYS,
                            f"node {i} holds {n} of {KEYS} keys ({n / KEYS:.1%}); expected "
                            f"{MIN_SHARE:.0%}..{MAX_SHARE:.0%} (all nodes: {counts})")

        # the proxy reuses connections to the nodes: far fewer accepted than requests served
        # (haproxy's health checks open one connection each, so allow for those)
        for i, n in enumerate(nodes):
            accepted = self.node_metric(n, 'kvd_connections_accepted_total{protocol="http"}') - accepted0[i]
            self.assertLess(accepted, counts[i] * 2 / 10,
                            f"node {i} accepted {accepted:.0f} connections for {2 * counts[i]} "
                            f"requests: {self.proxy_kind} does not keep connections to it alive")

        # 3. stop one node
        victim = 1
        dead = nodes[victim]
        dead_keys = [k for k in keys if owner[k] == victim]
        live_keys = [k for k in keys if owner[k] != victim]
        rc = dead.stop()
        self.assertEqual(rc, 0, "kvd exit code after SIGTERM")
        survivors = {i: n for i, n in enumerate(nodes) if i != victim}

        # keys on the other nodes: unaffected, even before the proxy has noticed anything
        self.read_all(c, live_keys, "a", "live-node keys right after a node stopped")

        # the dead node's keys now go to the survivors (after the proxy notices)
        took, phase, passes = self.retry_until_routed(c, dead_keys, "b", None,
                                              "writing the dead node's keys")
        if self.proxy_kind == "haproxy":
            self.wait_for(lambda: proxy.haproxy_stats()[f"kvd{victim + 1}"]["status"]
                          .startswith("DOWN"), "haproxy to mark the stopped node DOWN")
        t_pass = time.monotonic()
        stot0 = (int(proxy.haproxy_stats()[f"kvd{victim + 1}"]["stot"])
                 if self.proxy_kind == "haproxy" else 0)
        rs = self.read_all(c, dead_keys, phase, "dead node's keys after failover")
        moved_to = self.locate(dead_keys, survivors, phase, "dead node's keys on survivors")
        spread = {i: sum(1 for o in moved_to.values() if o == i) for i in survivors}
        print(f"  {self.proxy_kind}: node {victim} stopped; its {len(dead_keys)} keys moved to "
              f"{spread}; written through the proxy in {passes} pass(es), {took:.2f}s",
              file=sys.stderr)

        # the proxy no longer sends the dead node's keys to it
        dead_addr = f"127.0.0.1:{dead.port}"
        if self.proxy_kind == "haproxy":
            st = proxy.haproxy_stats()[f"kvd{victim + 1}"]
            self.assertTrue(st["status"].startswith("DOWN"), f"stopped node is {st['status']}")
            self.assertEqual(int(st["stot"]), stot0,
                             f"haproxy still sent requests to the DOWN node during a pass of "
                             f"{len(dead_keys)} reads of its keys")
            print(f"  {self.proxy_kind}: DOWN node's connection count unchanged over "
                  f"{len(rs)} reads of its keys", file=sys.stderr)
        else:
            elapsed = time.monotonic() - t_pass
            probes = [r for r in rs if dead_addr in (r.header("X-Kvd-Node") or "")]
            bound = int(elapsed / NGINX_FAIL_TIMEOUT) + 2
            self.assertLessEqual(len(probes), bound,
                                 f"nginx tried the stopped node {len(probes)} times during "
                                 f"{len(dead_keys)} reads of its keys in {elapsed:.1f}s; expected at "
                                 f"most one probe per fail_timeout ({NGINX_FAIL_TIMEOUT}s)")
            for r in probes:  # a probe fails and is retried on the next node
                self.assertRegex(r.header("X-Kvd-Node"), re.escape(dead_addr) + r", 127\.0\.0\.1:\d+")
            print(f"  {self.proxy_kind}: {len(probes)} probe(s) of the stopped node during "
                  f"{len(rs)} reads of its keys in {elapsed:.1f}s", file=sys.stderr)

        # keys of the live nodes did not move: new values land on their original node
        self.write_all(c, live_keys, "c", "rewriting live-node keys")
        for i, n in survivors.items():
            mine = [k for k in live_keys if owner[k] == i]
            with HttpConn(n.port) as d:
                for k in mine:
                    r = d.request("GET", k)
                    self.assertEqual((r.status, r.body), (200, value(k, "c")),
                                     f"live-node key {k} moved off node {i} when node {victim} "
                                     f"stopped")
        moved = len(dead_keys) / KEYS
        print(f"  {self.proxy_kind}: {moved:.1%} of keys moved (only the stopped node's)",
              file=sys.stderr)
        self.assertLessEqual(moved, MAX_SHARE)

        # 4. restart the node on the same port: its keys come back to it
        back = self.start_node(dead.port)
        took, _, passes = self.retry_until_routed(c, dead_keys, "d", back,
                                       "routing the restarted node's keys back to it")
        if self.proxy_kind == "haproxy":
            st = proxy.haproxy_stats()[f"kvd{victim + 1}"]["status"]
            self.assertTrue(st.startswith("UP"), f"restarted node is {st}")
        print(f"  {self.proxy_kind}: node {victim} restarted on :{back.port}; all its keys routed "
              f"back to it after {took:.2f}s ({passes} pass(es))", file=sys.stderr)
        self.write_all(c, keys, "e", "final write")
        self.read_all(c, keys, "e", "final read")
        nodes_now = dict(enumerate(nodes[:victim] + [back] + nodes[victim + 1:NODES]))
        for i, n in nodes_now.items():
            mine = [k for k in keys if owner[k] == i]
            with HttpConn(n.port) as d:
                for k in mine:
                    r = d.request("GET", k)
                    self.assertEqual((r.status, r.body), (200, value(k, "e")),
                                     f"after the restart, {k} is not on its original node {i}")

    def test_pipelined_requests_through_proxy(self):
        nodes, proxy, _ = self.start_cluster()
        c = HttpConn(proxy.port)
        self.addCleanup(c.close)
        out = bytearray()
        expect = []
        for i in range(25):  # 25 keys spread over the nodes; a write then a read of each
            k = f"/pipe/{i}"
            out += build_request("POST", k, value(k, "p"))
            out += build_request("GET", k)
            expect += [value(k, "p"), value(k, "p")]
        c.send(bytes(out))
        for i, v in enumerate(expect):
            try:
                r = c.read_response()
            except (ConnectionClosed, OSError) as e:
                self.fail(f"only {i} of {len(expect)} pipelined responses arrived through "
                          f"{self.proxy_kind}: {e}\n{self.diag()}")
            self.assertEqual((r.status, r.body), (200, v), f"pipelined response #{i}")
        served_by = set()
        for n in nodes:
            with HttpConn(n.port) as d:
                if any(d.request("GET", f"/pipe/{i}").status == 200 for i in range(25)):
                    served_by.add(n.port)
        self.assertGreater(len(served_by), 1, "the 25 keys all hashed to one node")
        r = c.request("GET", "/healthz")  # the connection is still open and usable
        self.assertEqual((r.status, r.body), (200, b"ok"))


@unittest.skipIf(HAPROXY_BIN is None,
                 "haproxy is not installed (apt-get install haproxy; or set HAPROXY_BIN)")
class HaproxyClusterTest(_ClusterBase, unittest.TestCase):
    proxy_kind = "haproxy"


@unittest.skipIf(NGINX_BIN is None,
                 "nginx is not installed (apt-get install nginx-light; or set NGINX_BIN)")
class NginxClusterTest(_ClusterBase, unittest.TestCase):
    proxy_kind = "nginx"


# Errors twemproxy answers for a request whose node failed (strerror of what happened to the
# connection), instead of forwarding it: a client is expected to retry them.
TWEMPROXY_NODE_ERROR = re.compile(r"^ERR (Connection refused|Connection reset by peer|"
                                  r"Connection timed out|Broken pipe|Invalid argument)$")
RESP_BATCH = 100    # commands per write in the bulk passes
RESP_RETRIES = 2 * TWEMPROXY_FAILURE_LIMIT + 2  # per command: more than server_failure_limit, as
                                                # twemproxy's notes ask of clients


def resp_key(path: str) -> str:
    """The RESP key of the HTTP path: /tw/key-1 is the key tw/key-1 (the nodes are read over
    HTTP, through the existing helpers)."""
    return path[1:]


@unittest.skipIf(NUTCRACKER_BIN is None,
                 "nutcracker (twemproxy) is not installed (apt-get install nutcracker; or set "
                 "NUTCRACKER_BIN)")
class TwemproxyClusterTest(_NodesBase, unittest.TestCase):
    """Three kvd nodes (each with --resp-port) behind twemproxy, deploy/twemproxy/nutcracker.yml
    rendered for the test's ports with server_retry_timeout 1 s instead of 5 s (and timeout 10 s
    instead of 1 s)."""
    proxy_kind = "twemproxy"

    def start_twemproxy_cluster(self) -> tuple[list[Kvd], list[int], Proxy]:
        nodes, resp_ports = [], []
        for _ in range(NODES):
            rp = free_port()
            nodes.append(self.start_node(flags=[f"--resp-port={rp}"]))
            resp_ports.append(rp)
        self.proxy = Proxy("twemproxy", resp_ports, self.rundir)
        self.proxy.start()
        return nodes, resp_ports, self.proxy

    def connect(self) -> RespConn:
        c = RespConn(self.proxy.port)
        self.clients.append(c)
        return c

    def run_commands(self, c: RespConn, commands: list[tuple], expected: list, what: str,
                     retry: bool) -> int:
        """Sends `commands` through the proxy, RESP_BATCH per write, and checks each reply is the
        expected one. With `retry`, a command answered by one of twemproxy's node errors is sent
        again (up to RESP_RETRIES times, 50 ms apart), as twemproxy asks its clients to do; without,
        any error fails the test. Returns how many error replies there were."""
        replies: list = []
        for i in range(0, len(commands), RESP_BATCH):
            replies += c.pipeline(commands[i:i + RESP_BATCH])
        errors = 0
        for i, r in enumerate(replies):
            for attempt in range(RESP_RETRIES + 1):
                if not isinstance(r, RespError):
                    break
                errors += 1
                self.assertRegex(r, TWEMPROXY_NODE_ERROR,
                                 f"{what}: {commands[i]} answered an error that is not a failed "
                                 f"node's\n{self.diag()}")
                if not retry or attempt == RESP_RETRIES:
                    self.fail(f"{what}: {commands[i]} through twemproxy: {r!r} (attempt "
                              f"{attempt + 1})\n{self.diag()}")
                time.sleep(0.05)
                r = c.command(*commands[i])
            self.assertEqual(r, expected[i], f"{what}: {commands[i]} through twemproxy")
        return errors

    def write_all(self, c: RespConn, keys: list[str], phase: str, what: str,
                  retry: bool = False) -> int:
        return self.run_commands(c, [("SET", resp_key(k), value(k, phase)) for k in keys],
                                 ["OK"] * len(keys), what, retry)

    def read_all(self, c: RespConn, keys: list[str], phase: str, what: str,
                 retry: bool = False) -> int:
        return self.run_commands(c, [("GET", resp_key(k)) for k in keys],
                                 [value(k, phase) for k in keys], what, retry)

    def on_node(self, node: Kvd, keys: list[str], phase: str) -> bool:
        with HttpConn(node.port) as d:
            return all(d.request("GET", k).body == value(k, phase) for k in keys)

    def test_ketama_placement_ejection_and_return(self):
        nodes, _, proxy = self.start_twemproxy_cluster()
        c = self.connect()
        keys = [f"/tw/key-{i}" for i in range(KEYS)]

        # 1. write and read everything through the proxy, on one client connection
        self.write_all(c, keys, "a", "initial write")
        self.read_all(c, keys, "a", "initial read")

        # 2. each key on exactly one node, spread evenly
        owner = self.locate(keys, dict(enumerate(nodes)), "a", "initial placement")
        counts = [sum(1 for o in owner.values() if o == i) for i in range(NODES)]
        print(f"\n  twemproxy: keys per node {counts} of {KEYS}", file=sys.stderr)
        for i, n in enumerate(counts):
            self.assertTrue(MIN_SHARE * KEYS <= n <= MAX_SHARE * KEYS,
                            f"node {i} holds {n} of {KEYS} keys ({n / KEYS:.1%}); expected "
                            f"{MIN_SHARE:.0%}..{MAX_SHARE:.0%} (all nodes: {counts})")
        # every client's commands to a node share twemproxy's one connection to it
        # (server_connections: 1), opened at start (preconnect) and kept
        for i, n in enumerate(nodes):
            accepted = self.node_metric(n, 'kvd_connections_accepted_total{protocol="resp"}')
            self.assertEqual(accepted, 1, f"node {i} accepted {accepted:.0f} RESP connections "
                                          f"for {2 * counts[i]} commands")

        # 3. stop one node
        victim = 1
        dead = nodes[victim]
        dead_keys = [k for k in keys if owner[k] == victim]
        live_keys = [k for k in keys if owner[k] != victim]
        ejects0 = proxy.twemproxy_stats()["server_ejects"]
        self.assertEqual(dead.stop(), 0, "kvd exit code after SIGTERM")
        survivors = {i: n for i, n in enumerate(nodes) if i != victim}

        # the other nodes' keys never map to the stopped node: no error, even before the proxy
        # has ejected it
        self.read_all(c, live_keys, "a", "live-node keys right after a node stopped")

        # the stopped node's keys: errors until twemproxy ejects it (it does not retry), then
        # they are served by the survivors
        errors = self.write_all(c, dead_keys, "b", "writing the stopped node's keys", retry=True)
        errors += self.read_all(c, dead_keys, "b", "reading the stopped node's keys", retry=True)
        moved_to = self.locate(dead_keys, survivors, "b", "stopped node's keys on survivors")
        spread = {i: sum(1 for o in moved_to.values() if o == i) for i in survivors}
        self.wait_for(lambda: proxy.twemproxy_stats()["server_ejects"] > ejects0,
                      "twemproxy's stats to count the ejection")
        print(f"  twemproxy: node {victim} stopped; its {len(dead_keys)} keys moved to {spread}; "
              f"{errors} error replies (retried) on the way", file=sys.stderr)

        # keys of the live nodes did not move: new values land on their original node
        self.write_all(c, live_keys, "c", "rewriting live-node keys")
        for i, n in survivors.items():
            mine = [k for k in live_keys if owner[k] == i]
            with HttpConn(n.port) as d:
                for k in mine:
                    r = d.request("GET", k)
                    self.assertEqual((r.status, r.body), (200, value(k, "c")),
                                     f"live-node key {k} moved off node {i} when node {victim} "
                                     f"stopped")
        self.assertLessEqual(len(dead_keys) / KEYS, MAX_SHARE)

        # 4. restart the node on the same ports: after server_retry_timeout twemproxy puts it back
        # on the ring, and its keys go to it again
        back = self.start_node(dead.port, flags=[f"--resp-port={proxy.ports[victim]}"])
        t0 = time.monotonic()
        passes = 0
        while True:
            passes += 1
            self.write_all(c, dead_keys, f"d{passes}", "writing the restarted node's keys",
                           retry=True)
            if self.on_node(back, dead_keys, f"d{passes}"):
                break
            if time.monotonic() - t0 > NOTICE_TIMEOUT:
                self.fail(f"the restarted node's keys did not go back to it within "
                          f"{NOTICE_TIMEOUT}s ({passes} passes)\n{self.diag()}")
            time.sleep(0.1)
        print(f"  twemproxy: node {victim} restarted; all its keys routed back to it after "
              f"{time.monotonic() - t0:.2f}s ({passes} pass(es))", file=sys.stderr)

        self.write_all(c, keys, "e", "final write")
        self.read_all(c, keys, "e", "final read")
        nodes_now = dict(enumerate(nodes[:victim] + [back] + nodes[victim + 1:NODES]))
        for i, n in nodes_now.items():
            self.assertTrue(self.on_node(n, [k for k in keys if owner[k] == i], "e"),
                            f"after the restart, a key of node {i} is not on it")

    def test_1000_pipelined_commands_in_one_write(self):
        nodes, _, _ = self.start_twemproxy_cluster()
        c = self.connect()
        commands, expected = [], []
        for i in range(250):  # keys over all nodes: a write, a read, an increment, a read
            k = f"/pipe/{i}"
            commands += [("SET", resp_key(k), value(k, "p")), ("GET", resp_key(k)),
                         ("INCRBY", resp_key(k) + "/n", i), ("GET", resp_key(k) + "/n")]
            expected += ["OK", value(k, "p"), i, str(i).encode()]
        self.assertEqual(len(commands), 1000)
        c.send(b"".join(resp_command(*cmd) for cmd in commands))
        for i, want in enumerate(expected):
            try:
                r = c.read_reply()
            except (ConnectionClosed, OSError) as e:
                self.fail(f"only {i} of {len(commands)} pipelined replies arrived through "
                          f"twemproxy: {e}\n{self.diag()}")
            self.assertEqual(r, want, f"pipelined reply #{i} to {commands[i]}")
        held = [sum(1 for i in range(250) if self.on_node(n, [f"/pipe/{i}"], "p")) for n in nodes]
        self.assertTrue(all(held), f"keys per node {held}: the pipeline did not span every node")
        self.assertEqual(c.command("PING"), "PONG")  # the connection is still open and usable
        self.assertEqual(c.command("GET", "pipe/7"), value("/pipe/7", "p"))

    def test_mget_mset_del_exists_across_nodes(self):
        nodes, _, _ = self.start_twemproxy_cluster()
        c = self.connect()
        keys = [f"/multi/{i}" for i in range(60)]
        mset = ["MSET"]
        for k in keys:
            mset += [resp_key(k), value(k, "m")]
        self.assertEqual(c.command(*mset), "OK")
        owner = self.locate(keys, dict(enumerate(nodes)), "m", "keys of one MSET")
        self.assertEqual(len(set(owner.values())), NODES, "one MSET's keys did not span every node")

        # MGET: split per node by twemproxy, the replies put back in the order asked
        asked = []
        for i, k in enumerate(keys):
            asked.append(resp_key(k))
            if i % 20 == 0:
                asked.append(f"multi/missing-{i}")
        want = [None if a.startswith("multi/missing-") else value("/" + a, "m") for a in asked]
        self.assertEqual(c.command("MGET", *asked), want)
        # DEL and UNLINK are split too, and their counts summed
        self.assertEqual(c.command("DEL", *asked[:31]), 31 - 2)  # two of them are missing keys
        self.assertEqual(c.command("UNLINK", "multi/missing-x", resp_key(keys[59])), 1)
        left = keys[29:59]
        self.assertEqual(c.command("MGET", *[resp_key(k) for k in keys]),
                         [value(k, "m") if k in left else None for k in keys])
        self.assertEqual(self.locate(left, dict(enumerate(nodes)), "m", "keys left after DEL"),
                         {k: owner[k] for k in left})
        # EXISTS is not split (twemproxy 0.5.0): the whole command goes to the node of its first
        # key, which counts only the keys it holds. docs/scaling.md says so: one key per EXISTS
        first = owner[left[0]]
        on_first = sum(1 for k in left if owner[k] == first)
        self.assertLess(on_first, len(left))
        self.assertEqual(c.command("EXISTS", *[resp_key(k) for k in left]), on_first)
        self.assertEqual([c.command("EXISTS", resp_key(k)) for k in keys],
                         [1 if k in left else 0 for k in keys])

    def test_commands_twemproxy_refuses_close_the_connection(self):
        nodes, resp_ports, _ = self.start_twemproxy_cluster()
        # kvd serves all of these itself: the refusals below are twemproxy's
        for cmd, want in ((("PING", "x"), b"x"), (("ECHO", "x"), b"x"), (("SELECT", "0"), "OK"),
                          (("DBSIZE",), 0), (("INFO", "server"), None)):
            with RespConn(resp_ports[0]) as d:
                r = d.command(*cmd)
                self.assertNotIsInstance(r, RespError, f"kvd's own answer to {cmd}")
                if want is not None:
                    self.assertEqual(r, want, f"kvd's own answer to {cmd}")
        for cmd in (("INFO",), ("DBSIZE",), ("SELECT", "0"), ("ECHO", "x"), ("PING", "x"),
                    ("HELLO", "2"), ("CLIENT", "SETNAME", "app"), ("CONFIG", "GET", "maxmemory"),
                    ("COMMAND", "COUNT"), ("KEYS", "*"), ("FLUSHALL",)):
            c = self.connect()
            c.send(resp_command(*cmd))
            self.assertTrue(c.closed_by_peer(), f"twemproxy did not close the connection after "
                                                f"{cmd} (it answered: {bytes(c.buf)!r})")
            self.assertEqual(bytes(c.buf), b"", f"twemproxy answered {cmd} before closing")
        c = self.connect()
        self.assertEqual(c.command("PING"), "PONG")  # answered by twemproxy itself
        self.assertEqual(c.command("AUTH", "x"),
                         RespError("ERR Client sent AUTH, but no password is set"))
        c.send(resp_command("QUIT"))  # closes without the +OK Redis sends first
        self.assertTrue(c.closed_by_peer(), "QUIT did not close the connection")
        self.assertEqual(bytes(c.buf), b"", "twemproxy answered QUIT")


class ClusterScriptTest(unittest.TestCase):
    """scripts/ops/cluster.sh renders the same templates, starts nodes + proxy, serves, and on SIGTERM
    stops every process it started."""

    def setUp(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(TEST_TIMEOUT)
            self.addCleanup(signal.alarm, 0)

    @staticmethod
    def _ports(n: int) -> tuple[int, int]:
        """A base port with n free ports from it, and a free proxy port after them."""
        import random
        for _ in range(50):
            base = random.randrange(20000, 60000)
            socks = []
            try:
                for p in range(base, base + n + 1):
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
                return base, base + n
            except OSError:
                continue
            finally:
                for s in socks:
                    s.close()
        raise AssertionError("no free port range found")

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def test_cluster_sh_serves_and_stops_everything_on_sigterm(self):
        kinds = [k for k, b in (("haproxy", HAPROXY_BIN), ("nginx", NGINX_BIN)) if b]
        if not kinds:
            self.skipTest("neither haproxy nor nginx is installed")
        for kind in kinds:
            with self.subTest(proxy=kind):
                self._run_script(kind)

    @unittest.skipIf(NUTCRACKER_BIN is None,
                     "nutcracker (twemproxy) is not installed (apt-get install nutcracker)")
    def test_cluster_sh_twemproxy_serves_and_stops_everything_on_sigterm(self):
        self._run_script("twemproxy")

    def _run_script(self, kind: str) -> None:
        # nodes' HTTP ports base, base+1; the proxy's qport; with twemproxy the nodes' RESP ports
        # and the stats port after it
        resp = kind == "twemproxy"
        base, _ = self._ports(5 if resp else 2)
        qport = base + 2
        extra_ports = [base + 3, base + 4, base + 5] if resp else []
        argv = ["bash", os.path.join(ROOT, "scripts", "ops", "cluster.sh"), "--nodes", "2",
                "--base-port", str(base), f"--proxy={kind}", "--proxy-port", str(qport)]
        if resp:
            argv += ["--resp-base-port", str(base + 3), "--stats-port", str(base + 5)]
        out_path = tempfile.mktemp(prefix="kvd-cluster-sh-", suffix=".log")
        self.addCleanup(lambda: os.path.exists(out_path) and os.unlink(out_path))
        env = dict(os.environ, KVD_BIN=kvdtest.KVD_BIN)
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                argv + ["--", "--ttl=10m"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        pids: list[int] = []

        def output() -> str:
            with open(out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")

        def cleanup():  # only if the test failed half-way: stop what is left, by PID
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for pid in pids:
                if self._alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.addCleanup(cleanup)

        deadline = time.monotonic() + 60  # may build kvd first when KVD_BIN is not set
        while "\nready;" not in output():
            self.assertIsNone(proc.poll(), f"cluster.sh exited early:\n{output()}")
            self.assertLess(time.monotonic(), deadline, f"cluster.sh not ready:\n{output()}")
            time.sleep(0.1)
        text = output()
        pids = [int(p) for p in re.findall(r"pid (\d+)", text.split("ready;")[0])]
        self.assertEqual(len(pids), 3, f"expected 2 node pids and the proxy's in:\n{text}")
        self.assertIn(f"redis-cli -h 127.0.0.1 -p {qport} set k1 v1" if resp else
                      f"curl -X POST 127.0.0.1:{qport}/k1", text)
        self.assertIn(f"127.0.0.1:$p/metrics", text)

        if resp:
            with RespConn(qport) as c:
                for i in range(40):
                    self.assertEqual(c.command("SET", f"sh/{i}", b"v%d" % i), "OK",
                                     "through twemproxy")
                self.assertEqual(c.command("GET", "sh/7"), b"v7")
            with socket.create_connection(("127.0.0.1", base + 5), timeout=3) as st:
                data = b""
                while chunk := st.recv(65536):
                    data += chunk
            self.assertEqual(sorted(k for k, v in json.loads(data)["kvd"].items()
                                    if isinstance(v, dict)), ["kvd1", "kvd2"],
                             "twemproxy's stats port does not list the two nodes")
        else:
            with HttpConn(qport) as c:
                for i in range(40):
                    r = c.request("POST", f"/sh/{i}", b"v%d" % i)
                    self.assertEqual((r.status, r.body), (200, b"v%d" % i), f"through {kind}")
                self.assertEqual(c.request("GET", "/sh/7").body, b"v7")
        sizes = []
        for p in (base, base + 1):
            with HttpConn(p) as d:
                sizes.append(int(d.request("GET", "/size").body))
        self.assertEqual(sum(sizes), 40, f"keys per node {sizes}")
        self.assertTrue(all(sizes), f"keys per node {sizes}: one node got nothing")

        os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            self.fail(f"cluster.sh did not exit within 20s of SIGTERM:\n{output()}")
        self.assertEqual(rc, 0, output())
        left = [p for p in pids if self._alive(p)]
        self.assertFalse(left, f"processes left running after cluster.sh exited: {left}")
        for p in [base, base + 1, qport] + extra_ports:
            with self.assertRaises(OSError, msg=f"port {p} still accepts connections"):
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
        self.assertNotRegex(output(), r"Terminated|Killed|SIGKILL")


if __name__ == "__main__":
    unittest.main()
