"""tools/storebench, the store's scaling benchmark: the rows it promises, its JSON, its refusals.

Needs STOREBENCH_BIN (default build/storebench; `make test` builds it). Runs are tiny (1,000
keys, a fraction of a second each): what is checked is the shape and the accounting, never a speed.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STOREBENCH_BIN = os.environ.get("STOREBENCH_BIN") or os.path.join(ROOT, "build", "storebench")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([STOREBENCH_BIN, *args], capture_output=True, text=True, timeout=timeout)


@unittest.skipUnless(os.access(STOREBENCH_BIN, os.X_OK), f"{STOREBENCH_BIN} not built (make build/storebench)")
class StorebenchTest(unittest.TestCase):
    def test_rows_json_and_medians(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rows.json")
            p = run("--threads=1,2", "--shards=x1,3", "--keys=1000", "--seconds=0.1", "--repeat=3",
                    f"--json={path}")
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(path) as f:
                rows = json.load(f)
        # Per shard rule: 1 thread unlocked and locked, 2 threads locked, owned and handing off.
        self.assertEqual(len(rows), 10)
        shapes = [(r["threads"], r["shards"], r["locks"], r["owned"], r["handoff"]) for r in rows]
        self.assertEqual(shapes, [(1, 1, False, False, False), (1, 1, True, False, False), (2, 2, True, False, False),
                                  (2, 2, False, True, False), (2, 2, False, False, True),
                                  (1, 3, False, False, False), (1, 3, True, False, False), (2, 3, True, False, False),
                                  (2, 3, False, True, False), (2, 3, False, False, True)])
        for i, r in enumerate(rows):
            self.assertGreater(r["ops_per_sec"], 0)
            if not r["locks"]:
                # Unlocked and owned stores take no locks, so nothing can have waited.
                self.assertEqual(r["lock_waits"], 0, r)
                self.assertEqual(r["lock_wait_ms"], 0, r)
            if r["threads"] == 1 and not r["locks"]:
                self.assertAlmostEqual(r["speedup"], 1.0, places=3)
            else:  # over the same rule's unlocked 1-thread row, the first of its five
                base = rows[i - i % 5]
                self.assertAlmostEqual(r["speedup"], r["ops_per_sec"] / base["ops_per_sec"], places=2)
        # The table and the list of runs behind each median.
        self.assertIn("| threads | shards | locks |", p.stdout)
        self.assertIn("medians of 3 runs", p.stdout)
        self.assertEqual(p.stdout.count("none (store per thread)"), 2)
        self.assertEqual(p.stdout.count("none (hand-off to the owner)"), 2)
        self.assertEqual(p.stderr.count("round"), 3)

    def test_handoff_with_more_threads_than_cpus(self) -> None:
        # Threads that poll for their answers must still finish when they share CPUs: a thread that
        # waits serves the others' requests, and none leaves while another may answer into it.
        for threads in ("3", "4"):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "rows.json")
                p = run(f"--threads={threads}", "--shards=x2", "--keys=2000", "--seconds=0.2", "--owned=false",
                        "--batch=128", f"--json={path}")
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(path) as f:
                    rows = json.load(f)
            self.assertEqual([(r["threads"], r["locks"], r["handoff"]) for r in rows],
                             [(int(threads), True, False), (int(threads), False, True)])
            self.assertGreater(rows[1]["ops_per_sec"], 0)
            self.assertEqual(rows[1]["lock_waits"], 0)

    def test_bad_flags_are_refused(self) -> None:
        for args, msg in ((["--threads=0"], "bad --threads entry"), (["--threads=x"], "bad --threads entry"),
                          (["--shards=x0"], "bad --shards entry"), (["--shards=y2"], "bad --shards entry"),
                          (["--repeat=0"], "--repeat must be 1..100"), (["--keys=0"], "must be positive"),
                          (["--get-percent=101"], "--get-percent 0..100"), (["--seconds=0"], "must be positive"),
                          (["--batch=129"], "--batch at most 128"), (["--keys=1000000000000001"], "--keys must be at most")):
            p = run(*args, "--seconds=0.1" if "--seconds=0" not in args else "--keys=10", timeout=20)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertIn(msg, p.stderr, args)


if __name__ == "__main__":
    unittest.main()
