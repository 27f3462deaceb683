#!/usr/bin/env bash
# kvbench's own cost per request (the client, not kvd): against a real kvd (--threads=1, pinned
# to CPU 1), kvbench (--threads=1, pinned to CPU 0) runs the default workload (20 connections x
# 10 pipelined, 80/20 GET/POST) and the script reports
#
#   Ir/req      instructions of kvbench (all threads, startup and report included) under
#               `valgrind --tool=callgrind`, divided by the requests it completed (--json "total");
#               repeatable to ~1%; user space only (syscalls are not counted)
#   user, sys   kvbench's user and system CPU (/usr/bin/time) per completed request, in
#               microseconds, over --runs runs of --duration each: every run and the medians
#   ctxsw/req   voluntary context switches per request (sleeps in epoll_wait)
#
#   scripts/bench/kvbench_cost.sh [--kvbench=PATH] [--kvd=PATH] [--duration=S] [--runs=N]
#                           [--callgrind=S] [--no-build] [-- KVBENCH_ARGS...]
#
#   --kvbench    the binary to measure (default ./kvbench); --kvd likewise (default ./kvd)
#   --duration   seconds per native run (default 10); --runs native runs (default 5)
#   --callgrind  seconds of the callgrind run (default 5; 0 skips it)
#
# The machine is usually shared and noisy: compare medians of several runs, and A/B binaries in
# the same session. KEEP_TMP=1 keeps the temp dir (callgrind output) and prints its path.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup kvbench_cost
bench=$ROOT/kvbench kvd=$ROOT/kvd duration=10 runs=5 cg=5 build=1 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kvbench=*) bench=$(realpath "${1#*=}") ;;
    --kvd=*) kvd=$(realpath "${1#*=}") ;;
    --duration=*) duration=${1#*=} ;;
    --runs=*) runs=${1#*=} ;;
    --callgrind=*) cg=${1#*=} ;;
    --) shift; extra=("$@"); break ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs valgrind python3 /usr/bin/time=time
build_if "$build"
setup_tmp kvbench-cost keep
cp "$bench" "$tmp/kvbench"
cp "$kvd" "$tmp/kvd"
run_kvd "$tmp/kvd.log" taskset -c 1 -- --threads=1
uri=http://127.0.0.1:$KVD_PORT

total() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$1"; }

if [ "$cg" != 0 ]; then
  say "callgrind, ${cg}s"
  taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    "$tmp/kvbench" --uri="$uri" --duration="$cg" --threads=1 --json --seed=1 "${extra[@]}" \
    >"$tmp/cg.json" 2>"$tmp/cg.err"
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out")
  n=$(total "$tmp/cg.json")
  awk -v ir="$ir" -v n="$n" 'BEGIN { printf "callgrind: %d Ir / %d requests = %.1f Ir/req\n", ir, n, ir / n }'
fi

: >"$tmp/runs.txt"
for i in $(seq "$runs"); do
  /usr/bin/time -o "$tmp/time.txt" -f "%U %S %w" taskset -c 0 \
    "$tmp/kvbench" --uri="$uri" --duration="$duration" --threads=1 --json "${extra[@]}" >"$tmp/run.json"
  n=$(total "$tmp/run.json")
  read -r u s w <"$tmp/time.txt"
  echo "$n $u $s $w" >>"$tmp/runs.txt"
  awk -v n="$n" -v u="$u" -v s="$s" -v w="$w" -v i="$i" 'BEGIN {
    printf "run %d: %d req (%.0f/s)  user %.3f  sys %.3f  total %.3f us/req  ctxsw/req %.4f\n",
      i, n, n / '"$duration"', u * 1e6 / n, s * 1e6 / n, (u + s) * 1e6 / n, w / n }'
done
python3 - "$tmp/runs.txt" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda xs: statistics.median(xs)
u = med([r[1] * 1e6 / r[0] for r in rows]); s = med([r[2] * 1e6 / r[0] for r in rows])
t = med([(r[1] + r[2]) * 1e6 / r[0] for r in rows]); rps = med([r[0] for r in rows])
print(f"median of {len(rows)}: user {u:.3f}  sys {s:.3f}  total {t:.3f} us/req  ({rps:.0f} req/run)")
PY
