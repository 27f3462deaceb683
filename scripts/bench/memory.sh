#!/usr/bin/env bash
# Bytes per key, RSS-based, kvd and Redis side by side in one run: for each key count, a fresh
# server, VmRSS (/proc/PID/status) before and after loading keys 0..N-1 with short decimal values
# (the value is the number), growth / N.
#
#   kvd    --threads=1 --ttl=10m, loaded with scripts/bench/fill.py (keys /0../N-1; the key is the path,
#          with its '/')
#   Redis  redis-server --save '' --appendonly no, loaded with `redis-cli --pipe` from generated
#          RESP `SET n n` commands (keys 0..N-1)
#
# Writes the "memory" section of docs/benchmarks.md.
#
#   scripts/bench/memory.sh [--keys=1000000,1500000] [--no-build]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup memory
counts=1000000,1500000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys=*) counts=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs "redis-server=redis-server redis-tools" "redis-cli=redis-server redis-tools"
build_if "$build"

setup_tmp memory
copy_bins kvd

: >"$tmp/rows"
for n in ${counts//,/ }; do
  # kvd
  run_kvd "$tmp/kvd.log" -- --threads=1 --ttl=10m
  server=$KVD_PID port=$KVD_PORT
  sleep 0.5
  before=$(proc_rss "$server")
  t0=$(date +%s.%N)
  python3 scripts/bench/fill.py "127.0.0.1:$port" "$n" >/dev/null
  t1=$(date +%s.%N)
  sleep 0.5
  after=$(proc_rss "$server")
  size=$(curl -s "http://127.0.0.1:$port/size")
  used=$(metric "$port" kvd_memory_used_bytes)
  stop_pid "$server"
  [ "$size" = "$n" ] || { echo "memory.sh: kvd /size is $size, want $n" >&2; exit 1; }
  say "kvd $n keys: RSS $before -> $after KiB, fill $(python3 -c "print(round($t1 - $t0, 1))") s"
  printf 'kvd\t%s\t%s\t%s\t%s\n' "$n" "$before" "$after" "$used" >>"$tmp/rows"

  # Redis
  run_redis
  server=$REDIS_PID port=$REDIS_PORT
  sleep 0.5
  before=$(proc_rss "$server")
  used0=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
  python3 - "$n" <<'PY' | redis-cli -p "$port" --pipe >"$tmp/pipe.out"
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
step = 10000
for base in range(0, n, step):
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(s), s, len(s), s)
                       for s in (b"%d" % i for i in range(base, min(n, base + step)))))
PY
  sleep 0.5
  after=$(proc_rss "$server")
  size=$(redis-cli -p "$port" dbsize)
  used1=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
  stop_pid "$server"
  [ "$size" = "$n" ] || { echo "memory.sh: Redis DBSIZE is $size, want $n" >&2; cat "$tmp/pipe.out" >&2; exit 1; }
  say "redis $n keys: RSS $before -> $after KiB"
  printf 'redis\t%s\t%s\t%s\t%s\n' "$n" "$before" "$after" "$((used1 - used0))" >>"$tmp/rows"
done

python3 - "$tmp/rows" "$tmp/section.md" "$(utc_date)" "$(kvd_version)" "$(redis-server --version | awk '{print $3}' | sed 's/v=//')" <<'PY'
import sys
rows_path, body_path, date, version, rversion = sys.argv[1:]
rows = {}
for l in open(rows_path):
    who, n, before, after, used = l.split()
    rows[(who, int(n))] = dict(before=int(before) * 1024, after=int(after) * 1024, used=int(used))
ns = sorted({n for _, n in rows})
L = ["## Memory per key (`scripts/bench/memory.sh`)", "",
     f"Run {date}; kvd {version} (`--threads=1 --ttl=10m`, keys `/0`..`/N-1` by `scripts/bench/fill.py`), "
     f"Redis {rversion} (`--save '' --appendonly no`, keys `0`..`N-1` by `redis-cli --pipe` with "
     f"`SET n n`). Values are the key's number in decimal. Each count on a fresh server; bytes per key "
     f"= (VmRSS after − VmRSS before) / N, VmRSS from `/proc/PID/status`, read 0.5 s after the load. "
     f"The servers' own accounting (kvd's `kvd_memory_used_bytes`, Redis's `used_memory` growth) is "
     f"shown beside it.", "",
     "| keys | kvd RSS growth | **kvd bytes/key** | kvd_memory_used_bytes / key | Redis RSS growth | **Redis bytes/key** | Redis used_memory growth / key | kvd / Redis |",
     "|---|---|---|---|---|---|---|---|"]
figs = []
for n in ns:
    k, r = rows[("kvd", n)], rows[("redis", n)]
    kb = (k["after"] - k["before"]) / n
    rb = (r["after"] - r["before"]) / n
    L.append(f"| {n:,} | {(k['after'] - k['before']) / 2**20:.1f} MiB | **{kb:.1f}** | {k['used'] / n:.1f} | "
             f"{(r['after'] - r['before']) / 2**20:.1f} MiB | **{rb:.1f}** | {r['used'] / n:.1f} | {kb / rb:.2f} |")
    figs += [f"<!-- fig mem_kvd_{n}={kb:.2f} -->", f"<!-- fig mem_redis_{n}={rb:.2f} -->"]
L += ["", "Reproduce: `scripts/bench/memory.sh` (about 30 s).", ""] + figs
open(body_path, "w").write("\n".join(L) + "\n")
print("\n".join(l for l in L if l.startswith("| 1")))
PY
write_section memory "$tmp/section.md"
scripts/bench/bench.sh --targets-only
