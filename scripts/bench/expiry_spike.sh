#!/usr/bin/env bash
# Does a million keys expiring at once show up as latency? Two kinds of run, interleaved:
#
#   mass  kvd --threads=1 --ttl=5s; load N keys (/0../N-1, value = the number, the requests of
#         scripts/bench/fill.py); then kvbench runs across the moment they all expire (from the end of
#         the load to ttl + 5 s after it)
#   base  the same with --ttl=10m: the same table, the same load, no mass expiry in the window
#
# For the keys to expire "at once" the load must be short. scripts/bench/fill.py parses every answer in
# Python (~3 µs of client CPU a key): on this 2-core machine, shared with other work, 8 of them in
# parallel took 7-21 s for 1M keys, longer than the TTL. So by default the load is fill.py's exact
# requests, generated before kvd starts and sent over 4 connections, 1000 per write, the answers
# only counted (`HTTP/1.1 200` status lines): ~1 s, bound by kvd. `--loader=fill.py` uses
# scripts/bench/fill.py instead (--fill-procs processes in parallel).
#
# kvd is pinned to CPU 1 (one reactor: the thread that reclaims the keys is the one serving the
# requests, the worst case) and kvbench to CPU 0. kvd_keys_expired_total is polled every 100 ms
# to show when the reclaiming happened. Reports kvbench's max latency, p99.9 and p99 per run and
# the medians, and writes the "expiry" section of docs/benchmarks.md.
#
#   scripts/bench/expiry_spike.sh [--keys=1000000] [--repeat=3] [--connections=20] [--pipelining=1]
#                           [--loader=bulk|fill.py] [--fill-procs=8] [--nice=N] [--no-build]
#
#   --nice  run kvd and kvbench under `nice -n N` (e.g. -10, to keep the other work on a shared
#           machine off their cores); results go to the section "expiry-nice", figures get `_nice`
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup expiry
keys=1000000 repeat=3 conns=20 pipe=1 procs=8 build=1 ttl=5 loader=bulk nice=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keys=*) keys=${1#*=} ;;
    --repeat=*) repeat=${1#*=} ;;
    --connections=*) conns=${1#*=} ;;
    --pipelining=*) pipe=${1#*=} ;;
    --fill-procs=*) procs=${1#*=} ;;
    --loader=*) loader=${1#*=} ;;
    --nice=*) nice=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
build_if "$build"

setup_tmp expiry
copy_bins kvd kvbench
set_pins "$nice"
expired() { metric "$1" kvd_keys_expired_total; }

: >"$tmp/rows"
run=0
if [ "$loader" = bulk ]; then
  cat >"$tmp/bulk.py" <<'PY'
# bulk.py HOST:PORT DIR: sends DIR/conn*.bin (requests in 1000-request chunks, lengths in
# DIR/conn*.idx) over one connection each, a chunk per write, waiting for its answers; prints the
# start and end times. Every answer must be a 200.
import glob, socket, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
files = sorted(glob.glob(sys.argv[2] + "/conn*.bin"))
blobs = [(open(f, "rb").read(), [int(x) for x in open(f[:-4] + ".idx").read().split()]) for f in files]
socks = [socket.create_connection((host, int(port))) for _ in blobs]
for s in socks:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
bad = []
def run(s, blob, idx):
    pos = 0
    status, ok = b"HTTP/1.1 ", b"HTTP/1.1 200 "
    for i in range(0, len(idx), 2):  # idx: (bytes, requests) of each chunk
        size, n = idx[i], idx[i + 1]
        s.sendall(blob[pos:pos + size])
        pos += size
        got = good = 0
        tail = b""
        while got + tail.count(status) < n:
            data = s.recv(1 << 20)
            if not data:
                bad.append("closed"); return
            chunk = tail + data
            got += chunk.count(status)
            good += chunk.count(ok)
            tail = chunk[-12:]
            got -= tail.count(status); good -= tail.count(ok)
        got += tail.count(status); good += tail.count(ok)
        if good != n:
            bad.append("non-200 answers"); return
t0 = time.time()
threads = [threading.Thread(target=run, args=(s, b, i)) for s, (b, i) in zip(socks, blobs)]
for t in threads: t.start()
for t in threads: t.join()
t1 = time.time()
if bad:
    sys.exit("bulk load: " + ", ".join(bad))
print(t0, t1)
PY
  mkdir -p "$tmp/load"
  python3 - "$keys" "$tmp/load" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
conns, chunk = 4, 1000
for c in range(conns):
    lo, hi = c * n // conns, (c + 1) * n // conns
    parts, idx = [], []
    for base in range(lo, hi, chunk):
        reqs = b"".join(b"POST /%d HTTP/1.1\r\nHost: kvd\r\nContent-Length: %d\r\n\r\n%d" % (i, len(b"%d" % i), i)
                        for i in range(base, min(hi, base + chunk)))
        parts.append(reqs)
        idx += [len(reqs), min(hi, base + chunk) - base]
    open(f"{d}/conn{c}.bin", "wb").write(b"".join(parts))
    open(f"{d}/conn{c}.idx", "w").write(" ".join(map(str, idx)))
PY
fi
for round in $(seq "$repeat"); do
  for mode in mass base burst; do
    run=$((run + 1))
    t=$ttl; [ "$mode" = base ] && t=600
    run_kvd "$tmp/kvd$run.log" "${SRV_PIN[@]}" -- --threads=1 --ttl="${t}s"
    kvd=$KVD_PID port=$KVD_PORT
    if [ "$loader" = bulk ]; then
      read -r t0 t1 < <(python3 "$tmp/bulk.py" "127.0.0.1:$port" "$tmp/load")
    else
      per=$(( (keys + procs - 1) / procs ))
      t0=$(date +%s.%N)
      fills=()
      for i in $(seq 0 $((procs - 1))); do
        start=$((i * per)) count=$per
        [ $((start + count)) -gt "$keys" ] && count=$((keys - start))
        python3 scripts/bench/fill.py "127.0.0.1:$port" "$count" "$start" >/dev/null &
        fills+=($!)
        pids+=($!)
      done
      for p in "${fills[@]}"; do wait "$p"; stop_pid "$p"; done
      t1=$(date +%s.%N)
    fi
    size=$(curl -s "http://127.0.0.1:$port/size")
    # kvbench from now until ttl + 5 s after the load ended: the expiry falls inside the window.
    dur=$((ttl + 5))
    python3 -c "import sys; sys.exit($t1 - $t0 >= $ttl)" ||
      say "warning: the load took longer than the TTL: some keys expired before kvbench started"
    e0=$(expired "$port")
    if [ "$mode" = burst ]; then
      # kvd stopped (SIGSTOP) until every key is due, so that all of them are due in the same
      # tick when it resumes; kvbench starts at the SIGCONT and runs 3 s.
      kill -STOP "$kvd"
      sleep "$(python3 -c "print(max(0.1, $t1 + $ttl + 0.5 - $(date +%s.%N)))")"
      kill -CONT "$kvd"
      dur=3
    fi
    ( while :; do echo "$(date +%s.%N) $(expired "$port")"; sleep 0.1; done ) >"$tmp/poll$run" 2>/dev/null &
    poller=$!
    pids+=("$poller")
    kb0=$(date +%s.%N)
    "${CLI_PIN[@]}" "$tmp/kvbench" --uri="http://127.0.0.1:$port" --duration="${dur}s" \
      --connections="$conns" --pipelining="$pipe" --json >"$tmp/kb$run.json"
    kb1=$(date +%s.%N)
    e1=$(expired "$port")
    stop_pid "$poller"
    stop_pid "$kvd"
    say "$mode round $round: loaded $size keys in $(python3 -c "print(round($t1 - $t0, 2))") s, kvbench ${dur} s, $((e1 - e0)) keys expired meanwhile"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$round" "$t0" "$t1" "$size" \
      "$kb0" "$kb1" "$e0" "$e1" "$tmp/kb$run.json" "$tmp/poll$run" >>"$tmp/rows"
  done
done

# The reclaiming itself, with nothing else to do: all N keys due in one tick (SIGSTOP until they
# are), then the reactor's CPU time (schedstat, ns) and the wall time until kvd_keys_expired_total
# has counted them all.
run_kvd "$tmp/kvd-r.log" "${SRV_PIN[@]}" -- --threads=1 --ttl="${ttl}s"
kvd=$KVD_PID port=$KVD_PORT
if [ "$loader" = bulk ]; then
  read -r t0 t1 < <(python3 "$tmp/bulk.py" "127.0.0.1:$port" "$tmp/load")
else
  t0=$(date +%s.%N); python3 scripts/bench/fill.py "127.0.0.1:$port" "$keys" >/dev/null; t1=$(date +%s.%N)
fi
task_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
kill -STOP "$kvd"
sleep "$(python3 -c "print(max(0.1, $t1 + $ttl + 0.5 - $(date +%s.%N)))")"
c0=$(task_ns "$kvd"); w0=$(date +%s.%N)
kill -CONT "$kvd"
for _ in $(seq 3000); do
  [ "$(expired "$port")" -ge "$keys" ] && break
  sleep 0.01
done
w1=$(date +%s.%N); c1=$(task_ns "$kvd")
stop_pid "$kvd"
echo "$keys $((c1 - c0)) $(python3 -c "print($w1 - $w0)")" >"$tmp/reclaim"
say "reclaim: $keys keys, $(( (c1 - c0) / keys )) ns of CPU a key"

python3 - "$tmp/rows" "$tmp/section.md" "$ttl" "$keys" "$conns" "$pipe" "$procs" "$(utc_date)" "$(kvd_version)" "$nice" "$loader" <<'PY'
import json, os, re, statistics, sys
rows_path, body_path, ttl, keys, conns, pipe, procs, date, version, nice, loader = sys.argv[1:]
suffix = "_nice" if nice else ""
ttl, keys = float(ttl), int(keys)
runs = []
for l in open(rows_path):
    mode, rnd, t0, t1, size, kb0, kb1, e0, e1, js, poll = l.rstrip("\n").split("\t")
    t0, t1, kb0, kb1 = map(float, (t0, t1, kb0, kb1))
    d = json.load(open(js))
    g, p = d["get"]["latency_us"], d["post"]["latency_us"]
    # when the reclaiming happened, from the 100 ms polls of kvd_keys_expired_total
    pts = [(float(a), int(b)) for a, b in (x.split() for x in open(poll) if len(x.split()) == 2)]
    span = ""
    if pts and pts[-1][1] - pts[0][1] >= keys // 2:
        # of the loaded keys (kvbench's own writes, and loaded keys it rewrote, expire later)
        lo = int(e0) + 0.01 * keys
        hi = int(e0) + 0.9 * keys
        a = next(t for t, n in pts if n >= lo)
        b = next(t for t, n in pts if n >= hi)
        span = f"{a - t0:.1f}–{b - t0:.1f} s"
    runs.append(dict(mode=mode, round=int(rnd), fill=t1 - t0, size=int(size), expired=int(e1) - int(e0),
                     start=kb0 - t0, end=kb1 - t0, span=span,
                     rps=(d["get"]["total"] + d["post"]["total"]) / d["duration"],
                     max=max(g["max"], p["max"]) / 1e3, p999=max(g["p99_9"], p["p99_9"]) / 1e3,
                     p99=max(g["p99"], p["p99"]) / 1e3, p50=g["p50"] / 1e3,
                     bad=sum(d[k]["errors"] + d[k]["non2xx"] + d[k]["timeouts"] for k in ("get", "post"))))
def med(mode, k):
    return statistics.median(r[k] for r in runs if r["mode"] == mode)
load_desc = (f"{keys:,} keys loaded over 4 connections with fill.py's requests (pre-generated, answers "
             f"counted, see the script's header)" if loader == "bulk" else
             f"{keys:,} keys loaded by {procs} `scripts/bench/fill.py` processes in parallel")
L = [f"## Expiry of a million keys at once, at `nice -n {nice}` (`scripts/bench/expiry_spike.sh --nice={nice}`)" if nice else
     "## Expiry of a million keys at once (`scripts/bench/expiry_spike.sh`)", "",
     f"Run {date}, kvd {version}, `--threads=1` pinned to CPU 1, kvbench pinned to CPU 0 at "
     f"{conns} connections x pipelining {pipe} (the seed workload){', both under `nice -n ' + nice + '`' if nice else ''}. "
     f"*mass*: `--ttl={ttl:g}s`, {load_desc}, then kvbench from the end of the load to {ttl:g} s + 5 s "
     f"after it, so every loaded key expires inside the measured window; *base*: the same with "
     f"`--ttl=10m` (same table, no expiry); *burst*: as *mass*, but kvd is stopped (`SIGSTOP`) from the "
     f"end of the load until every key is due and resumed (`SIGCONT`) as kvbench starts (3 s): all "
     f"the keys are due in the same tick, the worst case. Times are seconds from the start of the "
     f"load; 'reclaimed' is when 1% and 90% of the loaded keys had been counted as expired "
     f"(`kvd_keys_expired_total`, polled every 100 ms; the rest are keys kvbench rewrote, which expire "
     f"later, one by one).", "",
     "| run | load took | keys | kvbench window | keys expired in window | reclaimed | req/s | p50 ms | p99 ms | p99.9 ms | **max ms** | errors |",
     "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for r in runs:
    L.append(f"| {r['mode']} {r['round']} | {r['fill']:.2f} s | {r['size']:,} | {r['start']:.1f}–{r['end']:.1f} s | "
             f"{r['expired']:,} | {r['span'] or '—'} | {r['rps']:,.0f} | {r['p50']:.3f} | {r['p99']:.3f} | "
             f"{r['p999']:.3f} | **{r['max']:.3f}** | {r['bad']} |")
mm, bm, um = med("mass", "max"), med("base", "max"), med("burst", "max")
m9, b9, u9 = med("mass", "p999"), med("base", "p999"), med("burst", "p999")
m99, b99, u99 = med("mass", "p99"), med("base", "p99"), med("burst", "p99")
L += ["", "| medians | p99 ms | p99.9 ms | max ms |", "|---|---|---|---|",
      f"| mass expiry (deadlines spread over the load) | {m99:.3f} | {m9:.3f} | {mm:.3f} |",
      f"| burst (all due in one tick) | {u99:.3f} | {u9:.3f} | {um:.3f} |",
      f"| no expiry | {b99:.3f} | {b9:.3f} | {bm:.3f} |",
      f"| **added by the mass expiry** | {m99 - b99:+.3f} | {m9 - b9:+.3f} | **{mm - bm:+.3f}** |",
      f"| added by the burst | {u99 - b99:+.3f} | {u9 - b9:+.3f} | {um - bm:+.3f} |"]
rk, rns, rwall = open(os.path.join(os.path.dirname(rows_path), "reclaim")).read().split()
rk, rns, rwall = int(rk), int(rns), float(rwall)
per_key = rns / rk
# The budget as built (the slice length follows it).
budget = int(re.search(r"kExpireBudget = (\d+);", open("src/net/reactor.cc").read()).group(1))
L += ["", f"Reclaiming alone ({rk:,} keys due in the same tick, no clients): **{per_key:.0f} ns of reactor "
      f"CPU a key**, {rns / 1e6:.0f} ms in all and {rwall * 1e3:.0f} ms of wall time until "
      f"`kvd_keys_expired_total` had counted them all (CPU from `/proc/PID/task/*/schedstat`). At that "
      f"cost one slice of the reactor's expiry budget ({budget:,} entries per call, `kExpireBudget` in "
      f"src/net/reactor.cc) keeps the reactor from its sockets for about "
      f"**{per_key * budget / 1e6:.1f} ms**.", "",
      f"Reproduce: `scripts/bench/expiry_spike.sh{' --nice=' + nice if nice else ''}` (about 2 minutes).", ""]
figs = dict(expiry_max_ms=mm, expiry_base_max_ms=bm, expiry_p999_ms=m9, expiry_base_p999_ms=b9,
            expiry_burst_max_ms=um, expiry_burst_p999_ms=u9, expiry_fill_s=med("mass", "fill"),
            expiry_reclaim_ns_per_key=per_key, expiry_slice_ms=per_key * budget / 1e6, expiry_budget=budget)
L += [f"<!-- fig {k}{suffix}={v:.3f} -->" for k, v in figs.items()]
open(body_path, "w").write("\n".join(L) + "\n")
print("\n".join(l for l in L if l.startswith("| ") and "ms |" not in l))
PY
write_section "expiry${nice:+-nice}" "$tmp/section.md"
scripts/bench/bench.sh --targets-only
