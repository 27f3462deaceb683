"""kvbench against a real kvd: the JSON report, kvd's own request counters, text output, exit codes.

Needs KVBENCH_BIN (default: ./kvbench at the repository root) and KVD_BIN (see kvdtest.py);
every test is skipped, with the reason, when either binary is missing. Each kvbench run is
bounded (--duration plus a subprocess timeout) and kvd is stopped by PID after each test.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KVBENCH_BIN = os.environ.get("KVBENCH_BIN") or os.path.join(ROOT, "kvbench")
RUN_SLACK = 30.0  # seconds a kvbench run may take beyond its --duration before it is killed

try:
    sys.path.insert(0, HERE)
    import kvdtest  # the shared kvd helpers, when present

    KVD_BIN = kvdtest.KVD_BIN
    _Base = kvdtest.KvdTestCase
except ImportError:  # standalone fallback: start kvd ourselves
    kvdtest = None
    KVD_BIN = os.environ.get("KVD_BIN") or os.path.join(ROOT, "kvd")

    class _Base(unittest.TestCase):  # type: ignore[no-redef]
        """Starts `KVD_BIN --port=0 --bind=127.0.0.1` before each test, stops it by PID after."""

        start_kvd = True

        def setUp(self) -> None:
            self.kvd = None
            if not self.start_kvd:
                return
            log = tempfile.TemporaryFile()  # kvd's stderr; a file never fills up like a pipe
            self.addCleanup(log.close)
            proc = subprocess.Popen([KVD_BIN, "--port=0", "--bind=127.0.0.1"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log)
            self.addCleanup(self._stop, proc)
            deadline = time.monotonic() + 10
            text = ""
            while time.monotonic() < deadline and proc.poll() is None:
                log.seek(0)
                text = log.read().decode("utf-8", "replace")
                m = re.search(r"Starting server on :?(\d+)", text)
                if m:
                    self._port = int(m.group(1))
                    self.kvd = proc
                    return
                time.sleep(0.05)
            self.fail(f"kvd did not log 'Starting server on <port>' within 10s:\n{text}")

        @staticmethod
        def _stop(proc: subprocess.Popen) -> None:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(5)

        @property
        def port(self) -> int:
            return self._port


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def run_kvbench(args: list[str], duration_s: float) -> subprocess.CompletedProcess:
    return subprocess.run([KVBENCH_BIN] + args, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=duration_s + RUN_SLACK)


def api_requests_by_method(port: int) -> dict[str, float]:
    """Sums kvd's api_requests_total samples (any namespace prefix) by their method label."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode("utf-8")
    sums: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)", line)
        if not m or not (m.group(1) == "api_requests_total"
                         or m.group(1).endswith("_api_requests_total")):
            continue
        method = re.search(r'method="([^"]*)"', m.group(2))
        if method:
            sums[method.group(1)] = sums.get(method.group(1), 0.0) + float(m.group(3))
    return sums


class _KvbenchCase(_Base):
    def setUp(self) -> None:
        if not _executable(KVBENCH_BIN):
            self.skipTest(f"kvbench binary not found: {KVBENCH_BIN} (set KVBENCH_BIN or `make`)")
        if getattr(self, "start_kvd", True) and not _executable(KVD_BIN):
            self.skipTest(f"kvd binary not found: {KVD_BIN} (set KVD_BIN or `make`)")
        super().setUp()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class KvbenchRunTest(_KvbenchCase):

    def test_json_report_matches_kvd_counters(self):
        p = run_kvbench([f"--uri={self.uri}", "--duration=2s", "--connections=4",
                         "--pipelining=5", "--json"], 2)
        self.assertEqual(p.returncode, 0, f"kvbench failed:\n{p.stderr}\n{p.stdout}")
        try:
            report = json.loads(p.stdout)
        except json.JSONDecodeError as e:
            self.fail(f"kvbench --json did not print one JSON object ({e}):\n{p.stdout}")
        self.assertEqual(report["connections"], 4)
        self.assertEqual(report["pipelining"], 5)
        self.assertAlmostEqual(report["duration"], 2.0, delta=0.2)
        get, post = report["get"], report["post"]
        for name, kind in (("get", get), ("post", post)):
            with self.subTest(kind=name):
                self.assertGreater(kind["total"], 0, f"no {name} answered: {kind}")
                self.assertEqual(kind["non2xx"], 0, f"{name} got non-2xx answers: {kind}")
                self.assertEqual(kind["errors"], 0, f"{name} errors: {kind}")
                self.assertEqual(kind["2xx"], kind["total"])
                lat = kind["latency_us"]
                self.assertTrue(0 < lat["p2_5"] <= lat["p50"] <= lat["p97_5"] <= lat["p99"]
                                <= lat["max"], f"{name} latency percentiles out of order: {lat}")
                rps = kind["requests_per_sec"]
                self.assertEqual(rps["samples"], 2, f"{name} per-second samples: {rps}")
                self.assertGreater(rps["min"], 0)
        self.assertEqual(report["errors"]["total"], 0, f"errors: {report['errors']}")
        self.assertEqual(report["errors"]["connections_opened"], 4)
        self.assertEqual(report["total"], get["total"] + post["total"])
        share = post["total"] / (get["total"] + post["total"])
        self.assertTrue(0.10 <= share <= 0.30, f"POST share {share:.3f} not in [0.10, 0.30]")

        # kvd answered (and counted) at least every request kvbench saw answered; it may have
        # counted more (requests still in flight when kvbench stopped, this scrape itself).
        counted = api_requests_by_method(self.port)
        self.assertGreaterEqual(counted.get("get", 0), get["total"], f"kvd counted {counted}")
        self.assertGreaterEqual(counted.get("post", 0), post["total"], f"kvd counted {counted}")

    def test_text_report(self):
        p = run_kvbench([f"--uri={self.uri}", "--duration=1", "--connections=2",
                         "--pipelining=3"], 1)
        self.assertEqual(p.returncode, 0, f"kvbench failed:\n{p.stderr}\n{p.stdout}")
        out = p.stdout
        for needle in ("running 1s test @ " + self.uri,
                       "2 connections with 3 pipelining factor",
                       "---------- Read/GET ----------",
                       "---------- Write/POST ----------",
                       "| Latency |", "| Req/Sec ", "| Bytes/Sec |",
                       "Req/Bytes counts sampled once per second."):
            self.assertIn(needle, out)
        self.assertRegex(out, r"\n[1-9]\d* 2xx responses, 0 non 2xx responses\.\n")
        self.assertRegex(out, r"\n0 errors \(0 timeouts\)\.\n")
        self.assertRegex(out, r"\n[1-9]\d* total requests in 1 seconds, .* read for GET\.\n")
        self.assertRegex(out, r"\n[1-9]\d* total requests in 1 seconds, .* read for POST\.\n")

    def test_put_with_padded_values(self):
        # 10 keys, so that every key is written; each stored value is exactly 16 digits.
        p = run_kvbench([f"--uri={self.uri}", "--duration=1s", "--connections=2",
                         "--pipelining=4", "--keys=10", "--set-method=PUT", "--value-bytes=16",
                         "--post-ratio=1", "--json"], 1)
        self.assertEqual(p.returncode, 0, f"kvbench failed:\n{p.stderr}\n{p.stdout}")
        report = json.loads(p.stdout)
        self.assertEqual(report["set_method"], "PUT")
        self.assertGreater(report["post"]["total"], 0)
        self.assertEqual(report["post"]["non2xx"], 0)
        self.assertEqual(report["errors"]["total"], 0)
        # --post-ratio=1: every GET is followed by a PUT, so half the requests are writes.
        share = report["post"]["total"] / report["total"]
        self.assertAlmostEqual(share, 0.5, delta=0.01)
        self.assertGreaterEqual(api_requests_by_method(self.port).get("put", 0),
                                report["post"]["total"])
        seen = 0
        for key in range(10):
            with urllib.request.urlopen(f"{self.uri}/{key}", timeout=5) as r:
                body = r.read()
            if body:
                seen += 1
                self.assertRegex(body, rb"^\d{16}$", f"value of /{key}")
        self.assertGreater(seen, 0, "no key was written")


def store_lock_figures(port: int) -> tuple[float, float]:
    """kvd's kvd_store_lock_waits_total and kvd_store_lock_wait_seconds_total."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode("utf-8")
    found = {}
    for line in text.splitlines():
        m = re.match(r"^(kvd_store_lock_wait(?:s_total|_seconds_total))\s+(\S+)$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found["kvd_store_lock_waits_total"], found["kvd_store_lock_wait_seconds_total"]


class StoreLockMetricsTest(_KvbenchCase):
    """Two reactors on two shards contend for the shard locks under load, and /metrics shows it;
    one reactor's store takes no locks, so its figures stay 0 under the same load."""

    kvd_flags = ["--threads=2", "--shards=2"]

    def load(self, port: int) -> None:
        # 16 connections: SO_REUSEPORT spreads them over both reactors (all on one: 2 in 65,536).
        p = run_kvbench([f"--uri=http://127.0.0.1:{port}", "--duration=2s", "--connections=16",
                         "--pipelining=16", "--keys=1000", "--json"], 2)
        self.assertEqual(p.returncode, 0, f"kvbench failed:\n{p.stderr}\n{p.stdout}")

    def test_waits_counted_with_two_reactors(self):
        self.assertEqual(store_lock_figures(self.port), (0, 0))
        self.load(self.port)
        waits, seconds = store_lock_figures(self.port)
        self.assertGreater(waits, 0, "no shard lock waits with 2 reactors on 2 shards")
        self.assertGreater(seconds, 0)
        self.assertLess(seconds, 2 * 2 + 1, "more waiting than two reactors had time")

    def test_none_with_one_reactor(self):
        one = self.start_server(["--threads=1"])
        self.load(one.port)
        self.assertEqual(store_lock_figures(one.port), (0, 0))


class KvbenchExitStatusTest(_KvbenchCase):
    start_kvd = False

    def test_cannot_connect(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        p = run_kvbench([f"--uri=http://127.0.0.1:{port}", "--duration=1s"], 1)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot connect", p.stderr)

    def test_usage_errors(self):
        # Each is refused before any connection is tried (nothing listens on port 9).
        target = "--uri=http://127.0.0.1:9"
        for args in ([target, "--pipelining=0"], [target, "--post-ratio=1.5"],
                     [target, "--set-method=GET"], [target, "--duration=forever"],
                     [target, "--no-such-flag"], [target, "stray-argument"],
                     ["--uri=ftp://127.0.0.1:9"]):
            with self.subTest(args=args):
                p = run_kvbench(args, 0)
                self.assertNotEqual(p.returncode, 0, f"{args}: {p.stdout}")
                self.assertTrue(p.stderr.strip(), f"{args}: no message on stderr")


if __name__ == "__main__":
    unittest.main()
