"""/metrics: Prometheus text format 0.0.4, the expected families, promtool's verdict."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import unittest

from kvdtest import KvdTestCase, build_request

PROMTOOL = "/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else shutil.which("promtool")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$")


def samples(text: str) -> list[tuple[str, str, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"unparsable exposition line {line!r}")
        out.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return out


def family_values(text: str, suffix: str) -> list[tuple[str, float]]:
    """Samples whose metric name is `suffix` or ends with `_<suffix>` (a namespace prefix)."""
    return [(labels, v) for name, labels, v in samples(text)
            if name == suffix or name.endswith("_" + suffix)]


class MetricsTest(KvdTestCase):

    def scrape(self) -> str:
        r = self.request("GET", "/metrics")
        self.assertStatus(r, 200, "/metrics")
        return r.body.decode("utf-8")

    def test_content_type(self):
        r = self.request("GET", "/metrics")
        self.assertStatus(r, 200)
        ct = r.header("Content-Type") or ""
        self.assertTrue(ct.startswith("text/plain; version=0.0.4"), f"Content-Type {ct!r}")
        self.assertIn("charset=utf-8", ct.replace(" ", ""))
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))
        self.assertIsNotNone(r.header("Date"))

    def test_head_metrics(self):
        c = self.connect()
        c.send(build_request("HEAD", "/metrics") + build_request("GET", "/healthz"))
        h = c.read_response(head=True)
        self.assertStatus(h, 200)
        self.assertGreater(int(h.header("Content-Length") or "0"), 100)
        self.assertTrue((h.header("Content-Type") or "").startswith("text/plain; version=0.0.4"))
        self.assertEqual(c.read_response().body.strip(), b"ok", "HEAD /metrics carried a body")

    def test_expected_families_present(self):
        self.put("/k", b"v")
        self.get("/k")
        text = self.scrape()
        for name in ("in_flight_requests", "api_requests_total",
                     "request_duration_seconds_bucket", "cache_size",
                     "process_cpu_seconds_total"):
            with self.subTest(metric=name):
                self.assertTrue(family_values(text, name), f"no {name} sample in /metrics")
        buckets = family_values(text, "request_duration_seconds_bucket")
        self.assertTrue(any('le="+Inf"' in labels for labels, _ in buckets), "no +Inf bucket")
        self.assertTrue(all(v >= 0 for _, v in family_values(text, "in_flight_requests")))
        self.assertTrue(all(v >= 0 for _, v in family_values(text, "process_cpu_seconds_total")))

    def test_every_sample_has_help_and_type(self):
        text = self.scrape()
        typed = set(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
        families = {n for n, _ in typed}
        for name, _, _ in samples(text):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertTrue(name in families or base in families, f"{name} has no # TYPE")
            self.assertTrue(name in helped or base in helped, f"{name} has no # HELP")

    def test_cache_size_matches_size(self):
        for i in range(7):
            self.put(f"/m{i}", b"v")
        self.request("DELETE", "/m0")
        n = self.size()
        self.assertEqual(n, 6)
        vals = family_values(self.scrape(), "cache_size")
        self.assertEqual(len(vals), 1, f"cache_size samples: {vals}")
        self.assertEqual(vals[0][1], n)

    def test_requests_counted(self):
        before = sum(v for _, v in family_values(self.scrape(), "api_requests_total"))
        c = self.connect()
        for i in range(10):
            c.request("POST", f"/r{i}", b"v")
        for i in range(5):
            c.request("GET", f"/r{i}")
        after = sum(v for _, v in family_values(self.scrape(), "api_requests_total"))
        self.assertGreaterEqual(after - before, 15, f"api_requests_total {before} -> {after}")
        self.assertLess(after - before, 100)
        hist = family_values(self.scrape(), "request_duration_seconds_count")
        self.assertGreaterEqual(sum(v for _, v in hist), 15)

    def test_histogram_buckets_cumulative(self):
        for i in range(20):
            self.put(f"/h{i}", b"v")
        series: dict[str, list[tuple[float, float]]] = {}
        for labels, v in family_values(self.scrape(), "request_duration_seconds_bucket"):
            le = re.search(r'le="([^"]*)"', labels)
            self.assertIsNotNone(le, f"bucket without le: {labels}")
            key = re.sub(r',?le="[^"]*"', "", labels)
            series.setdefault(key, []).append((float(le.group(1)), v))
        self.assertTrue(series)
        for key, bs in series.items():
            bs.sort()
            counts = [v for _, v in bs]
            self.assertEqual(counts, sorted(counts), f"buckets of {key} not cumulative")
            self.assertEqual(bs[-1][0], float("inf"))

    def test_promtool_check_metrics(self):
        if not PROMTOOL:
            self.skipTest("promtool not installed (/usr/bin/promtool): cannot lint /metrics")
        for i in range(5):
            self.put(f"/p{i}", b"v")
            self.get(f"/p{i}")
        self.request("GET", "/nope")
        self.request("PATCH", "/p0", b"")
        text = self.scrape()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0,
                         f"promtool check metrics failed:\n{p.stdout.decode()}{p.stderr.decode()}")


if __name__ == "__main__":
    unittest.main()
