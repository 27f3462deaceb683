#!/usr/bin/env bash
# RSS over time while the value size shifts: a fresh server with a 32 MB budget, one pipelined
# client (scripts/bench/sizeshift.py) writing, phase by phase, 64 MiB of values of 100 bytes, then 300,
# 900, 2700, 6000 and 100 bytes again, to random keys in [0, 1000000) (seeded), every answer
# checked (kvd: 200, or 507 when a value cannot be stored; both counted). VmRSS is sampled about
# every 100 ms. kvd, Redis and memcached one after the other, in the same run:
#
#   kvd        ./kvd --threads=1 --max-memory=32M --ttl=10m
#   Redis      redis-server --maxmemory 32mb --maxmemory-policy allkeys-lru --save '' --appendonly no
#   memcached  memcached -m 32
#
# --steady instead writes values of 999, 1000 and 1001 bytes in turn, 5 x the budget (5 phases of
# one budget each).
#
#   scripts/bench/sizeshift.sh [--steady] [--servers=kvd,redis,memcached] [--out=PREFIX] [--doc]
#                        [--note=TEXT] [--no-build]
#
#   --out   writes PREFIX.csv (server,t_s,phase,rss_mib) and PREFIX.png (RSS in MiB over time, a
#           panel per server, dashed lines at the budget and at 1.15 x budget + 8 MiB, phase
#           boundaries marked); default docs/img/sizeshift (--steady: docs/img/sizeshift-steady)
#   --doc   writes the "sizeshift" (or "sizeshift-steady") section of docs/benchmarks.md; --note is
#           printed at its top
#
# Prints the summary (the largest RSS growth over the RSS before the first write, per phase) as
# markdown. Every process started is stopped by its PID; 127.0.0.1 only; each client run is
# bounded (15 min). Takes about 40 s (--steady: about 10 s).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup sizeshift
steady=0 servers=kvd,redis,memcached out="" doc=0 note="" build=1
budget_mb=32
while [ $# -gt 0 ]; do
  case "$1" in
    --steady) steady=1 ;;
    --servers=*) servers=${1#*=} ;;
    --out=*) out=${1#*=} ;;
    --doc) doc=1 ;;
    --note=*) note=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
for s in ${servers//,/ }; do
  case "$s" in kvd|redis|memcached) ;; *) echo "sizeshift.sh: unknown server $s" >&2; exit 1 ;; esac
done
name=sizeshift steady_arg=()
if [ "$steady" = 1 ]; then name=sizeshift-steady steady_arg=(--steady); fi
out=${out:-$ROOT/docs/img/$name}
need_pkgs "redis-server=redis-server redis-tools" "redis-cli=redis-server redis-tools" memcached \
  gnuplot=gnuplot-nox
build_if "$build"

setup_tmp sizeshift keep
copy_bins kvd
budget=$((budget_mb << 20))
echo "server,t_s,phase,rss_mib" >"$tmp/rss.csv"
: >"$tmp/runs.jsonl"
for s in ${servers//,/ }; do
  case "$s" in
    kvd) run_kvd "$tmp/kvd.log" -- --threads=1 --max-memory="${budget_mb}M" --ttl=10m
         pid=$KVD_PID port=$KVD_PORT ;;
    redis) run_redis -- --maxmemory "${budget_mb}mb" --maxmemory-policy allkeys-lru
           pid=$REDIS_PID port=$REDIS_PORT ;;
    memcached) run_memcached -- -m "$budget_mb"
               pid=$MEMCACHED_PID port=$MEMCACHED_PORT ;;
  esac
  sleep 0.5
  say "$s (pid $pid, port $port)"
  timeout 960 /usr/bin/python3 scripts/bench/sizeshift.py --server="$s" --port="$port" --pid="$pid" \
    --budget="$budget" --csv="$tmp/rss.csv" "${steady_arg[@]}" --max-seconds=900 >>"$tmp/runs.jsonl"
  stop_pid "$pid"
  say "$s: max RSS $(tail -1 "$tmp/runs.jsonl" | python3 -c 'import json, sys; r = json.load(sys.stdin)
print("%.1f MiB" % (max(p["max_rss_kib"] for p in r["phases"]) / 1024))')"
done

mkdir -p "$(dirname "$out")"
cp "$tmp/rss.csv" "$out.csv"
python3 - "$tmp/runs.jsonl" "$tmp" "$out" "$budget_mb" "$steady" "$(utc_date)" "$(kvd_version)" \
  "$(redis-server --version | awk '{print $3}' | sed 's/v=//')" "$(memcached -V | awk '{print $2}')" \
  "$note" "$name" <<'PY'
import json, sys
runs_path, tmp, out, budget_mb, steady, date, kv, rv, mv, note, name = sys.argv[1:]
budget_mb, steady = int(budget_mb), steady == "1"
runs = [json.loads(l) for l in open(runs_path)]
limit = 1.15 * budget_mb + 8
MiB = 1024.0
flags = {"kvd": f"`--threads=1 --max-memory={budget_mb}M --ttl=10m`",
         "redis": f"`--maxmemory {budget_mb}mb --maxmemory-policy allkeys-lru`", "memcached": f"`-m {budget_mb}`"}
vers = {"kvd": kv, "redis": rv, "memcached": mv}

# The chart: one panel per server, same axes.
rows = [l.rstrip("\n").split(",") for l in open(f"{out}.csv")][1:]
top = max([float(r[3]) for r in rows] + [limit]) * 1.1
tmax = max(float(r[1]) for r in rows) * 1.02
g = [f'set terminal pngcairo size 1100,{300 * len(runs) + 120} font "DejaVu Sans,10" noenhanced',
     f'set output "{out}.png"', 'set datafile separator ","', 'set grid ytics lc rgb "#dddddd"',
     f'set yrange [0:{top:.0f}]', f'set xrange [0:{tmax:.1f}]', 'set ylabel "RSS, MiB"', 'set key left center opaque box',
     f'set multiplot layout {len(runs)},1 title "{"steady: 999..1001-byte values, 5 x the budget" if steady else "value size shifting 100 -> 300 -> 900 -> 2700 -> 6000 -> 100 bytes, 64 MiB of values a phase"}; budget {budget_mb} MiB; RSS sampled every 100 ms\\nkvd {kv}, Redis {rv}, memcached {mv}; {date}" font ",11"']
for r in runs:
    s = r["server"]
    with open(f"{tmp}/{s}.dat", "w") as f:
        for row in rows:
            if row[0] == s:
                f.write(f"{row[1]},{row[3]}\n")
    g.append("unset arrow; unset label")
    for i, p in enumerate(r["phases"]):
        # Staggered: short phases put their boundaries close together.
        g.append(f'set arrow from {p["t_start"]}, graph 0 to {p["t_start"]}, graph 1 nohead lc rgb "#888888" dt 3')
        g.append(f'set label "{p["phase"]}" at {p["t_start"]}, graph {0.94 - 0.09 * (i % 3):.2f} offset 0.5,0 tc rgb "#555555"')
    g.append(f'set title "{s} {flags[s]}"'.replace("`", ""))
    if r is runs[-1]:
        g.append('set xlabel "seconds since the first write"')
    g.append(f'plot "{tmp}/{s}.dat" using 1:2 with lines lw 2 lc rgb "#1f77b4" title "RSS", '
             f'{budget_mb} with lines dt 2 lw 1.5 lc rgb "#2ca02c" title "budget ({budget_mb} MiB)", '
             f'{limit:.1f} with lines dt 2 lw 1.5 lc rgb "#d62728" title "1.15 x budget + 8 MiB ({limit:.1f})"')
g.append("unset multiplot")
open(f"{tmp}/plot.gp", "w").write("\n".join(g) + "\n")

# The summary.
pnames = [p["phase"] for p in runs[0]["phases"]]
T = ["| server | RSS before | " + " | ".join(f"max growth, {p}" for p in pnames) + " | **max RSS** | max RSS / budget | max growth under 1.15 x budget + 8 MiB |",
     "|---|---|" + "---|" * len(pnames) + "---|---|---|"]
figs = []
for r in runs:
    s, base = r["server"], r["start_rss_kib"]
    peak = max(p["max_rss_kib"] for p in r["phases"])
    T.append(f"| {s} | {base / MiB:.1f} MiB | " +
             " | ".join(f"+{(p['max_rss_kib'] - base) / MiB:.1f}" for p in r["phases"]) +
             f" | **{peak / MiB:.1f} MiB** | {peak / MiB / budget_mb:.2f} | {'yes' if (peak - base) / MiB <= limit else '**no**'} |")
    figs.append(f"<!-- fig {name.replace('-', '_')}_{s}_max_mib={peak / MiB:.1f} -->")
    figs.append(f"<!-- fig {name.replace('-', '_')}_{s}_growth_mib={(peak - base) / MiB:.1f} -->")
figs.append(f"<!-- fig {name.replace('-', '_')}_bound_mib={limit:.1f} -->")
D = ["| server | phase | writes | refused | keys at end | server's own figure at end | RSS at end |",
     "|---|---|---|---|---|---|---|"]
for r in runs:
    for p in r["phases"]:
        own = p.get("memory_reserved", p.get("memory_used", 0)) / 2 ** 20
        D.append(f"| {r['server']} | {p['phase']} | {p['writes']:,} | {p['refused']:,} | {p['keys']:,} | "
                 f"{own:.1f} MiB | {p['end_rss_kib'] / MiB:.1f} MiB |")
print("\n".join(T))
what = ("values of 999, 1000 and 1001 bytes in turn, 5 x the budget in all" if steady else
        "64 MiB of values a phase, of 100, 300, 900, 2700, 6000 and again 100 bytes")
title = "Steady 1,000-byte values" if steady else "RSS while the value size shifts"
L = [f"## {title} (`scripts/bench/sizeshift.sh{' --steady' if steady else ''}`)", ""]
if note:
    L += [f"**{note}**", ""]
L += [f"Run {date}; a fresh server with a {budget_mb} MiB budget, one at a time: " +
      ", ".join(f"{s} {vers[s]} ({flags[s]})" for s in (r["server"] for r in runs)) +
      f". One pipelined connection (`scripts/bench/sizeshift.py`, batches of 64) writes {what}, to random keys "
      f"in [0, 1000000); every answer checked ('refused': kvd 507, Redis -OOM, memcached SERVER_ERROR). "
      f"VmRSS sampled every 100 ms; growth is over the RSS before the first write. The server's own "
      f"figure: kvd `kvd_memory_reserved_bytes` (what it holds, checked against the limit), Redis "
      f"`used_memory`, memcached `bytes`.", "",
      f"![RSS over time]({'img/' + out.rsplit('/', 1)[-1] + '.png'})", ""]
L += T + [""] + D + ["", f"Reproduce: `scripts/bench/sizeshift.sh{' --steady' if steady else ''} --doc`; the samples are in "
                     f"`docs/img/{out.rsplit('/', 1)[-1]}.csv`.", ""] + figs
open(f"{tmp}/section.md", "w").write("\n".join(L) + "\n")
PY
gnuplot "$tmp/plot.gp"
say "wrote $out.csv and $out.png"
if [ "$doc" = 1 ]; then write_section "$name" "$tmp/section.md"; say "wrote the $name section of $DOC"; fi
