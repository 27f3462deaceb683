"""Many connections and threads at once; one greedy client must not starve others."""
from __future__ import annotations

import random
import select
import socket
import threading
import time
import unittest

from kvdtest import HttpConn, KvdTestCase, build_request

N_THREADS = 8
WRITES_PER_THREAD = 200


def run_threads(target, n: int, timeout: float = 30.0) -> list[BaseException]:
    """Runs target(i) in n threads; returns the exceptions they raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        errors.append(TimeoutError(f"worker threads still running after {timeout}s"))
    return errors


def value_for(t: int, i: int) -> bytes:
    rnd = random.Random(t * 100003 + i)
    return b"t%d-i%d:" % (t, i) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300)))


def verify_all(test: KvdTestCase, conn: HttpConn, keys: dict[str, bytes]) -> None:
    """Pipelines a GET for every key and checks each value."""
    items = list(keys.items())
    conn.send(b"".join(build_request("GET", k) for k, _ in items))
    for k, v in items:
        r = conn.read_response()
        test.assertStatus(r, 200, f"GET {k}")
        test.assertEqual(r.body, v, f"value of {k}")


class ConcurrencyTest(KvdTestCase):

    def test_8_threads_x_200_writes(self):
        def writer(t):
            with HttpConn(self.port) as c:
                for i in range(WRITES_PER_THREAD):
                    v = value_for(t, i)
                    r = c.request("POST", f"/c{t}/{i}", v)
                    if r.status != 200 or r.body != v:
                        raise AssertionError(f"thread {t} write {i}: {r!r}")

        errors = run_threads(writer, N_THREADS)
        self.assertEqual(errors, [], f"writer errors: {errors[:3]}")
        expected = {f"/c{t}/{i}": value_for(t, i)
                    for t in range(N_THREADS) for i in range(WRITES_PER_THREAD)}
        c = self.connect()
        verify_all(self, c, expected)
        self.assertEqual(self.size(c), N_THREADS * WRITES_PER_THREAD)

    def test_concurrent_pipelined_writers(self):
        def writer(t):
            with HttpConn(self.port) as c:
                c.send(b"".join(build_request("PUT", f"/pp{t}/{i}", value_for(t, i))
                                for i in range(WRITES_PER_THREAD)))
                for i in range(WRITES_PER_THREAD):
                    r = c.read_response()
                    # Each key is new: a PUT that creates it is 201 (RFC 9110 9.3.4).
                    if r.status != 201 or r.body != value_for(t, i):
                        raise AssertionError(f"thread {t} response {i}: {r!r}")

        errors = run_threads(writer, N_THREADS)
        self.assertEqual(errors, [], f"writer errors: {errors[:3]}")
        self.assertEqual(self.size(), N_THREADS * WRITES_PER_THREAD)

    def test_no_torn_values_under_concurrent_overwrites(self):
        # Each value is self-describing (its length and a repeated byte), so a reader can tell
        # a torn or mixed value from a complete one.
        def make(t, i):
            n = 100 + (t * 37 + i * 101) % 5000
            return b"%06d" % n + bytes([65 + t]) * n

        stop = threading.Event()
        bad: list[bytes] = []

        def writer(t):
            with HttpConn(self.port) as c:
                for i in range(150):
                    r = c.request("POST", "/shared", make(t, i))
                    if r.status != 200:
                        raise AssertionError(f"write {t}/{i}: {r!r}")

        def reader(_):
            with HttpConn(self.port) as c:
                while not stop.is_set():
                    body = c.request("GET", "/shared").body
                    if body and not (len(body) >= 7 and body[:6].isdigit()
                                     and len(body) == 6 + int(body[:6])
                                     and body[6:] == body[6:7] * int(body[:6])):
                        bad.append(body[:40])

        reader_errors: list[BaseException] = []
        readers = threading.Thread(
            target=lambda: reader_errors.extend(run_threads(reader, 3)), daemon=True)
        readers.start()
        errors = run_threads(writer, 4)
        stop.set()
        readers.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(reader_errors, [])
        self.assertEqual(bad, [], f"torn values read: {bad[:3]}")


class MultiReactorTest(KvdTestCase):
    kvd_flags = ["--threads=2"]

    def test_written_on_one_connection_read_on_others(self):
        conns = [self.connect() for _ in range(8)]
        for i in range(40):
            w = conns[i % len(conns)]
            v = value_for(99, i)
            self.assertEqual(w.request("POST", f"/mr{i}", v).body, v)
            for j, rc in enumerate(conns):
                r = rc.request("GET", f"/mr{i}")
                self.assertEqual(r.body, v, f"key /mr{i} written on conn {i % 8}, read on conn {j}")
        for j, rc in enumerate(conns):
            self.assertEqual(self.size(rc), 40, f"/size on connection {j}")

    def test_delete_visible_everywhere(self):
        conns = [self.connect() for _ in range(6)]
        conns[0].request("POST", "/d", b"v")
        for c in conns:
            self.assertEqual(c.request("GET", "/d").body, b"v")
        self.assertStatus(conns[3].request("DELETE", "/d"), 204)
        for j, c in enumerate(conns):
            self.assertEqual(c.request("GET", "/d").body, b"", f"deleted key seen on conn {j}")
        self.assertStatus(conns[5].request("DELETE", "/d"), 404)

    def test_threads_writers_and_cross_readers(self):
        def writer(t):
            with HttpConn(self.port) as c:
                for i in range(100):
                    c.request("POST", f"/x{t}/{i}", value_for(t, i))

        self.assertEqual(run_threads(writer, 6), [])
        expected = {f"/x{t}/{i}": value_for(t, i) for t in range(6) for i in range(100)}
        for _ in range(4):  # several fresh connections, likely spread over both reactors
            with HttpConn(self.port) as c:
                verify_all(self, c, expected)


class FairnessTest(KvdTestCase):
    # One reactor, so the greedy client and the victim share it.
    kvd_flags = ["--threads=1"]

    def test_greedy_pipeliner_does_not_starve_others(self):
        value = bytes(random.Random(1).randrange(256) for _ in range(1024))
        self.assertStatus(self.put("/big", value), 200)
        one = build_request("GET", "/big")
        block = one * (1_000_000 // len(one))
        total = 20 * len(block)  # ~20 MB of requests, ~600k responses of 1 KB never read
        sent = [0]
        stop = threading.Event()
        flood = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        flood.setblocking(False)

        def flooder():
            view = memoryview(block)
            pos = 0
            while sent[0] < total and not stop.is_set():
                _, w, _ = select.select([], [flood], [], 0.1)
                if not w:
                    continue
                try:
                    n = flood.send(view[pos:])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                sent[0] += n
                pos = (pos + n) % len(block)

        th = threading.Thread(target=flooder, daemon=True)
        th.start()
        try:
            # Give the flood a head start, so the server is busy with it.
            deadline = time.monotonic() + 1.5
            while sent[0] < 2_000_000 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertGreater(sent[0], 0, "the flood could not send anything")
            worst = 0.0
            for i in range(5):
                t0 = time.monotonic()
                try:
                    with HttpConn(self.port, timeout=3.0) as c:
                        r = c.request("GET", "/big")
                        self.assertStatus(r, 200)
                        self.assertEqual(r.body, value)
                        self.assertStatus(c.request("POST", f"/victim{i}", b"v"), 200)
                except (socket.timeout, ConnectionError) as e:
                    self.fail(f"second client not served within 3s while a greedy client "
                              f"floods the same reactor ({sent[0]} bytes sent): {e}")
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.1)
            self.assertLess(worst, 2.0, f"a second client waited {worst:.2f}s behind the flood "
                                        f"({sent[0]} bytes sent by the flood)")
        finally:
            stop.set()
            th.join(5)
            flood.close()
        # The server survives the flood's abrupt close with ~GBs of pending responses.
        self.assertEqual(self.request("GET", "/victim4").body, b"v")


if __name__ == "__main__":
    unittest.main()
