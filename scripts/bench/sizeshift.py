#!/usr/bin/python3
"""Writes phase after phase of values of one size to random keys of a live server, over one
pipelined connection on 127.0.0.1, sampling the server's VmRSS about every 100 ms.

  sizeshift.py --server=kvd|redis|memcached --port=PORT --pid=PID --budget=BYTES --csv=FILE
               [--steady] [--phase-bytes=BYTES] [--seed=1] [--batch=64] [--max-seconds=900]

Phases: values of 100, 300, 900, 2700, 6000 and again 100 bytes, --phase-bytes of them each
(default 64 MiB); with --steady, 5 phases of --budget bytes each of values of 999, 1000 and 1001
bytes in turn. Keys "k<id>" (kvd: the path "/k<id>"), id uniform in [0, 1000000) from Python's
random.Random(seed); values as in scripts/bench/lookaside.py. Every answer is checked: stored (kvd: 200
echoing the value), or the server's "cannot store" (kvd 507, Redis -OOM, memcached
SERVER_ERROR), which is counted; anything else stops the run (exit 1). After the last phase the
sampling goes on for one idle second (phase "after").

Appends "server,t_s,phase,rss_mib" rows to --csv; prints one JSON object: the RSS before the first
write, and per phase the writes, refusals, the maximum and last RSS, and the server's keys and own
memory figure at its end.
"""
import argparse
import json
import random
import sys
import time

from lookaside import SERVERS, Conn, ProtocolError, rss_kib, value_of

KEYS = 1000000


def phases(steady, budget, phase_bytes):
    if steady:
        return [(f"1000 B x{i + 1}", (999, 1000, 1001), budget) for i in range(5)]
    return [(f"{s} B" + (" again" if i == 5 else ""), (s,), phase_bytes)
            for i, s in enumerate((100, 300, 900, 2700, 6000, 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, choices=sorted(SERVERS))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--budget", type=int, required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--steady", action="store_true")
    ap.add_argument("--phase-bytes", type=int, default=64 << 20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    conn = Conn(a.port)
    proto = SERVERS[a.server](conn)
    csv = open(a.csv, "a")
    start = time.monotonic()
    next_sample = start
    start_rss = rss_kib(a.pid)
    out = {"server": a.server, "start_rss_kib": start_rss, "phases": []}

    def sample(phase, stats):
        nonlocal next_sample
        now = time.monotonic()
        if now < next_sample:
            return
        next_sample = now + 0.1
        rss = rss_kib(a.pid)
        stats["max_rss_kib"] = max(stats.get("max_rss_kib", 0), rss)
        stats["end_rss_kib"] = rss
        csv.write(f"{a.server},{now - start:.2f},{phase},{rss / 1024:.2f}\n")

    try:
        for name, sizes, total in phases(a.steady, a.budget, a.phase_bytes):
            st = {"phase": name, "t_start": round(time.monotonic() - start, 2), "writes": 0, "refused": 0}
            n = total // (sum(sizes) // len(sizes))
            sample(name, st)
            i = 0
            while i < n:
                if time.monotonic() - start > a.max_seconds:
                    raise ProtocolError("out of time in phase " + name)
                batch = []
                for _ in range(min(a.batch, n - i)):
                    key = b"k%d" % rng.randrange(KEYS)
                    batch.append((key, value_of(key, sizes[i % len(sizes)])))
                    i += 1
                conn.send(b"".join(proto.set_req(k, v) for k, v in batch))
                for k, v in batch:
                    st["writes"] += 1
                    st["refused"] += not proto.set_answer(k, v)
                sample(name, st)
            next_sample = 0  # one sample at the very end of every phase
            sample(name, st)
            st.update(proto.stats())
            st["t_end"] = round(time.monotonic() - start, 2)
            out["phases"].append(st)
        idle = {"phase": "after"}
        while time.monotonic() - start < out["phases"][-1]["t_end"] + 1:
            sample("after", idle)
            time.sleep(0.02)
        out["after_rss_kib"] = idle.get("end_rss_kib", 0)
    except (ProtocolError, OSError) as e:
        sys.exit(f"sizeshift.py: {a.server}: {e}")
    conn.close()
    csv.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
