"""kvfloor, the benchmarks' cost floor (tools/kvfloor): it must answer exactly one response per request,
however the requests are split across reads, and count them, or the floor figures in
docs/benchmarks.md would be wrong.

Needs KVFLOOR_BIN (default build/kvfloor) and, for the kvbench test, KVBENCH_BIN; each test is
skipped with the reason when a binary is missing. kvfloor is stopped by PID after every test.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KVFLOOR_BIN = os.environ.get("KVFLOOR_BIN") or os.path.join(ROOT, "build", "kvfloor")
KVBENCH_BIN = os.environ.get("KVBENCH_BIN") or os.path.join(ROOT, "kvbench")
RESPONSE = (b"HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 00:00:00 GMT\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n123456")


@unittest.skipUnless(os.access(KVFLOOR_BIN, os.X_OK), f"{KVFLOOR_BIN} not built")
class FloorTest(unittest.TestCase):
    ARGS: list[str] = []

    def setUp(self) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="kvfloor-", delete=False)
        self.addCleanup(os.unlink, self.log.name)
        self.proc = subprocess.Popen([KVFLOOR_BIN, "--port=0", "--threads=2", *self.ARGS], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self._stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = re.search(rb"Starting server on (\d+)", open(self.log.name, "rb").read())
            if m:
                self.port = int(m.group(1))
                return
            self.assertIsNone(self.proc.poll(), "kvfloor exited at start-up")
            time.sleep(0.02)
        self.fail("kvfloor did not start")

    def _stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def answered(self) -> int:
        before = open(self.log.name, "rb").read().count(b"answered ")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = re.findall(rb"answered (\d+)", open(self.log.name, "rb").read())
            if len(lines) > before:
                return int(lines[-1])
            time.sleep(0.02)
        self.fail("no count after SIGUSR1")

    def read_exactly(self, sock: socket.socket, n: int) -> bytes:
        data = b""
        sock.settimeout(5)
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            self.assertTrue(chunk, f"closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def test_one_answer_per_request_however_split(self) -> None:
        reqs = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i if i % 5 else
                        b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n124" % i
                        for i in range(50))
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(reqs)  # all in one write
            self.assertEqual(self.read_exactly(s, 50 * len(RESPONSE)), RESPONSE * 50)
            for i in range(0, len(reqs), 3):  # a few bytes at a time: request ends split across reads
                s.sendall(reqs[i:i + 3])
                time.sleep(0.0005)
            self.assertEqual(self.read_exactly(s, 50 * len(RESPONSE)), RESPONSE * 50)
            s.settimeout(0.2)
            with self.assertRaises(socket.timeout):  # nothing more than one answer per request
                s.recv(1)
        self.assertEqual(self.answered(), 100)

    @unittest.skipUnless(os.access(KVBENCH_BIN, os.X_OK), f"{KVBENCH_BIN} not built")
    def test_kvbench_sees_no_errors_and_the_counts_agree(self) -> None:
        out = subprocess.run([KVBENCH_BIN, f"--uri=http://127.0.0.1:{self.port}", "--duration=1s",
                              "--warmup=0s", "--connections=4", "--pipelining=10", "--json"],
                             capture_output=True, timeout=30, check=True).stdout
        d = json.loads(out)
        total = d["get"]["total"] + d["post"]["total"]
        self.assertGreater(total, 1000)
        for kind in ("get", "post"):
            self.assertEqual(d[kind]["errors"], 0)
            self.assertEqual(d[kind]["non2xx"], 0)
        # kvfloor's count covers every request it answered, including those in flight when
        # kvbench stopped (sent but not counted by the client): at most connections x pipelining.
        answered = self.answered()
        self.assertGreaterEqual(answered, total)
        self.assertLessEqual(answered - total, 4 * 10 * 2)


def resp_command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@unittest.skipUnless(os.access(KVFLOOR_BIN, os.X_OK), f"{KVFLOOR_BIN} not built")
class RespFloorTest(FloorTest):
    """kvfloor --resp (scripts/bench/resp_bench.sh's floor): one reply per RESP command, however the
    commands are split, payloads with CR, LF and '*' in them included."""

    ARGS = ["--resp"]

    def test_one_answer_per_request_however_split(self) -> None:
        cmds = [(resp_command(b"SET", b"key:%012d" % i, b"x\r\n*3\r\n$" * (i % 3)), b"+OK\r\n") if i % 4 == 0 else
                (resp_command(b"get", b"key:%012d" % i), b"$3\r\nxxx\r\n") if i % 4 == 1 else
                (resp_command(b"INCR", b"counter:%d" % i), b":1\r\n") if i % 4 == 2 else
                (resp_command(b"MSET", *[b"k%d" % j for j in range(20)]), b"+OK\r\n")
                for i in range(40)]
        cmds.append((b"PING\r\n", b"+PONG\r\n"))  # inline
        reqs = b"".join(c for c, _ in cmds)
        want = b"".join(r for _, r in cmds)
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(reqs)
            self.assertEqual(self.read_exactly(s, len(want)), want)
            for i in range(0, len(reqs), 3):  # headers and payloads split across reads
                s.sendall(reqs[i:i + 3])
                time.sleep(0.0005)
            self.assertEqual(self.read_exactly(s, len(want)), want)
            s.settimeout(0.2)
            with self.assertRaises(socket.timeout):
                s.recv(1)
        self.assertEqual(self.answered(), 2 * len(cmds))

    def test_kvbench_sees_no_errors_and_the_counts_agree(self) -> None:
        self.skipTest("HTTP only")


if __name__ == "__main__":
    unittest.main()
