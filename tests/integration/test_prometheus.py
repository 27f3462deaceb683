"""kvd under a real Prometheus: every query of the Grafana dashboard returns data.

Starts kvd and Debian's `prometheus` (scraping kvd every second, temp config and TSDB, free port),
puts load on kvd (kvbench for 4 s when $KVBENCH_BIN is a binary, else a Python loop of GET/POST),
waits for at least 5 scrapes, then evaluates every PromQL `expr` of
prometheus/grafana/dashboards/kvd.json through /api/v1/query at the end of the load: each must
succeed and return a non-empty result. Also runs `promtool check config prometheus/prometheus.yml`.
Skipped only when the prometheus binary is absent.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import kvdtest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(REPO, "prometheus", "grafana", "dashboards", "kvd.json")
PROM_CONFIG = os.path.join(REPO, "prometheus", "prometheus.yml")
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
KVBENCH_BIN = os.environ.get("KVBENCH_BIN", "")
# kvdtest kills the processes in this set at exit, should a test be interrupted.
_LIVE = getattr(kvdtest, "_live_procs", set())

JOB = "kvd"
LOAD_SECONDS = 4.0
MIN_SCRAPES = 5
# Grafana's built-in variables, as Grafana would set them for a Prometheus scraped every 1 s
# ($__rate_interval = max(4 x scrape interval, $__interval + scrape interval)).
BUILTINS = {
    "__rate_interval": "5s",
    "__interval": "1s",
    "__interval_ms": "1000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((kvdtest.HOST, 0))
        return s.getsockname()[1]


def dashboard_exprs(dash: dict) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target, including panels nested in rows."""
    out: list[tuple[str, str]] = []

    def walk(panels: list) -> None:
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return out


def dashboard_variables(dash: dict) -> dict[str, str]:
    """Each templating variable's current value; multi-value variables as a regex alternation,
    as Grafana formats them for Prometheus."""
    values = dict(BUILTINS)
    for v in dash.get("templating", {}).get("list", []):
        cur = (v.get("current") or {}).get("value")
        if isinstance(cur, list):
            cur = cur[0] if len(cur) == 1 else "(" + "|".join(cur) + ")"
        if v.get("name") == "job":
            cur = JOB
        if cur is not None:
            values[v["name"]] = str(cur)
    return values


_VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")


def substitute(expr: str, values: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VAR_RE.sub(repl, expr)


class Prometheus:
    """Debian's prometheus on a free port with a temp config and TSDB; stopped by PID."""

    def __init__(self, kvd_port: int):
        self.dir = tempfile.mkdtemp(prefix="kvd-prom-test-")
        self.port = free_port()
        self.url = f"http://{kvdtest.HOST}:{self.port}"
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(
                "global:\n"
                "  scrape_interval: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                f"  - job_name: {JOB}\n"
                "    scrape_interval: 1s\n"
                "    scrape_timeout: 1s\n"
                "    static_configs:\n"
                f"      - targets: ['{kvdtest.HOST}:{kvd_port}']\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.config}",
                 f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                 f"--web.listen-address={kvdtest.HOST}:{self.port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        _LIVE.add(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready on {self.url} within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def query(self, expr: str, at: float | None = None) -> dict:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = urllib.parse.urlencode(params).encode()
        try:
            with urllib.request.urlopen(self.url + "/api/v1/query", data=data, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400/422: bad expression; the body says why
            return json.loads(e.read() or b"{}") or {"status": "error", "error": str(e)}

    def scalar(self, expr: str) -> float | None:
        r = self.query(expr)
        res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
        return float(res[0]["value"][1]) if res else None

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
            _LIVE.discard(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipIf(PROMETHEUS is None,
                 "the prometheus binary is not installed (Debian package `prometheus`; "
                 "scripts/ops/install-deps.sh test installs it)")
class PrometheusDashboardTest(kvdtest.KvdTestCase):
    kvd_flags = ["--ttl=2s"]  # so expirations happen during the run

    def setUp(self) -> None:
        super().setUp()  # starts kvd
        self.prom = Prometheus(self.port)
        self.addCleanup(self.prom.stop)
        self.bench: subprocess.Popen | None = None
        self.addCleanup(self._stop_bench)

    def _stop_bench(self) -> None:
        if self.bench is not None and self.bench.poll() is None:
            os.kill(self.bench.pid, signal.SIGKILL)
            self.bench.wait(5)
        if self.bench is not None:
            _LIVE.discard(self.bench)

    def _wait_for(self, what: str, cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        self.fail(f"timed out after {timeout}s waiting for {what}\n--- prometheus log ---\n"
                  f"{self.prom.log()}")

    def _load(self) -> str:
        """LOAD_SECONDS of GET/POST traffic (hits and misses); returns what generated it."""
        if KVBENCH_BIN and os.path.isfile(KVBENCH_BIN) and os.access(KVBENCH_BIN, os.X_OK):
            self.bench = subprocess.Popen(
                [KVBENCH_BIN, f"--uri=http://{kvdtest.HOST}:{self.port}",
                 f"--duration={int(LOAD_SECONDS)}s", "--connections=4", "--pipelining=4",
                 "--keys=1000"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _LIVE.add(self.bench)
            try:
                _, err = self.bench.communicate(timeout=LOAD_SECONDS + 15)
            except subprocess.TimeoutExpired:
                self.fail("kvbench did not finish in time")
            self.assertEqual(self.bench.returncode, 0, f"kvbench failed: {err.decode()[-2000:]}")
            return "kvbench"
        conns = [http.client.HTTPConnection(kvdtest.HOST, self.port, timeout=5) for _ in range(2)]
        try:
            n = 0
            end = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < end:
                c = conns[n % 2]
                key = f"/load-{n % 200}"
                if n % 4 == 0:
                    c.request("POST", key, body=str(n).encode())
                else:
                    c.request("GET", key if n % 3 else f"/absent-{n}")
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                n += 1
                if n % 50 == 0:
                    time.sleep(0.01)  # a few thousand requests, spread over the whole window
            self.assertGreater(n, 200)
            return f"python loop ({n} requests)"
        finally:
            for c in conns:
                c.close()

    def test_prometheus_config_is_valid(self) -> None:
        if PROMTOOL is None:
            self.skipTest("promtool is not installed (Debian package `prometheus`)")
        r = subprocess.run([PROMTOOL, "check", "config", PROM_CONFIG], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 0, f"promtool check config:\n{r.stdout}{r.stderr}")

    def test_prometheus_dashboard_queries_return_data(self) -> None:
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual(dash.get("uid"), "kvd")
        values = dashboard_variables(dash)
        exprs = [(title, expr, substitute(expr, values)) for title, expr in dashboard_exprs(dash)]
        self.assertGreaterEqual(len(exprs), 10, "the dashboard has fewer queries than expected")
        for title, _, q in exprs:
            self.assertNotIn("$", q, f"unsubstituted variable in {title!r}: {q}")

        self.prom.start()
        up = f'up{{job="{JOB}"}}'
        # Prometheus hands new targets to the scraper a few seconds after start.
        self._wait_for("the first scrape of kvd", lambda: self.prom.scalar(up) == 1.0, 20)

        how = self._load()
        load_end = time.time()
        self._wait_for(
            f">= {MIN_SCRAPES} scrapes of kvd, one after the load",
            lambda: ((self.prom.scalar(f"count_over_time({up}[1m])") or 0) >= MIN_SCRAPES
                     and (self.prom.scalar(f"timestamp({up})") or 0) > load_end), 15)

        # Evaluate at the end of the load, so every [5s] window lies within it.
        failures = []
        for title, expr, q in exprs:
            r = self.prom.query(q, at=load_end)
            if r.get("status") != "success":
                failures.append(f"{title}: {q}\n    -> {r.get('errorType')}: {r.get('error')}")
            elif not r["data"]["result"]:
                failures.append(f"{title}: {q}\n    -> empty result")
        self.assertEqual(failures, [], f"load by {how}; dashboard queries that failed:\n" +
                         "\n".join(failures))

        # And the numbers are about the load, not just present.
        rps = self.prom.query(f'sum(rate(api_requests_total{{job="{JOB}"}}[5s]))', at=load_end)
        self.assertGreater(float(rps["data"]["result"][0]["value"][1]), 10.0, rps)
        size = self.prom.query(f'sum(cache_size{{job="{JOB}"}})', at=load_end)
        self.assertGreater(float(size["data"]["result"][0]["value"][1]), 0.0, size)


if __name__ == "__main__":
    unittest.main()
