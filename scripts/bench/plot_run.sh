#!/usr/bin/env bash
# Runs kvbench against kvd, samples kvd's /metrics every second, and writes a CSV and a PNG chart
# with three panels: requests/s (GET, POST), p99 latency (GET, POST) and cache size.
#
#   scripts/bench/plot_run.sh [--uri http://HOST:PORT] [--duration SECONDS] [--out PREFIX]
#                       [--connections N] [--pipelining N] [--threads N] [--kvd-flags "..."]
#                       [-- more kvbench flags]
#
#   --uri         a running kvd; without it the script starts its own ./kvd on a free port
#                 (with --kvd-flags) and stops it afterwards
#   --duration    seconds of load (default 20)
#   --out         output prefix (default docs/img/load-run): writes PREFIX.csv and PREFIX.png
#   --connections, --pipelining, --threads: passed to kvbench (defaults 20, 10, 1)
#
# Per-second samples come from kvd's own counters: requests/s per method from api_requests_total
# deltas, p99 per method from request_duration_seconds{handler="/"} bucket deltas (interpolated as
# Prometheus's histogram_quantile does), and cache_size. kvbench's --json report supplies the
# totals in the chart's title. Binaries: $KVD_BIN / $KVBENCH_BIN, default ./kvd and ./kvbench.
# Needs python3 and gnuplot (Debian gnuplot-nox, installed when missing and running as root).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"  # usage, need_pkgs
repo=$(cd "$(dirname "$0")/../.." && pwd)

uri="" duration=20 out="$repo/docs/img/load-run" connections=20 pipelining=10 threads=1
kvd_flags="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --uri) uri=${2:?}; shift 2 ;;           --uri=*) uri=${1#*=}; shift ;;
    --duration) duration=${2:?}; shift 2 ;; --duration=*) duration=${1#*=}; shift ;;
    --out) out=${2:?}; shift 2 ;;           --out=*) out=${1#*=}; shift ;;
    --connections) connections=${2:?}; shift 2 ;; --connections=*) connections=${1#*=}; shift ;;
    --pipelining) pipelining=${2:?}; shift 2 ;;   --pipelining=*) pipelining=${1#*=}; shift ;;
    --threads) threads=${2:?}; shift 2 ;;   --threads=*) threads=${1#*=}; shift ;;
    --kvd-flags) kvd_flags=${2?}; shift 2 ;; --kvd-flags=*) kvd_flags=${1#*=}; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "plot_run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
duration=${duration%s}
if ! [[ $duration =~ ^[0-9]+$ ]] || [ "$duration" -lt 2 ] || [ "$duration" -gt 3600 ]; then
  echo "plot_run.sh: --duration must be 2..3600 seconds" >&2; exit 2
fi

kvbench=${KVBENCH_BIN:-$repo/kvbench}
kvd=${KVD_BIN:-$repo/kvd}
[ -x "$kvbench" ] || { echo "plot_run.sh: no kvbench at $kvbench (build it with: make)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "plot_run.sh: python3 is required" >&2; exit 1; }
need_pkgs gnuplot=gnuplot-nox

tmp=$(mktemp -d -t kvd-plot.XXXXXX)
kvd_pid="" bench_pid="" sampler_pid=""
stop_pid() {  # PID: SIGTERM, up to 5 s, then SIGKILL
  local p=$1
  if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then return 0; fi
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  wait "$p" 2>/dev/null || true
}
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  trap - EXIT INT TERM
  stop_pid "$bench_pid"; stop_pid "$sampler_pid"; stop_pid "$kvd_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- the kvd under test --
if [ -z "$uri" ]; then
  [ -x "$kvd" ] || { echo "plot_run.sh: no kvd at $kvd (build it with: make)" >&2; exit 1; }
  # kvbench sends no token, so the own kvd runs without auth whatever the environment says.
  # shellcheck disable=SC2086  # kvd_flags is a list of flags
  env -u KVD_AUTH_TOKEN -u KVD_AUTH_METRICS "$kvd" --port=0 --bind=127.0.0.1 $kvd_flags 2>"$tmp/kvd.log" >/dev/null &
  kvd_pid=$!
  port=""
  for _ in $(seq 1 100); do   # <= 10 s
    port=$(sed -nE 's/.*Starting server on :?([0-9]+).*/\1/p' "$tmp/kvd.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$kvd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "plot_run.sh: kvd did not start:" >&2; cat "$tmp/kvd.log" >&2; exit 1; }
  uri="http://127.0.0.1:$port"
  echo "plot_run.sh: started kvd (pid $kvd_pid) on $uri" >&2
fi
uri=${uri%/}
base=$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$uri")
python3 - "$base/healthz" <<'PY' || { echo "plot_run.sh: no kvd answering at $base" >&2; exit 1; }
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3).read()
PY

load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")   # other work on the host

# -- sampler: one row per second, from 1 s before the load to 2 s after it --
samples=$((duration + 3))
python3 - "$base/metrics" "$tmp/samples.csv" "$samples" "$tmp/sampler.ready" >"$tmp/sampler.log" 2>&1 <<'PY' &
import re, sys, time, urllib.request

url, path, n, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)')
label_re = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

def scrape():
    text = urllib.request.urlopen(url, timeout=2).read().decode()
    reqs, buckets, size = {}, {}, 0.0
    for ln in text.splitlines():
        m = line_re.match(ln)
        if not m:
            continue
        name, labels, value = m.group(1), dict(label_re.findall(m.group(2) or "")), float(m.group(3))
        if name == "api_requests_total":
            reqs[labels.get("method")] = reqs.get(labels.get("method"), 0.0) + value
        elif name == "request_duration_seconds_bucket" and labels.get("handler") == "/":
            b = buckets.setdefault(labels.get("method"), {})
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            b[le] = b.get(le, 0.0) + value
        elif name == "cache_size":
            size += value
    return reqs, buckets, size

def quantile(q, cur, prev):
    """histogram_quantile over the bucket deltas (cumulative counts), in seconds."""
    les = sorted(cur)
    d = [cur[le] - prev.get(le, 0.0) for le in les]
    if not d or d[-1] <= 0:
        return None
    rank = q * d[-1]
    for i, le in enumerate(les):
        if d[i] >= rank:
            if le == float("inf"):
                return les[i - 1] if i > 0 else None
            lo = les[i - 1] if i > 0 else 0.0
            below = d[i - 1] if i > 0 else 0.0
            inside = d[i] - below
            return lo + (le - lo) * ((rank - below) / inside if inside > 0 else 1.0)
    return None

def fmt(x, scale=1.0, digits=3):
    return "NaN" if x is None else f"{x * scale:.{digits}f}"

with open(path, "w") as f:
    f.write("t_s,get_rps,post_rps,get_p99_ms,post_p99_ms,cache_size\n")
    start = time.monotonic()
    prev, prev_t = scrape(), start
    open(ready, "w").close()
    for i in range(1, n + 1):
        time.sleep(max(0.0, start + i - time.monotonic()))
        now = time.monotonic()
        cur = scrape()
        dt = now - prev_t
        row = [f"{now - start:.2f}"]
        for m in ("get", "post"):
            row.append(f"{(cur[0].get(m, 0.0) - prev[0].get(m, 0.0)) / dt:.1f}")
        for m in ("get", "post"):
            row.append(fmt(quantile(0.99, cur[1].get(m, {}), prev[1].get(m, {})), 1e3))
        row.append(f"{cur[2]:.0f}")
        f.write(",".join(row) + "\n")
        f.flush()
        prev, prev_t = cur, now
PY
sampler_pid=$!

# -- the load, starting 1 s into the sampling --
for _ in $(seq 1 100); do   # <= 10 s
  [ -e "$tmp/sampler.ready" ] && break
  kill -0 "$sampler_pid" 2>/dev/null || break
  sleep 0.05
done
[ -e "$tmp/sampler.ready" ] || { echo "plot_run.sh: the sampler did not start:" >&2; cat "$tmp/sampler.log" >&2; exit 1; }
sleep 1
echo "plot_run.sh: kvbench --uri=$uri --duration=${duration}s --connections=$connections" \
     "--pipelining=$pipelining --threads=$threads ${extra[*]}" >&2
"$kvbench" --uri="$uri" --duration="${duration}s" --connections="$connections" \
  --pipelining="$pipelining" --threads="$threads" --json "${extra[@]}" \
  >"$tmp/kvbench.json" 2>"$tmp/kvbench.log" &
bench_pid=$!
rc=0
timeout_s=$((duration + 30))
for _ in $(seq 1 $((timeout_s * 10))); do kill -0 "$bench_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$bench_pid" 2>/dev/null; then
  echo "plot_run.sh: kvbench still running after ${timeout_s}s; stopping it" >&2; stop_pid "$bench_pid"
fi
wait "$bench_pid" || rc=$?
bench_pid=""
[ "$rc" -eq 0 ] || { echo "plot_run.sh: kvbench failed ($rc):" >&2; cat "$tmp/kvbench.log" >&2; exit 1; }

for _ in $(seq 1 100); do kill -0 "$sampler_pid" 2>/dev/null || break; sleep 0.1; done   # <= 10 s
wait "$sampler_pid" || { echo "plot_run.sh: the sampler failed:" >&2; cat "$tmp/sampler.log" >&2; exit 1; }
sampler_pid=""

mkdir -p "$(dirname "$out")"
cp "$tmp/samples.csv" "$out.csv"

# -- title from kvbench's report --
cores=$(nproc 2>/dev/null || echo "?")
where=$([ -n "$kvd_pid" ] && echo "kvd and kvbench on one ${cores}-core host" || echo "kvd at $base")
where+=", load average before the run $load_before"
title=$(python3 - "$tmp/kvbench.json" "$duration" "$connections" "$pipelining" "$where" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def k(x): return f"{x / 1000:.0f}k" if x >= 10000 else f"{x:.0f}"
g, p = r["get"], r["post"]
print(f"kvbench {sys.argv[2]}s, {sys.argv[3]} connections x {sys.argv[4]} pipelined: "
      f"{k(r['requests_per_sec'])} req/s ({k(g['total'])} GET, {k(p['total'])} POST); "
      f"p99 GET {g['latency_us']['p99'] / 1000:.2f} ms, POST {p['latency_us']['p99'] / 1000:.2f} ms "
      f"(client side)\\n{sys.argv[5]}; kvd's own metrics sampled every second")
PY
)
echo "plot_run.sh: ${title//\\n/; }" >&2

# -- chart --
gnuplot <<EOF
set terminal pngcairo size 1100,1000 font "DejaVu Sans,10" noenhanced
set output "$out.png"
set datafile separator ","
set datafile missing "NaN"
set key top right horizontal
set grid ytics lc rgb "#dddddd"
set xrange [0:$samples]
set lmargin 12
set multiplot layout 3,1 title "$title" font ",11"
set title "requests/s (kvd api_requests_total, per second)"
set format y "%.0s%c"
set yrange [0:*]
plot "$out.csv" using 1:2 skip 1 with lines lw 2 lc rgb "#1f77b4" title "GET", \
     "" using 1:3 skip 1 with lines lw 2 lc rgb "#d62728" title "POST"
set title "p99 latency, ms (kvd request_duration_seconds, handler \"/\", per second)"
set format y "%g"
plot "$out.csv" using 1:4 skip 1 with linespoints lw 2 pt 7 ps 0.5 lc rgb "#1f77b4" title "GET", \
     "" using 1:5 skip 1 with linespoints lw 2 pt 7 ps 0.5 lc rgb "#d62728" title "POST"
set title "cache size (live keys)"
set format y "%.0s%c"
set xlabel "seconds since the first sample (load from 1 s to $((duration + 1)) s)"
plot "$out.csv" using 1:6 skip 1 with lines lw 2 lc rgb "#2ca02c" title "keys"
unset multiplot
EOF
echo "wrote $out.csv and $out.png"
