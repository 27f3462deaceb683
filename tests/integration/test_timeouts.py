"""--idle-timeout and --header-timeout close stalled connections."""
from __future__ import annotations

import time
import unittest

from kvdtest import KvdTestCase, build_request


class TimeoutTestBase(KvdTestCase):

    def assertClosedBy(self, c, t0: float, lo: float, hi: float, what: str):
        """The server closes `c` between lo and hi seconds after t0 (optionally after a 408)."""
        closed = c.wait_closed(hi + 0.5 - (time.monotonic() - t0))
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, f"{what}: not closed within {hi + 0.5:.1f}s")
        self.assertGreaterEqual(elapsed, lo, f"{what}: closed too early ({elapsed:.2f}s)")
        self.assertLessEqual(elapsed, hi + 0.5, f"{what}: closed too late ({elapsed:.2f}s)")
        extra = bytes(c.buf)
        self.assertTrue(extra == b"" or extra.startswith(b"HTTP/1.1 408"),
                        f"{what}: unexpected bytes before the close: {extra[:100]!r}")


class IdleTimeoutTest(TimeoutTestBase):
    kvd_flags = ["--idle-timeout=1s"]

    def test_idle_connection_closed(self):
        c = self.connect()
        self.assertStatus(c.request("POST", "/k", b"v"), 200)
        t0 = time.monotonic()
        self.assertClosedBy(c, t0, 0.7, 2.5, "idle keep-alive connection")
        self.assertEqual(self.get("/k").body, b"v")

    def test_silent_new_connection_closed(self):
        c = self.connect()
        t0 = time.monotonic()
        self.assertClosedBy(c, t0, 0.7, 2.5, "connection that never sends")

    def test_activity_keeps_connection_open(self):
        c = self.connect()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.5:
            self.assertStatus(c.request("GET", "/healthz"), 200,
                              f"at {time.monotonic() - t0:.1f}s on an active connection:")
            time.sleep(0.4)

    def test_idle_timeout_does_not_cut_a_slow_but_active_upload(self):
        c = self.connect()
        body = b"x" * 20
        c.send(build_request("POST", "/slow", None, headers=[("Content-Length", "20")]))
        for i in range(0, 20, 4):  # 5 pieces, 0.4s apart: 2s in total, never 1s idle
            time.sleep(0.4)
            c.send(body[i:i + 4])
        r = c.read_response()
        self.assertStatus(r, 200)
        self.assertEqual(r.body, body)


class HeaderTimeoutTest(TimeoutTestBase):
    kvd_flags = ["--header-timeout=1s"]

    def test_half_request_line_closed(self):
        c = self.connect()
        t0 = time.monotonic()
        c.send(b"GET /k HT")
        self.assertClosedBy(c, t0, 0.7, 2.5, "half a request line")
        self.assertEqual(self.request("GET", "/healthz").status, 200)

    def test_trickled_headers_closed(self):
        # Slowloris: a byte every 200ms is activity, but the headers never complete in time.
        c = self.connect()
        t0 = time.monotonic()
        closed = False
        for b in b"GET /k HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            if c.try_send(bytes([b])) is not None:
                closed = True
                break
            if c.wait_closed(0.2):
                closed = True
                break
            if time.monotonic() - t0 > 4:
                break
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "headers trickled over 4s were not cut by --header-timeout=1s")
        self.assertLess(elapsed, 3.0, f"closed only after {elapsed:.2f}s")

    def test_complete_requests_unaffected(self):
        c = self.connect()
        for i in range(3):
            self.assertStatus(c.request("POST", f"/h{i}", b"v"), 200)
            time.sleep(0.1)
        self.assertEqual(c.request("GET", "/h2").body, b"v")


if __name__ == "__main__":
    unittest.main()
