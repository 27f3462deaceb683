#!/usr/bin/env bash
# Soak test: kvd under high pipelined load from ./kvbench for a long time, sampled every second.
#
#   scripts/bench/soak.sh [--minutes N] [--connections C] [--pipelining P] [--out DIR] [--png FILE]
#                   [-- extra kvd flags...]
#
#   --minutes      length of the load (default 10)
#   --connections  kvbench connections (default 50)
#   --pipelining   requests in flight per connection (default 20)
#   --out          where the CSV, logs and summary go (default build/soak)
#   --png          the chart (default docs/img/soak.png; needs gnuplot, installed as root if missing)
#   --plot-only    no run: redraw the chart from OUT/soak.csv
#
# Every second it records kvd's RSS and open descriptors (/proc/PID), its CPU time, and from
# /metrics the request rate and the server-side p99 latency of that second (interpolated in the
# request_duration_seconds buckets, as Prometheus's histogram_quantile does) into OUT/soak.csv.
# At the end it checks, and exits non-zero unless all hold:
#   - flat memory: after a warm-up (the first 20% of the run, at least 30 s), the mean RSS of the
#     last quarter is within 10% of the mean RSS of the first quarter; open descriptors steady;
#   - no errors: kvbench saw no errors, timeouts or non-2xx answers, and /metrics counted no
#     status other than 200/204;
#   - kvd stayed up and exited 0 on SIGTERM.
# The summary goes to stdout and OUT/summary.txt. Traffic stays on 127.0.0.1; the run ends by
# itself after the given minutes (plus a few seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."

minutes=10 connections=50 pipelining=20 out=build/soak png=docs/img/soak.png plot_only=0
kvd_extra=()
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:?}; shift 2 ;;
    --minutes=*) minutes=${1#*=}; shift ;;
    --connections) connections=${2:?}; shift 2 ;;
    --connections=*) connections=${1#*=}; shift ;;
    --pipelining) pipelining=${2:?}; shift 2 ;;
    --pipelining=*) pipelining=${1#*=}; shift ;;
    --out) out=${2:?}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --png) png=${2:?}; shift 2 ;;
    --png=*) png=${1#*=}; shift ;;
    --plot-only) plot_only=1; shift ;;
    --) shift; kvd_extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak.sh: bad --minutes: $minutes" >&2; exit 2; }
seconds=$(python3 -c "print(max(1, round(float('$minutes') * 60)))")

plot() {
  command -v gnuplot >/dev/null && [ "$(wc -l < "$out/soak.csv")" -gt 2 ] || return 0
  local label
  label=$(awk -F, 'END { printf "%.3g", $1 / 60 }' "$out/soak.csv")
  gnuplot <<EOF
set terminal pngcairo size 1100,820 font ",10" noenhanced
set output "$png"
set datafile separator ","
set key top left
set multiplot layout 3,1 title "kvd soak: $label min, kvbench ${connections}x${pipelining} pipelined (127.0.0.1)"
set grid
set lmargin 12
set ylabel "RSS (MiB)"
set y2label "open fds"
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
plot "$out/soak.csv" using 1:2 with lines lw 2 title "RSS", "" using 1:3 axes x1y2 with lines title "open fds"
unset y2label
unset y2tics
set ytics mirror
set ylabel "requests/s"
plot "$out/soak.csv" using 1:5 with lines title "request rate (from /metrics)"
set ylabel "p99 (ms)"
set xlabel "seconds"
plot "$out/soak.csv" using 1:6 with lines title "server p99 of each second (request_duration_seconds)"
unset multiplot
EOF
  echo "soak.sh: chart written to $png" >&2
}

if [ $plot_only -eq 1 ]; then
  [ -f "$out/soak.csv" ] || { echo "soak.sh: no $out/soak.csv" >&2; exit 1; }
  mkdir -p "$(dirname "$png")"
  plot
  exit 0
fi

[ -x ./kvd ] && [ -x ./kvbench ] || make kvd kvbench >&2
if ! command -v gnuplot >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "soak.sh: installing gnuplot-nox" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; } || true
  fi
  command -v gnuplot >/dev/null || echo "soak.sh: gnuplot not found; no chart (apt-get install gnuplot-nox)" >&2
fi

mkdir -p "$out" "$(dirname "$png")"
kvd_pid="" bench_pid=""
cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
  [ -n "$kvd_pid" ] && kill -9 "$kvd_pid" 2>/dev/null || true
}
trap cleanup EXIT

./kvd --port=0 --bind=127.0.0.1 "${kvd_extra[@]}" 2> "$out/kvd.log" &
kvd_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -nE 's/.*Starting server on :?([0-9]+).*/\1/p' "$out/kvd.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$kvd_pid" 2>/dev/null || { cat "$out/kvd.log" >&2; echo "soak.sh: kvd did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "soak.sh: kvd did not log its port" >&2; exit 1; }
echo "soak.sh: kvd pid $kvd_pid on 127.0.0.1:$port; kvbench ${connections}x${pipelining} for ${seconds}s" >&2

./kvbench --uri="http://127.0.0.1:$port" --duration="${seconds}s" --connections="$connections" \
  --pipelining="$pipelining" --json > "$out/kvbench.json" 2> "$out/kvbench.err" &
bench_pid=$!

# Sampler: one row a second while kvbench runs.
python3 - "$kvd_pid" "$port" "$bench_pid" "$out/soak.csv" <<'EOF'
import os, sys, time, urllib.request
pid, port, bench, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")

def alive(p):
    try:
        os.kill(p, 0)
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def scrape():
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    reqs, bad, buckets = 0.0, 0.0, {}
    for line in body.splitlines():
        if line.startswith("api_requests_total{"):
            v = float(line.rsplit(" ", 1)[1])
            reqs += v
            if 'code="200"' not in line and 'code="204"' not in line:
                bad += v
        elif line.startswith("request_duration_seconds_bucket{"):
            labels, v = line.rsplit(" ", 1)
            le = labels.split('le="')[1].split('"')[0]
            le = float("inf") if le == "+Inf" else float(le)
            buckets[le] = buckets.get(le, 0.0) + float(v)  # summed over handler and method
    return reqs, bad, buckets

def quantile(q, prev, cur):
    bounds = sorted(cur)
    counts = [cur[b] - prev.get(b, 0.0) for b in bounds]  # cumulative, this second only
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank, lo, below = q * total, 0.0, 0.0
    for b, c in zip(bounds, counts):
        if c >= rank:
            if b == float("inf"):
                return lo
            return lo + (b - lo) * (rank - below) / max(c - below, 1e-12)
        lo, below = b, c
    return lo

def proc():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    rss = int(fields[21]) * page
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return cpu, rss, fds

with open(path, "w") as out:
    out.write("seconds,rss_mib,open_fds,cpu_seconds,requests_per_second,p99_ms,non2xx_total\n")
    t0 = time.monotonic()
    prev_reqs, _, prev_buckets = scrape()
    prev_t = time.monotonic()
    next_t = prev_t + 1
    while alive(bench) and alive(pid):
        time.sleep(max(0.0, next_t - time.monotonic()))
        next_t += 1
        try:
            reqs, bad, buckets = scrape()
            cpu, rss, fds = proc()
        except OSError as e:
            print(f"soak.sh: sample failed: {e}", file=sys.stderr)
            continue
        now = time.monotonic()
        rate = (reqs - prev_reqs) / (now - prev_t)
        p99 = quantile(0.99, prev_buckets, buckets) * 1000
        out.write(f"{now - t0:.1f},{rss / 2**20:.2f},{fds},{cpu:.2f},{rate:.0f},{p99:.3f},{bad:.0f}\n")
        out.flush()
        prev_reqs, prev_buckets, prev_t = reqs, buckets, now
EOF

bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
kvd_alive=1
kill -0 "$kvd_pid" 2>/dev/null || kvd_alive=0
kvd_rc=""
if [ $kvd_alive -eq 1 ]; then
  kill -TERM "$kvd_pid"
  for _ in $(seq 100); do kill -0 "$kvd_pid" 2>/dev/null || break; sleep 0.1; done
  kvd_rc=0; wait "$kvd_pid" || kvd_rc=$?
fi
kvd_pid=""

# Verdict.
status=0
python3 - "$out/soak.csv" "$out/kvbench.json" "$bench_rc" "$kvd_alive" "${kvd_rc:-none}" "$seconds" \
  "$connections" "$pipelining" > "$out/summary.txt" <<'EOF' || status=$?
import csv, json, math, sys
path, bench_path, bench_rc, kvd_alive, kvd_rc, seconds, conns, pipe = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
fail = []
print(f"kvd soak: {float(seconds) / 60:g} min, kvbench {conns} connections x {pipe} pipelined, "
      f"{len(rows)} samples ({path})")
try:
    b = json.load(open(bench_path))
except (OSError, ValueError) as e:
    b = None
    fail.append(f"no kvbench report: {e}")
if b:
    tot = {k: b["get"][k] + b["post"][k] for k in ("total", "2xx", "non2xx", "errors", "timeouts")}
    print(f"kvbench: {tot['total']:,} requests, {tot['2xx']:,} 2xx, {tot['non2xx']} non-2xx, "
          f"{tot['errors']} errors, {tot['timeouts']} timeouts; "
          f"{b['requests_per_sec']['avg'] if isinstance(b.get('requests_per_sec'), dict) else b.get('requests_per_sec')} req/s avg; "
          f"client p99 GET {b['get']['latency_us']['p99'] / 1000:.2f} ms")
    if tot["non2xx"] or tot["errors"] or tot["timeouts"]:
        fail.append("kvbench saw errors, timeouts or non-2xx answers")
    if tot["total"] == 0:
        fail.append("kvbench made no requests")
if bench_rc != "0":
    fail.append(f"kvbench exited {bench_rc}")
if kvd_alive != "1":
    fail.append("kvd died during the soak")
elif kvd_rc != "0":
    fail.append(f"kvd exited {kvd_rc} after SIGTERM")
if not rows:
    fail.append("no samples")
else:
    dur = float(rows[-1]["seconds"])
    warm = max(30.0, 0.2 * dur)
    # Steady state: after the warm-up, and before the last 3 s (kvbench closing its connections).
    steady = [r for r in rows if warm <= float(r["seconds"]) <= dur - 3]
    bad = float(rows[-1]["non2xx_total"])
    if bad:
        fail.append(f"/metrics counted {bad:.0f} answers other than 200/204")
    if len(steady) < 8:
        fail.append(f"too few samples after the {warm:.0f} s warm-up to judge memory")
    else:
        q = len(steady) // 4
        first = sum(float(r["rss_mib"]) for r in steady[:q]) / q
        last = sum(float(r["rss_mib"]) for r in steady[-q:]) / q
        change = (last - first) / first
        rates = [float(r["requests_per_second"]) for r in steady]
        p99s = sorted(float(r["p99_ms"]) for r in steady if not math.isnan(float(r["p99_ms"])))
        fds = [int(r["open_fds"]) for r in steady]
        peak = max(float(r["rss_mib"]) for r in rows)
        cpu = float(rows[-1]["cpu_seconds"]) - float(rows[0]["cpu_seconds"])
        print(f"warm-up: first {warm:.0f} s excluded; steady state: {len(steady)} samples")
        print(f"RSS: first quarter {first:.1f} MiB, last quarter {last:.1f} MiB ({change:+.1%}); "
              f"peak {peak:.1f} MiB")
        print(f"open fds: {min(fds)}..{max(fds)}")
        print(f"request rate (server): mean {sum(rates) / len(rates):,.0f}/s, "
              f"min {min(rates):,.0f}/s, max {max(rates):,.0f}/s")
        if p99s:
            print(f"server p99 per second: median {p99s[len(p99s) // 2]:.3f} ms, "
                  f"worst {p99s[-1]:.3f} ms")
        print(f"kvd CPU: {cpu:.1f} s over {dur:.0f} s")
        if abs(change) > 0.10:
            fail.append(f"RSS changed {change:+.1%} between the first and last quarter (limit 10%)")
        if max(fds) - min(fds) > 10:
            fail.append(f"open descriptors varied {min(fds)}..{max(fds)}")
for f in fail:
    print(f"FAIL: {f}")
print("soak: PASS" if not fail else "soak: FAIL")
sys.exit(1 if fail else 0)
EOF
cat "$out/summary.txt"

plot
exit $status
