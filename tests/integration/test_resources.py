"""Resource exhaustion and data safety (project issue 4).

  - descriptors: kvd under `prlimit --nofile=64:64` with more clients than descriptors keeps
    serving the connections it has, does not spin while it cannot accept (CPU time over 2 s of
    exhaustion, from /proc/PID/stat), and accepts again once descriptors free up;
  - --max-connections=50: the 51st connection is closed by kvd and counted in
    kvd_connections_rejected_total;
  - --max-memory=8M under a write flood of 50k distinct keys with 200-byte values: every write
    answered 200, keys evicted, kvd_memory_reserved_bytes <= the limit, RSS bounded (the size
    shift, refused writes and eviction's choices are in test_memory.py);
  - data safety: concurrent writers and readers on many connections; every read returns the
    latest acknowledged write of its key (or one still in flight), never an older one, a
    value never written, or corrupted bytes;
  - graceful shutdown: pipelined bursts, then SIGTERM: every request received is answered.

Python 3.11 stdlib only; the helpers of kvdtest.py and test_adversarial.py.
"""
from __future__ import annotations

import fcntl
import os
import random
import signal
import socket
import stat
import struct
import tempfile
import termios
import threading
import time
import unittest
import zlib

from kvdtest import KVD_BIN, SANITIZED, ConnectionClosed, HttpConn, KvdTestCase, build_request
from test_adversarial import Prober, proc_stat, raise_nofile, scrape


class FdExhaustionTest(KvdTestCase):
    start_kvd = False

    def _start_limited(self, nofile: int, flags: list[str]):
        """kvd with RLIMIT_NOFILE soft = hard = nofile (kvd raises soft to hard; hard is fixed),
        through a wrapper that execs prlimit, which execs kvd: the PID is kvd's."""
        d = tempfile.mkdtemp()
        wrapper = os.path.join(d, "kvd-limited")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec prlimit --nofile={nofile}:{nofile} {KVD_BIN} "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        from kvdtest import Kvd
        k = Kvd(flags, binary=wrapper).start()
        self.addCleanup(self._stop_server, k)
        self.addCleanup(lambda: (os.remove(wrapper), os.rmdir(d)))
        return k

    def test_more_clients_than_descriptors(self):
        raise_nofile(4096)
        self.kvd = self._start_limited(64, ["--threads=1"])
        pid = self.kvd.pid()
        with open(f"/proc/{pid}/limits") as f:
            self.assertRegex(f.read(), r"Max open files\s+64\s+64")
        self.assertStatus(self.put("/seed", b"v"), 200)
        n = 100
        clients = []
        for _ in range(n):  # the kernel completes these handshakes; kvd accepts what it can
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            clients.append(s)
        for s in clients:
            s.sendall(build_request("GET", "/seed"))
        time.sleep(0.5)

        def answered(s: socket.socket, wait: float) -> bool:
            s.settimeout(wait)
            try:
                data = s.recv(4096)
            except socket.timeout:
                return False
            except OSError:
                return False
            return data.startswith(b"HTTP/1.1 200 ")

        served = [s for s in clients if answered(s, 0.05)]
        waiting = [s for s in clients if s not in served]
        self.assertGreater(len(served), 40, "kvd should serve the connections it could accept")
        self.assertGreater(len(waiting), 20, "test setup: kvd should be out of descriptors")
        # Out of descriptors for 2 s: kvd must not spin on the listener.
        cpu0, _ = proc_stat(pid)
        t0 = time.monotonic()
        for s in served:  # the connections it has are still served meanwhile
            s.sendall(build_request("GET", "/seed"))
            self.assertTrue(answered(s, 1.0), "an accepted connection stopped being served")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))
        cpu1, _ = proc_stat(pid)
        self.assertLess(cpu1 - cpu0, 0.5, f"kvd used {cpu1 - cpu0:.2f}s CPU in 2s of fd exhaustion")
        warnings = self.kvd.stderr().count("pausing accepts")
        self.assertLess(warnings, 100, f"{warnings} accept warnings: kvd is retrying too often")
        # Free descriptors: the waiting clients are accepted and answered.
        for s in served:
            s.close()
        t0 = time.monotonic()
        late = [s for s in waiting if not answered(s, max(0.05, 3.0 - (time.monotonic() - t0)))]
        self.assertEqual(len(late), 0, f"{len(late)} of {len(waiting)} waiting clients were not "
                                       f"served after descriptors were freed")
        for s in waiting:
            s.close()
        self.assertTrue(self.kvd.alive())
        self.assertEqual(self.get("/seed").body, b"v")


class MaxConnectionsTest(KvdTestCase):
    kvd_flags = ["--max-connections=50"]

    def test_51st_connection_is_closed_and_counted(self):
        self.assertStatus(self.put("/seed", b"v"), 200)
        time.sleep(0.2)
        conns = [HttpConn(self.port) for _ in range(50)]
        try:
            for c in conns:  # each one accepted and served
                self.assertEqual(c.request("GET", "/seed").body, b"v")
            extra = HttpConn(self.port)
            extra.try_send(build_request("GET", "/seed"))
            self.assertTrue(extra.wait_closed(3.0), "the 51st connection was not closed")
            self.assertEqual(bytes(extra.buf), b"", "the 51st connection was answered")
            extra.close()
            for c in conns[:5]:  # the 50 are unaffected
                self.assertEqual(c.request("GET", "/seed").body, b"v")
            conns[-1].close()
            conns.pop()
            time.sleep(0.3)  # kvd notices the close
            m = scrape(self.port)  # the 50th slot again
            self.assertEqual(m["kvd_connections_rejected_total"], 1)
            self.assertLessEqual(m['kvd_connections_open{protocol="http"}'], 50)
        finally:
            for c in conns:
                c.close()


class MaxMemoryTest(KvdTestCase):
    kvd_flags = ["--max-memory=8M", "--ttl=20s"]

    def test_write_flood_stays_within_max_memory(self):
        n_keys, value_len, n_threads, depth = 50000, 200, 4, 500
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        errors: list[str] = []
        rss_samples: list[int] = []
        pid = self.kvd.pid()

        def writer(t: int) -> None:
            try:
                with HttpConn(self.port, timeout=10) as c:
                    keys = range(t, n_keys, n_threads)
                    for start in range(0, len(keys), depth):
                        batch = keys[start:start + depth]
                        c.send(b"".join(build_request("POST", f"/flood-{k}", b"%0200d" % k) for k in batch))
                        for k in batch:
                            r = c.read_response()
                            with lock:
                                statuses[r.status] = statuses.get(r.status, 0) + 1
                            if r.status == 200 and r.body != b"%0200d" % k:
                                errors.append(f"wrong echo for {k}")
            except (OSError, ConnectionClosed) as e:
                errors.append(f"writer {t}: {e}")

        with Prober(self.port, "/healthz", b"ok", interval=0.2) as prober:
            threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
            for th in threads:
                th.start()
            while any(th.is_alive() for th in threads):
                rss_samples.append(proc_stat(pid)[1])
                time.sleep(0.1)
            for th in threads:
                th.join()
        self.assertEqual(errors[:5], [])
        self.assertEqual(statuses, {200: n_keys}, "every write of the flood is answered 200")
        m = scrape(self.port)
        limit = 8 << 20
        self.assertEqual(m["kvd_memory_limit_bytes"], limit)
        self.assertGreater(m['kvd_keys_evicted_total{reason="unread"}'], 0)
        self.assertLessEqual(m["kvd_memory_reserved_bytes"], limit)
        self.assertLessEqual(m["kvd_memory_used_bytes"], m["kvd_memory_reserved_bytes"])
        self.assertLess(m["cache_size"], n_keys)
        rss_samples.append(proc_stat(pid)[1])
        if not SANITIZED:
            self.assertLess(max(rss_samples), 64 << 20, f"RSS reached {max(rss_samples) >> 20} MiB")
        # The newest keys survive: none was read, so the oldest writes went first.
        self.assertEqual(self.get(f"/flood-{n_keys - 1}").body, b"%0200d" % (n_keys - 1))
        prober.check(self, "write flood")

    def test_long_ttl_flood_evicts_oldest_first(self):
        """Keys never read leave in the order they came, whatever the TTL (here 10 min, beyond the
        wheel's near ring): the newest writes survive."""
        k = self.start_server(["--max-memory=8M", "--ttl=10m"])
        n = 50000
        with HttpConn(k.port, timeout=20) as c:
            for start in range(0, n, 500):
                batch = range(start, min(n, start + 500))
                c.send(b"".join(build_request("POST", f"/f-{i}", b"%0200d" % i) for i in batch))
                for _ in batch:
                    c.read_response()
            c.send(b"".join(build_request("GET", f"/f-{i}") for i in range(n - 1000, n)))
            newest = sum(1 for _ in range(1000) if c.read_response().body)
        self.assertGreater(newest, 900, f"only {newest} of the 1000 newest keys survived")


def value_of(key: str, seq: int) -> bytes:
    """The value a writer stores as write number `seq` of `key`: self-describing and checksummed,
    so a read can tell which write it sees and whether its bytes are intact."""
    rnd = random.Random(zlib.crc32(key.encode()) ^ seq)
    payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300)))
    head = f"{key}|{seq}|{zlib.crc32(payload)}|".encode()
    return head + payload


def parse_value(body: bytes) -> tuple[str, int, bool]:
    key, seq, crc, payload = body.split(b"|", 3)
    return key.decode(), int(seq), zlib.crc32(payload) == int(crc)


class DataSafetyTest(KvdTestCase):
    kvd_flags = ["--ttl=10m", "--threads=2", "--shards=4"]

    def test_reads_see_the_latest_acknowledged_write(self):
        n_writers, n_readers, keys_per_writer, duration = 8, 8, 25, 5.0
        keys = {w: [f"/w{w}/k{i}" for i in range(keys_per_writer)] for w in range(n_writers)}
        all_keys = [k for ks in keys.values() for k in ks]
        sent = {k: 0 for k in all_keys}   # highest seq sent (maybe not yet acknowledged)
        acked = {k: 0 for k in all_keys}  # highest seq acknowledged with 200
        lock = threading.Lock()
        stop = threading.Event()
        violations: list[str] = []
        counts = {"writes": 0, "reads": 0}

        def writer(w: int) -> None:
            depth = 1 if w % 2 == 0 else 8
            rnd = random.Random(w)
            with HttpConn(self.port, timeout=10) as c:
                while not stop.is_set():
                    batch = []
                    for _ in range(depth):
                        k = rnd.choice(keys[w])
                        with lock:
                            sent[k] += 1
                            batch.append((k, sent[k]))
                    c.send(b"".join(build_request("PUT" if s % 3 else "POST", k, value_of(k, s))
                                    for k, s in batch))
                    for k, s in batch:
                        r = c.read_response()
                        # A PUT that creates the key (its first write: only this writer writes
                        # it, and the TTL outlasts the test) is 201, any other write 200.
                        want = 201 if s == 1 and s % 3 else 200
                        if r.status != want or r.body != value_of(k, s):
                            violations.append(f"write {k}#{s}: {r.status}")
                            continue
                        with lock:
                            acked[k] = max(acked[k], s)  # in order per key anyway
                            counts["writes"] += 1

        def reader(i: int) -> None:
            depth = 1 if i % 2 == 0 else 4
            rnd = random.Random(1000 + i)
            with HttpConn(self.port, timeout=10) as c:
                while not stop.is_set():
                    batch = [rnd.choice(all_keys) for _ in range(depth)]
                    with lock:
                        floors = [acked[k] for k in batch]
                    c.send(b"".join(build_request("GET", k) for k in batch))
                    for k, floor in zip(batch, floors):
                        r = c.read_response()
                        with lock:
                            ceiling = sent[k]
                            counts["reads"] += 1
                        if r.status != 200:
                            violations.append(f"read {k}: status {r.status}")
                            continue
                        if not r.body:
                            if floor > 0:
                                violations.append(f"read {k}: empty, but write #{floor} was acknowledged")
                            continue
                        key, seq, intact = parse_value(r.body)
                        if key != k or not intact or r.body != value_of(k, seq):
                            violations.append(f"read {k}: corrupted or foreign value {r.body[:40]!r}")
                        elif seq < floor:
                            violations.append(f"read {k}: stale #{seq}, #{floor} was acknowledged before the read")
                        elif seq > ceiling:
                            violations.append(f"read {k}: #{seq} was never written (last sent #{ceiling})")

        errors: list[BaseException] = []

        def wrap(f, i):
            try:
                f(i)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                stop.set()

        threads = [threading.Thread(target=wrap, args=(writer, w)) for w in range(n_writers)]
        threads += [threading.Thread(target=wrap, args=(reader, i)) for i in range(n_readers)]
        for t in threads:
            t.start()
        time.sleep(duration)
        stop.set()
        for t in threads:
            t.join(15)
        self.assertEqual(errors, [])
        self.assertEqual(violations[:10], [], f"{len(violations)} violations")
        self.assertGreater(counts["writes"], 1000)
        self.assertGreater(counts["reads"], 1000)
        # At rest, from fresh connections: every key holds exactly its last acknowledged write.
        with HttpConn(self.port) as c:
            c.send(b"".join(build_request("GET", k) for k in all_keys))
            for k in all_keys:
                r = c.read_response()
                want = value_of(k, acked[k]) if acked[k] else b""
                self.assertEqual(r.body, want, f"{k}: not its last acknowledged write #{acked[k]}")


def unsent(sock: socket.socket) -> int:
    """Bytes in a socket's send queue not yet acknowledged by the peer (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


class GracefulShutdownTest(KvdTestCase):
    kvd_flags = ["--shutdown-timeout=5s"]

    def test_pipelined_bursts_then_sigterm_all_answered(self):
        n_conns, n_reqs = 10, 3000  # 3000 requests of ~55 bytes: more than one 64 KiB read
        conns, bursts = [], []
        for i in range(n_conns):
            c = HttpConn(self.port, timeout=10)
            reqs = []
            for j in range(n_reqs):
                if j % 4 == 0:
                    reqs.append(build_request("POST", f"/c{i}/k{j}", b"v%d" % j))
                else:
                    reqs.append(build_request("GET", f"/c{i}/k{j - j % 4}"))
            bursts.append(b"".join(reqs))
            conns.append(c)
        for c, b in zip(conns, bursts):
            c.send(b)
        # SIGTERM as soon as kvd's kernel has acknowledged every byte (nothing left in our send
        # queues): all of it is "received", though kvd has usually not read it all yet.
        deadline = time.monotonic() + 3
        while any(unsent(c.sock) for c in conns) and time.monotonic() < deadline:
            time.sleep(0.001)
        self.kvd.signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            for j in range(n_reqs):
                try:
                    r = c.read_response()
                except (ConnectionClosed, OSError) as e:
                    self.fail(f"connection {i}: only {j} of {n_reqs} requests answered before the close: {e}")
                want = b"v%d" % (j - j % 4)
                self.assertEqual((r.status, r.body), (200, want), f"connection {i} request {j}")
            self.assertTrue(c.wait_closed(5), f"connection {i} not closed after the last answer")
            c.close()
        self.assertEqual(self.kvd.wait(6), 0, "kvd did not exit 0 after SIGTERM")


class ShutdownUnderBackpressureTest(KvdTestCase):
    kvd_flags = ["--max-output-bytes=64K", "--shutdown-timeout=5s"]

    def test_sigterm_while_a_pipeline_waits_for_the_client_to_read(self):
        """A client pipelines 2000 GETs (90 KB, more than one read) of a 16 KB value (32 MB of
        answers, more than the kernel buffers) and does not read: kvd answers some, stops
        reading (output backpressure), the rest waits in its socket buffer. SIGTERM, then the
        client reads: every request it sent is answered."""
        value = bytes(range(256)) * 64
        self.assertStatus(self.put("/v", value), 200)
        n = 2000
        c = HttpConn(self.port, timeout=10)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
        c.send(build_request("GET", "/v") * n)
        deadline = time.monotonic() + 3
        while unsent(c.sock) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.3)  # kvd has answered what fits and paused
        self.kvd.signal(signal.SIGTERM)
        for i in range(n):
            try:
                r = c.read_response()
            except (ConnectionClosed, OSError) as e:
                self.fail(f"only {i} of {n} requests answered after SIGTERM: {e}")
            self.assertEqual((r.status, r.body), (200, value), f"request {i}")
        self.assertTrue(c.wait_closed(5))
        c.close()
        self.assertEqual(self.kvd.wait(6), 0, "kvd did not exit 0 after SIGTERM")


if __name__ == "__main__":
    unittest.main()
