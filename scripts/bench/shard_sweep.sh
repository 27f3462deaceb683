#!/usr/bin/env bash
# The store's shard locks end to end: one kvd per --shards value, all at one reactor count
# (default 2), driven in turn by kvbench (the seed's workload: 80% GET / 20% POST on random keys
# of 1M, pipelined), rounds interleaved so that a disturbance lands on one round rather than on
# one shard count. A row per shard count, medians of the rounds: requests/s, server CPU per
# request, lock waits per request and the share of the server's CPU time spent waiting
# (kvd_store_lock_waits_total, kvd_store_lock_wait_seconds_total).
#
# store_scaling.sh shows what the shard count does to the store alone with two threads (at one
# shard a thread the locks contend most); this shows how much of that reaches a request, which is
# what decides whether a lock-free design (hand-off to an owner reactor) would pay.
#
#   scripts/bench/shard_sweep.sh [--threads=2] [--shards=2,8,32,128] [--duration=5] [--repeat=3]
#                                [--connections=N] [--pipelining=10] [--doc] [--no-build]
#
#   --connections  default: 20 a reactor, as scaling.sh
#   --doc          also rewrites the "shard-sweep" section of docs/benchmarks.md
#
# kvd and kvbench share the machine's CPUs (every row alike). ~(counts x repeat x (duration + 3)) s.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup shard-sweep
threads=2 shards_arg=2,8,32,128 duration=5 repeat=3 conns="" pipelining=10 doc=0 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads=*) threads=${1#*=} ;;
    --shards=*) shards_arg=${1#*=} ;;
    --duration=*) duration=${1#*=} ;;
    --repeat=*) repeat=${1#*=} ;;
    --connections=*) conns=${1#*=} ;;
    --pipelining=*) pipelining=${1#*=} ;;
    --doc) doc=1 ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs python3 curl /usr/bin/time=time
need_positive --threads "$threads"
need_positive --duration "$duration"
need_positive --repeat "$repeat"
need_positive --pipelining "$pipelining"
[ -z "$conns" ] || need_positive --connections "$conns"
conns=${conns:-$((20 * threads))}
IFS=, read -ra counts <<<"$shards_arg"
for s in "${counts[@]}"; do need_positive --shards "$s"; done

build_if "$build"
setup_tmp shard-sweep
copy_bins kvd kvbench
declare -A PID PORT
for s in "${counts[@]}"; do
  run_kvd "$tmp/kvd$s.log" -- --threads="$threads" --shards="$s"
  PID[$s]=$KVD_PID PORT[$s]=$KVD_PORT
  say "kvd --threads=$threads --shards=$s: pid $KVD_PID port $KVD_PORT"
done
# requests, lock waits and lock wait seconds so far
server_counts() {
  metrics "${PORT[$1]}" | awk '/^api_requests_total/ {r += $2} /^kvd_store_lock_waits_total/ {w = $2}
    /^kvd_store_lock_wait_seconds_total/ {ws = $2} END {printf "%d %d %s\n", r, w, ws}'
}
bench() {  # bench SHARDS DURATION [more kvbench flags]
  local s=$1 d=$2; shift 2
  "$tmp/kvbench" --uri="http://127.0.0.1:${PORT[$s]}" --duration="${d}s" --connections="$conns" \
    --pipelining="$pipelining" --threads="$(nproc)" "$@"
}
for s in "${counts[@]}"; do say "warm-up, --shards=$s"; bench "$s" 2 >/dev/null; done

RESULTS=$tmp/results.tsv
: >"$RESULTS"
for round in $(seq "$repeat"); do
  for s in "${counts[@]}"; do
    pid=${PID[$s]} o=$tmp/r$round-$s.json
    c0=$(proc_cpu_total "$pid"); n0=$(server_counts "$s"); t0=$(now)
    bench "$s" "$duration" --json >"$o"
    t1=$(now); n1=$(server_counts "$s"); c1=$(proc_cpu_total "$pid")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$round" "$t0 $t1" "$c0 $c1" "$n0" "$n1" "$o" | tr ' ' '\t' >>"$RESULTS"
    say "round $round, --shards=$s done"
  done
done

TABLE=$tmp/table.md
python3 - "$RESULTS" "$TABLE" "$(getconf CLK_TCK)" "$threads" "$conns" "$pipelining" "$duration" "$repeat" \
  "$(kvd_version)" "$(utc_date)" "$(nproc)" "$shards_arg" <<'PY'
import json, statistics, sys
(results, table_out, hz, threads, conns, pipe, duration, repeat, version, date, ncpu,
 shards_arg) = sys.argv[1:]
hz = int(hz)
runs = {}
for line in open(results):
    s, rnd, t0, t1, c0, c1, r0, w0, ws0, r1, w1, ws1, path = line.rstrip("\n").split("\t")
    rep = json.load(open(path))
    req = int(r1) - int(r0)
    cpu = (int(c1) - int(c0)) / hz
    runs.setdefault(int(s), []).append({
        "rps": rep["requests_per_sec"], "cpu_us": cpu / req * 1e6 if req else None,
        "waits_per_req": (int(w1) - int(w0)) / req if req else None,
        "wait_share": (float(ws1) - float(ws0)) / cpu if cpu else None,
        "errors": rep["errors"]["total"]})
med = lambda rs, k: statistics.median(r[k] for r in rs if r[k] is not None)
L = [f"Run {date}, kvd {version}, {ncpu} CPUs: kvd `--threads={threads}` at each `--shards`, kvbench with "
     f"{conns} connections, pipelining {pipe}, 80% GET / 20% POST over 1M keys, {duration} s a run, medians of "
     f"{repeat} interleaved round(s); kvd and kvbench share the CPUs. Lock waits are acquisitions that found "
     f"the shard's lock held (`kvd_store_lock_waits_total`); the wait share is "
     f"`kvd_store_lock_wait_seconds_total` over kvd's CPU time.",
     "",
     "| shards | requests/s | server CPU µs / request | lock waits / request | CPU time waiting |",
     "|---|---|---|---|---|"]
figs = []
for s in sorted(runs):
    rs = runs[s]
    rps, cpu, wpr, share = med(rs, "rps"), med(rs, "cpu_us"), med(rs, "waits_per_req"), med(rs, "wait_share")
    L.append(f"| {s} | {rps:,.0f} | {cpu:.3f} | {wpr:.4f} | {100 * share:.2f}% |")
    figs += [f"<!-- fig shard_sweep_rps_{s}s={rps:.0f} -->", f"<!-- fig shard_sweep_cpu_{s}s={cpu:.3f} -->",
             f"<!-- fig shard_sweep_waits_{s}s={wpr:.5f} -->"]
L.append("")
L.append("The runs' requests/s, lowest to highest: " + "; ".join(
    f"{s} shards " + " ".join(f"{r['rps'] / 1e6:.3f}M" for r in sorted(runs[s], key=lambda r: r["rps"]))
    for s in sorted(runs)) + ".")
L.append(f"kvbench errors in all runs: {sum(r['errors'] for rs in runs.values() for r in rs)}.")
L.append("")
L.append(f"Reproduce: `scripts/bench/shard_sweep.sh --threads={threads} --shards={shards_arg} "
         f"--duration={duration} --repeat={repeat} --doc`.")
L.append("")
L += figs
open(table_out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY

if [ "$doc" = 1 ]; then
  { echo "## The shard locks end to end (\`scripts/bench/shard_sweep.sh\`)"; echo; cat "$TABLE"; } >"$tmp/section.md"
  write_section shard-sweep "$tmp/section.md"
  say "wrote the shard-sweep section of docs/benchmarks.md"
fi
