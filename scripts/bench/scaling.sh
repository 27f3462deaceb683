#!/usr/bin/env bash
# kvd across cores, end to end: one kvd per reactor count, each pinned to that many server CPUs,
# driven by kvbench (the seed's workload: 80% GET / 20% POST on random keys of 1M, pipelined) on
# separate client CPUs. A row per count, medians of the rounds (the counts interleaved, so that a
# disturbance lands on one round rather than on one count): requests/s, server CPU per request,
# syscalls per request, GET and POST p99, the client's CPU, and what other processes took.
#
#   scripts/bench/scaling.sh [--threads=1,2] [--server-cpus=LIST] [--client-cpus=LIST]
#                            [--duration=10] [--repeat=3] [--connections=N] [--pipelining=10]
#                            [--client-threads=N] [--out=PREFIX] [--doc] [--no-build]
#
#   --threads         reactor counts to run (kvd --threads=N)
#   --server-cpus     CPUs for kvd (taskset lists: 0-7,16); a count of N runs on the first N.
#                     Default: the first max(--threads) CPUs this script may use
#   --client-cpus     CPUs for kvbench. Default: the rest; on a machine with no CPUs left, all of
#                     them, shared with kvd (the table says so: figures then include the contest)
#   --connections     total connections (default: 20 a reactor, the seed's 20 for one)
#   --client-threads  kvbench threads (default: one a client CPU)
#   --out             writes PREFIX.json and PREFIX.png (default docs/img/scaling)
#   --doc             also rewrites the "scaling" section of docs/benchmarks.md and the target
#                     table
#
# A row is "client-bound" when kvbench used 90% or more of its CPUs: the server was not the limit
# and the count's requests/s says more about the client. ~(counts x repeat x (duration + 3)) s.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup scaling
threads_arg=1,2 server_arg="" client_arg="" duration=10 repeat=3 conns="" pipelining=10
client_threads="" out=$ROOT/docs/img/scaling doc=0 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads=*) threads_arg=${1#*=} ;;
    --server-cpus=*) server_arg=${1#*=} ;;
    --client-cpus=*) client_arg=${1#*=} ;;
    --duration=*) duration=${1#*=} ;;
    --repeat=*) repeat=${1#*=} ;;
    --connections=*) conns=${1#*=} ;;
    --pipelining=*) pipelining=${1#*=} ;;
    --client-threads=*) client_threads=${1#*=} ;;
    --out=*) out=${1#*=} ;;
    --doc) doc=1 ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs python3 curl gnuplot=gnuplot-nox taskset=util-linux /usr/bin/time=time
need_positive --duration "$duration"
need_positive --repeat "$repeat"
need_positive --pipelining "$pipelining"
[ -z "$conns" ] || need_positive --connections "$conns"
[ -z "$client_threads" ] || need_positive --client-threads "$client_threads"

# CPU lists, expanded ("0-2,5" -> "0 1 2 5"); the CPUs this script may run on by default.
expand_cpus() {
  python3 - "$1" <<'PY' || exit 1
import sys
out = []
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    if not a.isdigit() or (b and not b.isdigit()) or (b and int(b) < int(a)):
        sys.exit(f"scaling.sh: bad CPU list '{sys.argv[1]}'")
    out += range(int(a), int(b or a) + 1)
print(" ".join(map(str, out)))
PY
}
read -ra allowed <<<"$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')"
IFS=, read -ra counts <<<"$threads_arg"
max_t=0
for t in "${counts[@]}"; do need_positive --threads "$t"; [ "$t" -gt "$max_t" ] && max_t=$t; done
if [ -n "$server_arg" ]; then read -ra server_cpus <<<"$(expand_cpus "$server_arg")"; else server_cpus=("${allowed[@]:0:$max_t}"); fi
if [ "${#server_cpus[@]}" -lt "$max_t" ]; then
  echo "scaling.sh: --threads=$max_t needs $max_t server CPUs, have ${#server_cpus[@]} (${server_cpus[*]})" >&2
  exit 1
fi
shared=0
if [ -n "$client_arg" ]; then
  read -ra client_cpus <<<"$(expand_cpus "$client_arg")"
else
  client_cpus=()
  for c in "${allowed[@]}"; do [[ " ${server_cpus[*]} " == *" $c "* ]] || client_cpus+=("$c"); done
  [ "${#client_cpus[@]}" -gt 0 ] || { client_cpus=("${allowed[@]}"); }
fi
for c in "${client_cpus[@]}"; do [[ " ${server_cpus[*]:0:$max_t} " == *" $c "* ]] && shared=1; done
client_threads=${client_threads:-${#client_cpus[@]}}
join() { local IFS=,; echo "$*"; }

build_if "$build"
setup_tmp scaling
copy_bins kvd kvbench
declare -A PID PORT
for t in "${counts[@]}"; do
  cpus=$(join "${server_cpus[@]:0:$t}")
  run_kvd "$tmp/kvd$t.log" taskset -c "$cpus" -- --threads="$t"
  PID[$t]=$KVD_PID PORT[$t]=$KVD_PORT
  say "kvd --threads=$t on CPUs $cpus: pid $KVD_PID port $KVD_PORT"
done
CLIENT=(taskset -c "$(join "${client_cpus[@]}")")
conns_for() { echo "${conns:-$((20 * $1))}"; }
server_counts() {  # requests and syscalls so far
  metrics "${PORT[$1]}" | awk '/^api_requests_total/ {r += $2} /^kvd_syscalls_total/ {s += $2} END {printf "%d %d\n", r, s}'
}
for t in "${counts[@]}"; do
  say "warm-up, $t reactor(s)"
  "${CLIENT[@]}" "$tmp/kvbench" --uri="http://127.0.0.1:${PORT[$t]}" --duration=2s --connections="$(conns_for "$t")" \
    --pipelining="$pipelining" --threads="$client_threads" >/dev/null
done

RESULTS=$tmp/results.tsv
: >"$RESULTS"
for round in $(seq "$repeat"); do
  for t in "${counts[@]}"; do
    pid=${PID[$t]} o=$tmp/r$round-$t.json tf=$tmp/r$round-$t.time
    c0=$(proc_cpu_total "$pid"); n0=$(server_counts "$t"); m0=$(machine_busy); t0=$(now)
    /usr/bin/time -f '%U %S' -o "$tf" "${CLIENT[@]}" "$tmp/kvbench" --uri="http://127.0.0.1:${PORT[$t]}" \
      --duration="${duration}s" --connections="$(conns_for "$t")" --pipelining="$pipelining" \
      --threads="$client_threads" --json >"$o"
    t1=$(now); m1=$(machine_busy); n1=$(server_counts "$t"); c1=$(proc_cpu_total "$pid")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$round" "$t0 $t1" "$c0 $c1" "$n0" "$n1" "$m0 $m1" \
      "$(tail -1 "$tf")" "$o" "$(conns_for "$t")" | tr ' ' '\t' >>"$RESULTS"
    say "round $round, $t reactor(s) done"
  done
done

mkdir -p "$(dirname "$out")"
TABLE=$tmp/table.md
python3 - "$RESULTS" "$out.json" "$TABLE" "$(getconf CLK_TCK)" "${#client_cpus[@]}" "$shared" \
  "$(join "${server_cpus[@]:0:$max_t}")" "$(join "${client_cpus[@]}")" "$client_threads" "$pipelining" \
  "$duration" "$repeat" "$(kvd_version)" "$(utc_date)" "$(nproc)" <<'PY'
import json, statistics, sys
(results, json_out, table_out, hz, client_cpus, shared, scpus, ccpus, cthreads, pipe, duration,
 repeat, version, date, ncpu) = sys.argv[1:]
hz, client_cpus, shared = int(hz), int(client_cpus), shared == "1"
runs = {}
for line in open(results):
    (t, rnd, t0, t1, c0, c1, r0, s0, r1, s1, m0, m1, cu, cs, path, conns) = line.rstrip("\n").split("\t")
    rep = json.load(open(path))
    el = float(t1) - float(t0)
    req = int(r1) - int(r0)
    srv = (int(c1) - int(c0)) / hz
    cli = float(cu) + float(cs)
    busy = (int(m1) - int(m0)) / hz
    runs.setdefault(int(t), []).append({
        "round": int(rnd), "connections": int(conns), "requests_per_sec": rep["requests_per_sec"],
        "server_requests": req,
        "server_cpu_us_per_request": srv / req * 1e6 if req else None,
        "server_cores": srv / el,
        "syscalls_per_request": (int(s1) - int(s0)) / req if req else None,
        "p99_get_ms": rep["get"]["latency_us"]["p99"] / 1000, "p99_post_ms": rep["post"]["latency_us"]["p99"] / 1000,
        "client_cpu_us_per_request": cli / req * 1e6 if req else None,
        "client_cores": cli / el, "other_cores": max(0.0, (busy - srv - cli) / el),
        "errors": rep["errors"]["total"]})
def med(rs, k):
    v = [r[k] for r in rs if r[k] is not None]
    return statistics.median(v) if v else None
rows = []
for t in sorted(runs):
    rs = runs[t]
    row = {"threads": t, "rounds": len(rs), "connections": rs[0]["connections"]}
    for k in ("requests_per_sec", "server_cpu_us_per_request", "server_cores", "syscalls_per_request",
              "p99_get_ms", "p99_post_ms", "client_cpu_us_per_request", "client_cores", "other_cores"):
        row[k] = med(rs, k)
    row["errors"] = sum(r["errors"] for r in rs)
    row["client_bound"] = row["client_cores"] >= 0.9 * client_cpus
    row["runs"] = rs
    rows.append(row)
one = rows[0]
for r in rows:
    r["speedup"] = r["requests_per_sec"] / one["requests_per_sec"] if one["requests_per_sec"] else None
    r["cpu_per_request_vs_first"] = (r["server_cpu_us_per_request"] / one["server_cpu_us_per_request"]
                                     if one["server_cpu_us_per_request"] else None)
meta = {"date": date, "kvd": version, "cpus": int(ncpu), "server_cpus": scpus, "client_cpus": ccpus,
        "client_threads": int(cthreads), "pipelining": int(pipe), "duration_s": int(duration),
        "rounds": int(repeat), "shared_cpus": shared}
json.dump({"meta": meta, "rows": rows}, open(json_out, "w"), indent=1)
L = []
L.append(f"Run {date}, kvd {version}, {ncpu} CPUs: kvd on CPUs {scpus} (a count of N on the first N), "
         f"kvbench on {ccpus} with {cthreads} thread(s), 80% GET / 20% POST over 1M keys, pipelining {pipe}, "
         f"20 connections a reactor unless set, {duration} s a run, medians of {repeat} interleaved round(s)."
         + (" **Server and client share CPUs here**: each reactor competes with the client for its core, "
            "so CPU per request includes that contest and requests/s cannot scale with the count."
            if shared else ""))
L.append("")
L.append("| reactors | connections | requests/s | vs first | server CPU µs / request | server cores | syscalls / request "
         "| p99 GET / POST ms | client CPU µs / request | client cores | others (cores) |")
L.append("|---|---|---|---|---|---|---|---|---|---|---|")
def n(v, f="{:.2f}"):
    return "—" if v is None else f.format(v)
for r in rows:
    L.append(f"| {r['threads']} | {r['connections']} | {r['requests_per_sec']:,.0f} | {n(r['speedup'])}x | "
             f"{n(r['server_cpu_us_per_request'])} | {n(r['server_cores'])} | {n(r['syscalls_per_request'], '{:.3f}')} | "
             f"{n(r['p99_get_ms'], '{:.3f}')} / {n(r['p99_post_ms'], '{:.3f}')} | {n(r['client_cpu_us_per_request'])} | "
             f"{n(r['client_cores'])}{' (client-bound)' if r['client_bound'] else ''} | {n(r['other_cores'])} |")
errs = sum(r["errors"] for r in rows)
L.append("")
L.append(f"kvbench errors in all runs: {errs}.")
open(table_out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY

# requests/s against the count (and the linear line from the first), CPU per request on the right.
python3 - "$out.json" >"$tmp/plot.dat" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
first = d["rows"][0]
for r in d["rows"]:
    print(r["threads"], r["requests_per_sec"] / 1e6, first["requests_per_sec"] / 1e6 * r["threads"] / first["threads"],
          r["server_cpu_us_per_request"] or 0)
PY
gnuplot <<EOF
set terminal pngcairo size 900,500 font ",11"
set output "$out.png"
set title "kvd across reactors: kvbench, pipelining $pipelining (medians of $repeat)"
set xlabel "reactors (kvd --threads)"
set ylabel "million requests/s"
set y2label "server CPU µs / request"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set logscale x 2
set key below horizontal
set grid
plot "$tmp/plot.dat" using 1:2 with linespoints lw 2 title "requests/s", \
     "$tmp/plot.dat" using 1:3 with lines dt 2 title "linear from the first", \
     "$tmp/plot.dat" using 1:4 axes x1y2 with linespoints lw 2 title "server CPU per request"
EOF
say "wrote $out.json and $out.png"

if [ "$doc" = 1 ]; then
  {
    echo "## Scaling across reactors (\`scripts/bench/scaling.sh\`)"
    echo
    cat "$TABLE"
    echo
    echo "![requests/s and CPU per request by reactor count](img/$(basename "$out").png)"
    echo
    echo "Reproduce: \`scripts/bench/scaling.sh --threads=$threads_arg --server-cpus=${server_arg:-$(join "${server_cpus[@]:0:$max_t}")} --client-cpus=${client_arg:-$(join "${client_cpus[@]}")} --duration=$duration --repeat=$repeat --doc\` (JSON: \`docs/img/$(basename "$out").json\`)."
    echo
    python3 - "$out.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = {r["threads"]: r for r in d["rows"]}
for t, r in rows.items():
    print(f"<!-- fig scaling_rps_{t}t={r['requests_per_sec']:.0f} -->")
    print(f"<!-- fig scaling_cpu_{t}t={r['server_cpu_us_per_request']:.3f} -->")
    print(f"<!-- fig scaling_speedup_{t}t={r['speedup']:.3f} -->")
print(f"<!-- fig scaling_shared_cpus={'yes' if d['meta']['shared_cpus'] else 'no'} -->")
PY
  } >"$tmp/section.md"
  write_section scaling "$tmp/section.md"
  bash "$ROOT/scripts/bench/bench.sh" --targets-only
  say "wrote the scaling section of docs/benchmarks.md"
fi
