#!/usr/bin/env bash
# Bytes per key, RSS-based, kvd and Redis side by side in one run: for each key count, a fresh
# server, VmRSS (/proc/PID/status) before and after loading keys 0..N-1 with short decimal values
# (the value is the number), growth / N.
#
#   kvd    --threads=1 --ttl=10m, loaded with scripts/fill.py (keys /0../N-1; the key is the path,
#          with its '/')
#   Redis  redis-server --save '' --appendonly no, loaded with `redis-cli --pipe` from generated
#          RESP `SET n n` commands (keys 0..N-1)
#
# Writes the "memory" section of docs/benchmarks.md.
#
#   scripts/memory.sh [--keys=1000000,1500000] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DOC=$ROOT/docs/benchmarks.md
counts=1000000,1500000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys=*) counts=${1#*=} ;;
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "memory.sh: unknown argument $1" >&2; exit 1 ;;
  esac
  shift
done
say() { printf '[memory %s] %s\n' "$(date +%T)" "$*" >&2; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  if [ "$(id -u)" -eq 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
  else echo "memory.sh: run: sudo apt-get install -y redis-server redis-tools" >&2; exit 1; fi
}
if [ "$build" = 1 ]; then say "make -j2"; make -j2 >&2; fi

tmp=$(mktemp -d /tmp/kvd-memory.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Private copies of the binaries (other people rebuild ./kvd while this runs); retried if a copy
# catches one mid-link.
copy_bins() {
  local i b ok
  for i in $(seq 20); do
    ok=1
    for b in "$@"; do
      cp "./$b" "$tmp/$b.new" 2>/dev/null && mv "$tmp/$b.new" "$tmp/$b" &&
        { "$tmp/$b" --help 2>&1 || true; } | grep -q "$b" || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 1
  done
  echo "$0: could not copy working binaries: $*" >&2
  exit 1
}
copy_bins kvd
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; }

: >"$tmp/rows"
for n in ${counts//,/ }; do
  # kvd
  "$tmp/kvd" --port=0 --bind=127.0.0.1 --threads=1 --ttl=10m 2>"$tmp/kvd.log" &
  server=$!
  for _ in $(seq 100); do grep -q "Starting server on" "$tmp/kvd.log" 2>/dev/null && break; sleep 0.05; done
  port=$(grep -o 'Starting server on [0-9]*' "$tmp/kvd.log" | awk '{print $4}')
  sleep 0.5
  before=$(rss "$server")
  t0=$(date +%s.%N)
  python3 scripts/fill.py "127.0.0.1:$port" "$n" >/dev/null
  t1=$(date +%s.%N)
  sleep 0.5
  after=$(rss "$server")
  size=$(curl -s "http://127.0.0.1:$port/size")
  used=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^kvd_memory_used_bytes/ {printf "%d", $2}')
  stop
  [ "$size" = "$n" ] || { echo "memory.sh: kvd /size is $size, want $n" >&2; exit 1; }
  say "kvd $n keys: RSS $before -> $after KiB, fill $(python3 -c "print(round($t1 - $t0, 1))") s"
  printf 'kvd\t%s\t%s\t%s\t%s\n' "$n" "$before" "$after" "$used" >>"$tmp/rows"

  # Redis
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile "$tmp/redis.log" --dir "$tmp" &
  server=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  sleep 0.5
  before=$(rss "$server")
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
  after=$(rss "$server")
  size=$(redis-cli -p "$port" dbsize)
  used1=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
  stop
  [ "$size" = "$n" ] || { echo "memory.sh: Redis DBSIZE is $size, want $n" >&2; cat "$tmp/pipe.out" >&2; exit 1; }
  say "redis $n keys: RSS $before -> $after KiB"
  printf 'redis\t%s\t%s\t%s\t%s\n' "$n" "$before" "$after" "$((used1 - used0))" >>"$tmp/rows"
done

python3 - "$tmp/rows" "$DOC" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git status --porcelain -- src 2>/dev/null)" ] && echo ' + uncommitted changes in src/')" "$(redis-server --version | awk '{print $3}' | sed 's/v=//')" <<'PY'
import os, sys
rows_path, doc_path, date, version, rversion = sys.argv[1:]
rows = {}
for l in open(rows_path):
    who, n, before, after, used = l.split()
    rows[(who, int(n))] = dict(before=int(before) * 1024, after=int(after) * 1024, used=int(used))
ns = sorted({n for _, n in rows})
L = ["## Memory per key (`scripts/memory.sh`)", "",
     f"Run {date}; kvd {version} (`--threads=1 --ttl=10m`, keys `/0`..`/N-1` by `scripts/fill.py`), "
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
L += ["", "Reproduce: `scripts/memory.sh` (about 30 s).", ""] + figs
body = "\n".join(L) + "\n"
doc = open(doc_path).read() if os.path.exists(doc_path) else "# kvd benchmarks\n"
begin, end = "<!-- BEGIN memory -->", "<!-- END memory -->"
if begin in doc:
    a = doc.index(begin) + len(begin); b = doc.index(end)
    doc = doc[:a] + "\n" + body + doc[b:]
else:
    doc += f"\n{begin}\n{body}{end}\n"
open(doc_path, "w").write(doc)
print("\n".join(l for l in L if l.startswith("| 1")))
PY
scripts/bench.sh --targets-only
