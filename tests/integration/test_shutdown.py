"""Graceful shutdown on SIGTERM, and surviving clients that vanish (SIGPIPE)."""
from __future__ import annotations

import signal
import socket
import time
import unittest

from kvdtest import ConnectionClosed, HttpConn, KvdTestCase, build_request


class ShutdownTest(KvdTestCase):

    def test_sigterm_answers_pipelined_requests_then_exits_0(self):
        c = self.connect()
        out = bytearray()
        expect = []
        for i in range(100):
            out += build_request("POST", f"/s{i}", b"value-%d" % i)
            expect.append(b"value-%d" % i)
            out += build_request("GET", f"/s{i}")
            expect.append(b"value-%d" % i)
        c.send(bytes(out))
        self.kvd.signal(signal.SIGTERM)
        t0 = time.monotonic()
        for i, v in enumerate(expect):
            try:
                r = c.read_response()
            except ConnectionClosed as e:
                self.fail(f"only {i} of 200 pipelined responses arrived before the close "
                          f"after SIGTERM: {e}")
            self.assertStatus(r, 200, f"response #{i}")
            self.assertEqual(r.body, v, f"response #{i}")
        self.assertTrue(c.wait_closed(5.0), "connection not closed after SIGTERM + responses")
        rc = self.kvd.wait(max(0.1, 5.0 - (time.monotonic() - t0)))
        self.assertIsNotNone(rc, "kvd did not exit within 5s of SIGTERM")
        self.assertEqual(rc, 0, f"exit code after SIGTERM\n{self.kvd.stderr()[-2000:]}")

    def test_sigterm_with_idle_connections_exits_promptly(self):
        idle = [self.connect() for _ in range(5)]
        for i, c in enumerate(idle):
            self.assertStatus(c.request("POST", f"/i{i}", b"v"), 200)
        never_sent = self.connect()  # accepted connection that never sends a byte
        time.sleep(0.05)
        t0 = time.monotonic()
        self.kvd.signal(signal.SIGTERM)
        rc = self.kvd.wait(5.0)
        self.assertIsNotNone(rc, "kvd did not exit within 5s of SIGTERM with idle connections")
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 5.0)
        for c in idle + [never_sent]:
            self.assertTrue(c.wait_closed(1.0), "idle connection left open after exit")

    def test_sigterm_on_quiet_server_exits_0(self):
        self.assertStatus(self.request("GET", "/healthz"), 200)
        self.kvd.signal(signal.SIGTERM)
        rc = self.kvd.wait(5.0)
        self.assertEqual(rc, 0, f"exit code {rc}\n{self.kvd.stderr()[-2000:]}")


class SigpipeTest(KvdTestCase):
    kvd_flags = ["--max-value-bytes=4194304"]

    def test_clients_that_vanish_do_not_kill_kvd(self):
        big = bytes(range(256)) * 8192  # 2 MB: the response cannot fit in socket buffers
        self.assertStatus(self.put("/big", big), 200)
        reqs = build_request("GET", "/big") * 5
        for i in range(20):
            c = HttpConn(self.port)
            c.send(reqs)
            if i % 2:
                c.close_with_reset()
            else:
                c.close()
        time.sleep(0.3)
        self.assertTrue(self.kvd.alive(), f"kvd died (SIGPIPE?) with code {self.kvd.proc.poll()}")
        r = self.get("/big")
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body), len(big))

    def test_client_closing_mid_response(self):
        big = b"z" * 3_000_000
        self.assertStatus(self.put("/big", big), 200)
        for _ in range(5):
            c = HttpConn(self.port)
            c.send(build_request("GET", "/big"))
            c.sock.recv(1000)  # the response has started
            c.close()
        time.sleep(0.3)
        self.assertTrue(self.kvd.alive(), f"kvd died with code {self.kvd.proc.poll()}")
        self.assertEqual(self.request("GET", "/healthz").status, 200)

    def test_connect_and_close_without_request(self):
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.close()
        self.assertEqual(self.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
