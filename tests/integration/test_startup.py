"""Startup log lines on stderr, logrus text style: `INFO[<RFC3339 time>] message`."""
from __future__ import annotations

import datetime
import re
import subprocess
import time
import unittest

from kvdtest import KVD_BIN, KvdTestCase

LINE_RE = re.compile(r"^INFO\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\] (.*)$")


class StartupLogTest(KvdTestCase):

    def find_line(self, needle: str, wait: float = 1.0) -> str:
        deadline = time.monotonic() + wait
        while True:
            for line in self.kvd.stderr().splitlines():
                if needle in line:
                    return line
            if time.monotonic() > deadline:
                self.fail(f"no stderr line containing {needle!r}; stderr:\n{self.kvd.stderr()}")
            time.sleep(0.05)

    def check_format(self, line: str) -> str:
        m = LINE_RE.match(line)
        self.assertIsNotNone(m, f"not in `INFO[<RFC3339>] msg` format: {line!r}")
        ts = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        self.assertIsNotNone(ts.tzinfo, "timestamp without a UTC offset")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - ts).total_seconds()), 120, f"timestamp {ts} is not now")
        return m.group(2)

    def test_default_expire_time_logged(self):
        msg = self.check_format(self.find_line("cache expire time"))
        self.assertIn("cache expire time: 10000ms", msg)

    def test_starting_server_logged_with_real_port(self):
        msg = self.check_format(self.find_line("Starting server on"))
        self.assertRegex(msg, rf"^Starting server on {self.port}\b")
        self.assertNotEqual(self.port, 0)
        self.assertEqual(self.request("GET", "/healthz").status, 200)

    def test_expire_time_logged_before_start(self):
        lines = self.kvd.stderr().splitlines()
        i = next((n for n, ln in enumerate(lines) if "cache expire time" in ln), None)
        j = next((n for n, ln in enumerate(lines) if "Starting server on" in ln), None)
        self.assertIsNotNone(i, "no `cache expire time` line by the time the server started")
        self.assertLess(i, j)


class SharedPortTest(KvdTestCase):
    """kvd binds with SO_REUSEPORT, which would let a second kvd of the same user join the first's
    port and the kernel split connections between two caches: the second refuses instead."""

    def second(self, bind: str, port: int) -> subprocess.CompletedProcess:
        return subprocess.run([KVD_BIN, f"--port={port}", f"--bind={bind}"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=10)

    def test_a_second_kvd_on_the_port_refuses_to_start(self):
        self.put("/k", b"first")
        for bind in ("127.0.0.1", "0.0.0.0"):
            with self.subTest(bind=bind):
                p = self.second(bind, self.port)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(f"listen on {bind}:{self.port}: Address already in use", p.stderr)
                self.assertIn(f"another process listens on 127.0.0.1:{self.port}", p.stderr)
                self.assertNotIn("Starting server", p.stderr)
        # Every connection still reaches the first kvd and its keys.
        for _ in range(20):
            self.assertEqual(self.get("/k").body, b"first")

    def test_another_address_on_the_same_port_is_fine(self):
        p = subprocess.Popen([KVD_BIN, f"--port={self.port}", "--bind=127.0.0.2"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stderr.readline() + p.stderr.readline()
            self.assertIn(f"Starting server on {self.port}", line)
        finally:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    unittest.main()
