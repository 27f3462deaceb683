#!/usr/bin/env bash
# What a consistent-hashing proxy costs per request: one kvd driven directly against N kvd behind
# each shipped proxy configuration (docs/scaling.md), side by side in one session:
#
#   direct       one kvd, kvbench over HTTP
#   haproxy      N kvd behind deploy/haproxy/haproxy.cfg, kvbench over HTTP
#   nginx        N kvd behind deploy/nginx/nginx.conf, kvbench over HTTP
#   direct-resp  one kvd's RESP port, redis-benchmark
#   twemproxy    N kvd's RESP ports behind deploy/twemproxy/nutcracker.yml, redis-benchmark
#
# kvbench runs its default workload (80 % GET / 20 % POST of 1,000,000 keys) for --duration;
# redis-benchmark runs `-t set,get -r 1000000` with --resp-requests of each (SET first, so that
# the GETs mostly hit). Both with --connections connections x each --pipelining depth (-P). The
# clusters are started by scripts/ops/cluster.sh, afresh for every run. For every run:
#
#   req/s            the client's requests / its run time
#   proxy us/req     utime + stime of the proxy (HAProxy's process; nginx's master and workers;
#                    nutcracker) from /proc/PID/stat before and after, / the client's requests
#   nodes us/req     the same for all kvd nodes together (for direct: the one kvd)
#   per node         each node's CPU / the requests it served itself (its kvd_reactor_requests_total
#                    + kvd_resp_commands_total): whether one node is busier per request than another
#   cluster us/req   proxy + nodes
#   x one kvd        cluster us/req / the direct kvd's us/req for the same protocol and depth: what
#                    a request costs in the cluster, in requests served by one kvd directly
#   check            HTTP: kvbench's errors + non-2xx; RESP: the commands the nodes ran minus those
#                    redis-benchmark sent (redis-benchmark counts error replies as done: a command
#                    twemproxy answered with an error never reached a node)
#
#   scripts/bench/cluster_cost.sh [--rounds=N] [--duration=S] [--resp-requests=N] [--nodes=N]
#                           [--connections=N] [--pipelining="10 1"]
#                           [--targets="direct haproxy nginx direct-resp twemproxy"]
#                           [--doc] [--note=TEXT] [--no-build]
#
#   --rounds         rounds of every target x depth, interleaved (default 6); medians are quoted
#   --duration       seconds per kvbench run (default 5)
#   --resp-requests  requests of SET and of GET per redis-benchmark run (default 1000000)
#   --doc            write the "cluster-cost" section of docs/benchmarks-cluster.md (the median
#                    table; --note is printed above it). Without it nothing outside /tmp is written
#
# Nothing is pinned (the proxies and nodes use both CPUs, as in a deployment); every process is
# stopped by its PID (the clusters by cluster.sh's own SIGTERM handling), every client run is
# bounded by `timeout`. A smoke run: --rounds=1 --duration=1 --resp-requests=20000 --pipelining=10
# (~20 s). The defaults take about rounds x depths x (3 x duration + 2 x resp-requests /
# 100,000 + 10) seconds (~10 min).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup cluster_cost
DOC=$ROOT/docs/benchmarks-cluster.md

rounds=6 duration=5 resp_requests=1000000 nodes=3 conns=20 depths="10 1"
targets="direct haproxy nginx direct-resp twemproxy" doc=0 note="" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds=*) rounds=${1#*=} ;;
    --duration=*) duration=${1#*=}; duration=${duration%s} ;;
    --resp-requests=*) resp_requests=${1#*=} ;;
    --nodes=*) nodes=${1#*=} ;;
    --connections=*) conns=${1#*=} ;;
    --pipelining=*) depths=${1#*=} ;;
    --targets=*) targets=${1#*=} ;;
    --doc) doc=1 ;;
    --note=*) note=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
for t in $targets; do
  case $t in direct|haproxy|nginx|direct-resp|twemproxy) ;; *) echo "${0##*/}: unknown target $t" >&2; exit 1 ;; esac
done
need=(python3 curl)
for t in $targets; do
  case $t in
    haproxy) need+=(haproxy) ;;
    nginx) need+=(nginx) ;;
    twemproxy) need+=(nutcracker redis-benchmark=redis-tools) ;;
    direct-resp) need+=(redis-benchmark=redis-tools) ;;
  esac
done
need_pkgs "${need[@]}"
build_if "$build"
setup_tmp cluster-cost keep
copy_bins kvd kvbench
tck=$(getconf CLK_TCK)

# A base port with N consecutive free ports (cluster.sh takes contiguous ranges).
free_block() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); socks.append(s); s.bind(("127.0.0.1", p))
        print(base); sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks: s.close()
sys.exit("no free port range")
PY
}

# CPU ticks of PIDs and of their children (nginx's workers), summed.
cpu_of() {
  local p c sum=0
  for p in "$@"; do
    sum=$((sum + $(proc_cpu_total "$p")))
    for c in $(pgrep -P "$p" 2>/dev/null || true); do sum=$((sum + $(proc_cpu_total "$c"))); done
  done
  echo "$sum"
}
# Requests a node has served: HTTP requests + RESP commands (from its /metrics on HTTP port $1).
node_requests() {
  local m
  m=$(metrics "$1")
  awk '/^kvd_reactor_requests_total|^kvd_resp_commands_total/ {s += $2} END {printf "%d", s}' <<<"$m"
}
node_resp_sg() {  # SET + GET commands a node ran
  metrics "$1" | awk '/^kvd_resp_commands_total\{command="(set|get)"\}/ {s += $2} END {printf "%d", s}'
}

cluster_pid=
start_cluster() {  # proxy: sets http_ports, node_pids, proxy_pid, port (the proxy's)
  local proxy=$1 base out t=0
  base=$(free_block $((2 * nodes + 3)))
  out=$tmp/cluster.out
  : >"$out"  # before the job starts: the wait below reads it at once
  KVD_BIN=$tmp/kvd "$ROOT/scripts/ops/cluster.sh" --nodes "$nodes" --base-port "$base" \
    --proxy "$proxy" --proxy-port $((base + nodes)) --resp-base-port $((base + nodes + 1)) \
    --stats-port $((base + 2 * nodes + 1)) </dev/null >"$out" 2>&1 &
  cluster_pid=$!
  pids+=("$cluster_pid")
  until grep -q '^ready' "$out"; do
    kill -0 "$cluster_pid" 2>/dev/null || { cat "$out" >&2; echo "${0##*/}: cluster.sh exited" >&2; exit 1; }
    [ $t -ge 300 ] && { cat "$out" >&2; echo "${0##*/}: cluster not ready after 30 s" >&2; exit 1; }
    sleep 0.1; t=$((t + 1))
  done
  port=$((base + nodes))
  http_ports=() node_pids=()
  local line
  line=$(grep '^  nodes:' "$out")
  read -ra node_pids <<<"$(grep -o 'pid [0-9]*' <<<"$line" | awk '{print $2}' | tr '\n' ' ')"
  for ((i = 0; i < nodes; i++)); do http_ports+=($((base + i))); done
  proxy_pid=$(grep -E "^  $proxy: pid" "$out" | grep -o 'pid [0-9]*' | awk '{print $2}')
  if [ ${#node_pids[@]} != "$nodes" ] || [ -z "$proxy_pid" ]; then
    cat "$out" >&2; echo "${0##*/}: no pids in cluster.sh's output" >&2; exit 1
  fi
}
start_direct() {  # sets http_ports, node_pids, proxy_pid (none), port (HTTP) and rport (RESP)
  local base
  base=$(free_block 2)
  "$tmp/kvd" --port="$base" --resp-port=$((base + 1)) --bind=127.0.0.1 2>"$tmp/direct.log" &
  pids+=($!)
  node_pids=($!) http_ports=("$base") proxy_pid='' port=$base rport=$((base + 1))
  started_port "$!" "$tmp/direct.log" 10 >/dev/null
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.05; done
}
stop_target() {
  if [ -n "$cluster_pid" ]; then stop_pid "$cluster_pid"; cluster_pid=; else stop_pid "${node_pids[0]}"; fi
}

# One run: target depth round -> a line of $tmp/runs.tsv
#   target depth round requests seconds proxy_ticks nodes_ticks check load per_node(us;us;...)
run_one() {
  local target=$1 depth=$2 round=$3
  case $target in
    direct) start_direct ;;
    direct-resp) start_direct; port=$rport ;;
    *) start_cluster "$target" ;;
  esac
  local i p0=0 p1=0 n0=() r0=() sg0=0
  [ -n "$proxy_pid" ] && p0=$(cpu_of "$proxy_pid")
  for i in "${!node_pids[@]}"; do
    n0+=("$(cpu_of "${node_pids[i]}")") r0+=("$(node_requests "${http_ports[i]}")")
    sg0=$((sg0 + $(node_resp_sg "${http_ports[i]}")))
  done
  local requests secs check
  case $target in
    direct|haproxy|nginx)
      timeout $((duration + 30)) "$tmp/kvbench" --uri="http://127.0.0.1:$port" --duration="${duration}s" \
        --connections="$conns" --pipelining="$depth" --json >"$tmp/run.json"
      read -r requests secs check < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["total"], r["duration"], r["errors"]["total"] + r["get"]["non2xx"] + r["post"]["non2xx"])' "$tmp/run.json")
      ;;
    *)
      timeout $((resp_requests / 2000 + 60)) redis-benchmark -h 127.0.0.1 -p "$port" -t set,get \
        -n "$resp_requests" -r 1000000 -P "$depth" -c "$conns" --csv >"$tmp/run.csv" 2>"$tmp/run.err"
      requests=$((2 * resp_requests))
      secs=$(python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("test") in ("SET", "GET")]
if len(rows) != 2: sys.exit("redis-benchmark: no SET/GET results in " + sys.argv[1])
print(sum(int(sys.argv[2]) / float(r["rps"]) for r in rows))' "$tmp/run.csv" "$resp_requests")
      ;;
  esac
  [ -n "$proxy_pid" ] && p1=$(cpu_of "$proxy_pid")
  local nt=0 per=() sg1=0 c r
  for i in "${!node_pids[@]}"; do
    c=$(( $(cpu_of "${node_pids[i]}") - n0[i] )) r=$(( $(node_requests "${http_ports[i]}") - r0[i] ))
    nt=$((nt + c))
    per+=("$(awk -v c="$c" -v r="$r" -v t="$tck" 'BEGIN { printf "%.2f", r ? c * 1e6 / t / r : 0 }')")
    sg1=$((sg1 + $(node_resp_sg "${http_ports[i]}")))
  done
  case $target in direct-resp|twemproxy) check=$(( (sg1 - sg0) - requests )) ;; esac
  stop_target
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$depth" "$round" "$requests" "$secs" \
    $((p1 - p0)) "$nt" "$check" "$load" "$(IFS=';'; echo "${per[*]}")" >>"$tmp/runs.tsv"
  awk -F'\t' -v t="$tck" 'END {
    r = $4; printf "round %s  %-11s P%-2s  %9.0f req/s  proxy %6.2f  nodes %6.2f  cluster %6.2f us/req  per node %s  check %s  load %s\n",
      $3, $1, $2, r / $5, $6 * 1e6 / t / r, $7 * 1e6 / t / r, ($6 + $7) * 1e6 / t / r, $10, $8, $9 }' "$tmp/runs.tsv" >&2
}

: >"$tmp/runs.tsv"
start=$(utc_date)
say "targets: $targets; pipelining: $depths; $rounds round(s); $nodes nodes; kvbench ${duration}s, redis-benchmark 2 x $resp_requests"
for round in $(seq "$rounds"); do
  for depth in $depths; do
    for target in $targets; do run_one "$target" "$depth" "$round"; done
  done
done

python3 - "$tmp/runs.tsv" "$tck" "$start" "$(utc_date)" "$(kvd_version)" "$nodes" "$conns" "$duration" "$resp_requests" "$note" >"$tmp/section.md" <<'PY'
import statistics, sys
from collections import defaultdict
path, tck, t0, t1, version, nodes, conns, duration, resp_n, note = sys.argv[1:]
tck = int(tck)
runs = defaultdict(list)
for line in open(path):
    f = line.rstrip("\n").split("\t")
    target, depth = f[0], int(f[1])
    req, secs, pt, nt, check = int(f[3]), float(f[4]), int(f[5]), int(f[6]), int(f[7])
    per = [float(x) for x in f[9].split(";") if x]
    us = lambda ticks: ticks * 1e6 / tck / req
    runs[(target, depth)].append(dict(rps=req / secs, proxy=us(pt), nodes=us(nt), cluster=us(pt + nt),
                                      per=per, check=check, load=float(f[8])))
med = statistics.median
base = {"haproxy": "direct", "nginx": "direct", "twemproxy": "direct-resp"}
label = {"direct": "1 kvd, direct (kvbench, HTTP)", "haproxy": f"{nodes} kvd behind haproxy (kvbench, HTTP)",
         "nginx": f"{nodes} kvd behind nginx (kvbench, HTTP)",
         "direct-resp": "1 kvd, direct (redis-benchmark, RESP)",
         "twemproxy": f"{nodes} kvd behind twemproxy (redis-benchmark, RESP)"}
order = ["direct", "haproxy", "nginx", "direct-resp", "twemproxy"]
L = []
if note:
    L += [note, ""]
L += [f"Run {t0} - {t1}, kvd {version}, {nodes} nodes, {conns} connections; kvbench {duration} s per run, "
      f"redis-benchmark `-t set,get -n {resp_n}`. Medians over the runs; \"x one kvd\" is the cluster's "
      f"CPU per request over the direct kvd's, same client and depth.", "",
      "| target | pipelining | runs | req/s | proxy CPU µs/req | nodes CPU µs/req (all) | per node, µs per own request | cluster µs/req | x one kvd | errors | load |",
      "|---|---|---|---|---|---|---|---|---|---|---|"]
for depth in sorted({d for _, d in runs}, reverse=True):
    for target in order:
        rs = runs.get((target, depth))
        if not rs:
            continue
        c = med([r["cluster"] for r in rs])
        b = runs.get((base.get(target, target), depth))
        ratio = "—" if target.startswith("direct") or not b else f"{c / med([r['cluster'] for r in b]):.1f}"
        per = " / ".join(f"{med([r['per'][i] for r in rs]):.2f}" for i in range(len(rs[0]["per"])))
        proxy = "—" if target.startswith("direct") else f"{med([r['proxy'] for r in rs]):.2f}"
        L.append(f"| {label[target]} | {depth} | {len(rs)} | {med([r['rps'] for r in rs]):,.0f} | {proxy} | "
                 f"{med([r['nodes'] for r in rs]):.2f} | {per} | {c:.2f} | {ratio} | "
                 f"{sum(abs(r['check']) for r in rs)} | {med([r['load'] for r in rs]):.1f} |")
L += ["", "Reproduce: `scripts/bench/cluster_cost.sh --doc` (options: `--help`).", ""]
print("\n".join(L))
PY
cat "$tmp/section.md"
if [ "$doc" = 1 ]; then write_section cluster-cost "$tmp/section.md"; say "wrote the cluster-cost section of $DOC"; fi
