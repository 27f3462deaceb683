#!/usr/bin/env bash
# Look-aside hit ratio of the real servers at a 64 MB budget, on the traces build/cachesim writes
# (Zipf over 1,000,000 keys, values 64..1024 bytes fixed per key; tools/cachesim/trace.h has the
# exact definition), kvd, Redis and memcached in one run, each server fresh for each workload:
#
#   kvd        ./kvd --threads=1 --max-memory=64M --ttl=1h  (GET /k<id>; a miss: POST /k<id>)
#   Redis      redis-server --maxmemory 64mb --maxmemory-policy allkeys-lru --save '' --appendonly no
#   memcached  memcached -m 64  (text protocol get/set)
#
# The client (scripts/bench/lookaside.py, one connection, batches of 32 GETs of distinct keys then the
# SETs of their misses, every answer checked) reports per run: the hit ratio over the non-scan GETs
# (all, and the second half: after the scan), the keys held at the end (kvd /size, Redis DBSIZE,
# memcached curr_items), VmRSS at the end, and the server's own figures (kvd_memory_used_bytes and
# kvd_memory_reserved_bytes when kvd has it; Redis used_memory; memcached bytes / limit_maxbytes).
# Beside them, cachesim's replay of the same trace at the same budget (fifo: kvd's policy today;
# lru; sieve; s3fifo), under its byte model.
#
#   scripts/bench/lookaside.sh [--workloads=0.99,0.99+scan,0.8,0.8+scan] [--requests=2000000]
#                        [--servers=kvd,redis,memcached] [--json=build/lookaside.json]
#                        [--doc] [--note=TEXT] [--no-build]
#
#   --workloads  Zipf exponents; "+scan" adds the one-shot scan (20% of --requests, new keys)
#   --requests   Zipf requests per trace (smaller for a quick run: 200000 takes ~1 min)
#   --doc        write the "lookaside" section of docs/benchmarks.md; --note is printed at its top
#
# Output: a markdown table on stdout, every run's counts as JSON in --json. Every process started
# is stopped by its PID; servers listen on 127.0.0.1 only; each client run is bounded (30 min).
# Takes about 15-25 s per million requests per server and workload (~6 min with the defaults).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup lookaside
workloads=0.99,0.99+scan,0.8,0.8+scan requests=2000000 servers=kvd,redis,memcached
json=$ROOT/build/lookaside.json doc=0 note="" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --workloads=*) workloads=${1#*=} ;;
    --requests=*) requests=${1#*=} ;;
    --servers=*) servers=${1#*=} ;;
    --json=*) json=${1#*=} ;;
    --doc) doc=1 ;;
    --note=*) note=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
for s in ${servers//,/ }; do
  case "$s" in kvd|redis|memcached) ;; *) echo "lookaside.sh: unknown server $s" >&2; exit 1 ;; esac
done
need_pkgs "redis-server=redis-server redis-tools" "redis-cli=redis-server redis-tools" memcached
build_if "$build"
if [ "$build" = 1 ]; then make cachesim >&2; fi
[ -x build/cachesim ] || { echo "lookaside.sh: no build/cachesim (make cachesim)" >&2; exit 1; }

setup_tmp lookaside keep
copy_bins kvd
cp build/cachesim "$tmp/cachesim"
: >"$tmp/runs.jsonl"
: >"$tmp/sim.tsv"
for w in ${workloads//,/ }; do
  zipf=${w%+scan} scan=()
  [ "$w" != "$zipf" ] && scan=(--scan)
  trace=$tmp/trace-$w.bin
  "$tmp/cachesim" trace --zipf="$zipf" "${scan[@]}" --requests="$requests" --out="$trace" 2>/dev/null
  "$tmp/cachesim" replay --trace="$trace" --budget=64M --policy=fifo,lru,sieve,s3fifo --tsv |
    awk -v w="$w" 'NR > 1 {print w "\t" $0}' >>"$tmp/sim.tsv"
  for s in ${servers//,/ }; do
    case "$s" in
      kvd) run_kvd "$tmp/kvd.log" -- --threads=1 --max-memory=64M --ttl=1h
           pid=$KVD_PID port=$KVD_PORT ;;
      redis) run_redis -- --maxmemory 64mb --maxmemory-policy allkeys-lru
             pid=$REDIS_PID port=$REDIS_PORT ;;
      memcached) run_memcached -- -m 64
                 pid=$MEMCACHED_PID port=$MEMCACHED_PORT ;;
    esac
    say "$w: $s (pid $pid, port $port)"
    timeout 1900 /usr/bin/python3 scripts/bench/lookaside.py --server="$s" --port="$port" --pid="$pid" \
      --trace="$trace" --max-seconds=1800 >"$tmp/run.json"
    stop_pid "$pid"
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); r["workload"] = sys.argv[2]; print(json.dumps(r))' \
      "$tmp/run.json" "$w" >>"$tmp/runs.jsonl"
    say "$w: $s: $(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("hit ratio %.4f, %d keys, RSS %.1f MiB, %s s" % (r["hit_ratio"], r["keys"], r["rss_kib"] / 1024, r["seconds"]))' "$tmp/run.json")"
  done
  rm -f "$trace"
done

python3 - "$tmp/runs.jsonl" "$tmp/sim.tsv" "$json" "$tmp/section.md" "$(utc_date)" "$(kvd_version)" \
  "$(redis-server --version | awk '{print $3}' | sed 's/v=//')" "$(memcached -V | awk '{print $2}')" \
  "$requests" "$note" <<'PY'
import json, os, sys
runs_path, sim_path, json_path, section_path, date, kv, rv, mv, requests, note = sys.argv[1:]
runs = [json.loads(l) for l in open(runs_path)]
sim = {}
for l in open(sim_path):
    w, _zipf, _scan, budget, policy, hr, late, *_ = l.rstrip("\n").split("\t")
    sim.setdefault(w, {})[policy] = (float(hr), float(late))
os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
json.dump({"date": date, "kvd": kv, "redis": rv, "memcached": mv, "requests": int(requests),
           "runs": runs, "cachesim": sim}, open(json_path, "w"), indent=1)

MiB = 2 ** 20
def own(r):
    if r["server"] == "kvd":
        s = f"used {r.get('memory_used', 0) / MiB:.1f} MiB"
        if "memory_reserved" in r:
            s += f", reserved {r['memory_reserved'] / MiB:.1f} MiB"
        return s
    if r["server"] == "redis":
        return f"used_memory {r['memory_used'] / MiB:.1f} MiB"
    return f"bytes {r['memory_used'] / MiB:.1f} of {r['memory_limit'] / MiB:.0f} MiB"
def wl(w):
    z, scan = w.split("+")[0], "+scan" in w
    return f"Zipf {z}" + (" + scan" if scan else "")

T = ["| workload | server | **hit ratio** | 2nd half | keys at end | RSS at end | server's own figure | evictions | stores refused |",
     "|---|---|---|---|---|---|---|---|---|"]
for r in runs:
    T.append(f"| {wl(r['workload'])} | {r['server']} | **{r['hit_ratio']:.4f}** | {r['late_hit_ratio']:.4f} | "
             f"{r['keys']:,} | {r['rss_kib'] / 1024:.1f} MiB | {own(r)} | {r.get('evicted', 0):,} | {r['refused']:,} |")
S = ["| workload | fifo (kvd before S3-FIFO) | lru | sieve | s3fifo |", "|---|---|---|---|---|"]
for w, p in sim.items():
    S.append(f"| {wl(w)} | " + " | ".join(f"{p[k][0]:.4f}" for k in ("fifo", "lru", "sieve", "s3fifo")) + " |")
print("\n".join(T + [""] + ["cachesim at 64 MiB, same traces (hit ratio, non-scan GETs):", ""] + S))

figs = []
for r in runs:
    tag = r["workload"].replace(".", "").replace("+", "_")
    figs.append(f"<!-- fig lookaside_{r['server']}_{tag}={r['hit_ratio']:.4f} -->")
L = ["## Look-aside hit ratio at 64 MB (`scripts/bench/lookaside.sh`)", ""]
if note:
    L += [f"**{note}**", ""]
L += [f"Run {date}; kvd {kv} (`--threads=1 --max-memory=64M --ttl=1h`), Redis {rv} (`--maxmemory 64mb "
      f"--maxmemory-policy allkeys-lru --save '' --appendonly no`), memcached {mv} (`-m 64`), each fresh "
      f"for each workload. Traces from `build/cachesim trace` ({int(requests):,} Zipf requests over 1,000,000 "
      f"keys, values 64..1024 bytes fixed per key; '+ scan': 20% more requests, each for a new key, in one "
      f"run at the midpoint; `tools/cachesim/trace.h`). One connection, batches of 32 GETs of distinct keys, "
      f"then a SET for each miss; every answer checked (`scripts/bench/lookaside.py`). Hit ratio over the non-scan "
      f"GETs, cold start included; '2nd half': the second half of them, after the scan. RSS from "
      f"`/proc/PID/status`; keys from kvd `/size`, Redis `DBSIZE`, memcached `curr_items`.", ""]
L += T + ["", "cachesim's replay of the same traces at 67,108,864 bytes under kvd's byte model "
          "(round_up_4(16 + key + value) + 10 bytes an object), hit ratio over the non-scan GETs:", ""] + S
L += ["", "Reproduce: `scripts/bench/lookaside.sh --doc` (about 6 minutes; `--requests=200000` for a quick look).", ""] + figs
open(section_path, "w").write("\n".join(L) + "\n")
PY
say "wrote $json"
if [ "$doc" = 1 ]; then write_section lookaside "$tmp/section.md"; say "wrote the lookaside section of $DOC"; fi
