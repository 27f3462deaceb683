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

Every process (kvd nodes, the proxy and, for nginx, its workers: the proxy runs in its own process
group) is stopped by PID in the cleanup, also when a test fails. Proxy logs are in a temporary
directory, printed on failure. HAPROXY_BIN / NGINX_BIN select the binaries (default: PATH, then
/usr/sbin).
"""
from __future__ import annotations

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


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Proxy:
    """haproxy or nginx in the foreground, in its own process group, logging to a file."""

    def __init__(self, kind: str, ports: list[int], rundir: str):
        self.kind = kind
        self.ports = ports
        self.rundir = rundir
        self.port: int | None = None
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
                try:
                    with HttpConn(self.port, timeout=1.0) as c:
                        if c.request("GET", "/healthz").status == 200:
                            return self
                except (OSError, ConnectionClosed):
                    pass
                time.sleep(0.05)
            last = self.log()
            self.stop()
        raise AssertionError(f"{self.kind} did not start answering /healthz within "
                             f"{PROXY_START_TIMEOUT}s\n--- log ---\n{last}")

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


class _ClusterBase:
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

    def start_node(self, port: int = 0) -> Kvd:
        k = Kvd(NODE_FLAGS + [f"--port={port}"])
        self.nodes.append(k)  # before start(): stopped in cleanup whatever happens
        k.start()
        if port:
            self.assertEqual(k.port, port, "restarted node is not on its old port")
        return k

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

    def _run_script(self, kind: str) -> None:
        base, qport = self._ports(2)
        out_path = tempfile.mktemp(prefix="kvd-cluster-sh-", suffix=".log")
        self.addCleanup(lambda: os.path.exists(out_path) and os.unlink(out_path))
        env = dict(os.environ, KVD_BIN=kvdtest.KVD_BIN)
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                ["bash", os.path.join(ROOT, "scripts", "ops", "cluster.sh"), "--nodes", "2",
                 "--base-port", str(base), "--proxy", kind, "--proxy-port", str(qport),
                 "--", "--ttl=10m"],
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
        self.assertIn(f"curl -X POST 127.0.0.1:{qport}/k1", text)
        self.assertIn(f"127.0.0.1:$p/metrics", text)

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
        for p in (base, base + 1, qport):
            with self.assertRaises(OSError, msg=f"port {p} still accepts connections"):
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
        self.assertNotRegex(output(), r"Terminated|Killed|SIGKILL")


if __name__ == "__main__":
    unittest.main()
