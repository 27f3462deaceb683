#!/usr/bin/env bash
# autocannon-go, the load tool the seed's README uses (liufuyang/autocannon-go), against kvd (1
# reactor, and all reactors) and against the seed's own Go server (liufuyang/http-kv, golang/), in
# one run, beside kvbench on the same servers: what a user who runs the seed's load test sees, and
# where the time goes. This script builds neither Go program: pass the binaries you built.
#
#   scripts/bench/autocannon.sh --autocannon=PATH --seed-server=PATH [--duration=10] [--repeat=3]
#                               [--nice=N] [--no-seed] [--no-build] [--doc]
#
#   --autocannon   an autocannon-go binary (or AUTOCANNON_GO=PATH)
#   --seed-server  the seed's server binary (or SEED_SERVER=PATH); it always listens on :8081
#   --no-seed      measure kvd only (the section then says the seed was not run)
#   --duration     seconds of load per run, whole seconds: autocannon-go's --duration takes no unit
#                  (default 10)
#   --repeat       rounds, interleaved so that noise from other work spreads evenly; medians are
#                  quoted (default 3)
#   --nice         every server and client under `nice -n N`
#   --doc          write the "autocannon" section of docs/benchmarks.md (otherwise only print it)
#
# The seed's load shape throughout: 20 connections, pipelining 10, 80% GET / 20% POST on random
# keys in [0, 1000000), the same --duration for every run:
#
#   autocannon-go --connections=20 --pipelining=10  -> kvd 1 reactor, kvd all reactors, the seed
#   kvbench --connections=20 --pipelining=10        -> the same three servers
#   kvbench --connections=20 --pipelining=1         -> kvd 1 reactor (the unpipelined regime)
#
# Pinned as scripts/bench/bench.sh pins (2+ CPUs): servers on CPU 1, clients on CPU 0; the
# all-reactor kvd (--threads=$(nproc)) and its clients unpinned. The seed's Go runtime sizes
# GOMAXPROCS from the CPUs it may run on, so pinned it runs one P, like kvd's one reactor.
#
# Per run, over a window from the client's first request to the last sample (every 0.25 s) before it
# exits (autocannon-go first spends seconds and ~800 MB generating 100M random keys, which is not load): req/s as the
# client prints it (autocannon-go: the Avg of its GET and POST Req/Sec rows, added), what the server
# answered (api_requests_total: kvd and the seed export the same counter), server and client CPU
# per request (/proc/PID/stat), read+write syscalls per request of each (/proc/PID/io: for the
# client, writes per request is how many requests it puts in one write), each one's share of a
# core, and the CPU every other process took (/proc/stat).
#
# As root the script runs in a network namespace of its own (unshare --net, loopback only): the
# seed binds :8081 on every address, and another kvd on this shared machine may hold 8081. Without
# root it needs 127.0.0.1:8081 free. Every process it starts is stopped by its PID; KEEP_TMP=1 keeps
# its temp dir (every client's output) and prints its path.
# About repeat x (7 x duration + 3 x ~3 s of key generation) + ~15 s (~5 min with the defaults).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
args=("$@")
autocannon=${AUTOCANNON_GO:-} seed=${SEED_SERVER:-} duration=10 repeat=3 nice="" doc=0 build=1 no_seed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --autocannon=*) autocannon=${1#*=} ;;
    --seed-server=*) seed=${1#*=} ;;
    --no-seed) no_seed=1 ;;
    --duration=*) duration=${1#*=}; duration=${duration%s} ;;
    --repeat=*) repeat=${1#*=} ;;
    --nice=*) nice=${1#*=} ;;
    --doc) doc=1 ;;
    *) common_arg "$1" ;;
  esac
  shift
done
me=${0##*/}
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "$me: --duration takes whole seconds (autocannon-go's unit), got '$duration'" >&2; exit 1; }
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "$me: --repeat takes a positive count, got '$repeat'" >&2; exit 1; }
missing=()
not_exe() { [ -z "$1" ] || printf ' ("%s" is not an executable file)' "$1"; }
if [ -z "$autocannon" ] || [ ! -x "$autocannon" ]; then
  missing+=("--autocannon=PATH (or AUTOCANNON_GO=PATH): an autocannon-go binary, built from liufuyang/autocannon-go$(not_exe "$autocannon")")
fi
if [ "$no_seed" = 0 ] && { [ -z "$seed" ] || [ ! -x "$seed" ]; }; then
  missing+=("--seed-server=PATH (or SEED_SERVER=PATH): the seed's Go server, built from liufuyang/http-kv golang/$(not_exe "$seed"); or --no-seed to measure kvd alone")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "$me: this script builds neither Go program; pass what is missing:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "  Build them outside this repository, which carries neither their code nor a recipe for them (both build with Debian's golang-go and golang-*-dev packages, GOPATH mode)." >&2
  exit 2
fi
autocannon=$(realpath "$autocannon")
[ "$no_seed" = 1 ] || seed=$(realpath "$seed")
# autocannon-go prints its flags and exits 1 without --uri: a cheap check that PATH is that tool.
if ! { "$autocannon" 2>&1 || true; } | grep -q -- '-pipelining'; then
  echo "$me: $autocannon does not look like autocannon-go (no -pipelining flag in its usage)" >&2; exit 2
fi

# The seed's fixed :8081 on every address, and other people's servers on this machine, are why a
# private namespace is worth a re-exec; the namespace has only loopback, so no traffic can leave.
if [ -z "${KVD_AUTOCANNON_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
  exec unshare --net -- env KVD_AUTOCANNON_NETNS=1 bash "$(realpath "$0")" "${args[@]}"
fi
netns="the host's network namespace"
if [ -n "${KVD_AUTOCANNON_NETNS:-}" ]; then
  ip link set lo up
  netns="a network namespace of its own (loopback only)"
fi

bench_setup autocannon
need_pkgs curl python3
build_if "$build"
setup_tmp autocannon keep
copy_bins kvd kvbench
set_pins "$nice"
ncpu=$(nproc)
[ "$no_seed" = 1 ] || cp "$seed" "$tmp/seed-server"
cp "$autocannon" "$tmp/autocannon-go"

declare -A PID PORT
start_kvd() {  # start_kvd NAME THREADS WRAPPER...
  local name=$1 threads=$2; shift 2
  run_kvd "$tmp/$name.log" "$@" -- --threads="$threads"
  PID[$name]=$KVD_PID PORT[$name]=$KVD_PORT
  say "$name: kvd --threads=$threads pid $KVD_PID port $KVD_PORT ${*:-unpinned}"
}
start_seed() {
  # The seed ignores ListenAndServe's error and exits 0 when 8081 is taken, and /size on someone
  # else's server would answer just as well: so 8081 must be free before it starts.
  if (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null; then
    echo "$me: 127.0.0.1:8081 is in use and the seed cannot listen elsewhere: stop that server, or run as root (private network namespace)" >&2
    exit 1
  fi
  "${SRV_PIN[@]}" "$tmp/seed-server" 2>"$tmp/seed.log" &
  PID[seed]=$!
  pids+=("${PID[seed]}")
  PORT[seed]=8081
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:8081/size" >/dev/null 2>&1 && break
    kill -0 "${PID[seed]}" 2>/dev/null || { cat "$tmp/seed.log" >&2; echo "$me: the seed exited" >&2; exit 1; }
    sleep 0.05
  done
  kill -0 "${PID[seed]}" 2>/dev/null || { cat "$tmp/seed.log" >&2; exit 1; }
  say "seed: pid ${PID[seed]} port 8081 ${SRV_PIN[*]}"
}
served() { metric "${PORT[$1]}" api_requests_total; }
io_rw() { awk '/^syscr/ {r = $2} /^syscw/ {w = $2} END {print r, w}' "/proc/$1/io"; }
drop_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# snap SERVER CLIENT_PID: one line of the counters a window is computed from; fails, printing
# nothing, once a process is gone.
snap() {
  local f
  read -ra f <<<"$EPOCHREALTIME $(proc_cpu "${PID[$1]}") $(io_rw "${PID[$1]}") $(proc_cpu "$2") $(io_rw "$2") $(served "$1") $(machine_busy) $(proc_rss "$2")"
  [ ${#f[@]} = 12 ] && echo "${f[*]}"
}
RESULTS=$tmp/results.tsv
: >"$RESULTS"
seq_no=0
# measure SERVER TOOL ROUND: one client run against SERVER, appended to $RESULTS
measure() {
  local srv=$1 tool=$2 round=$3 out wrap=("${CLI_PIN[@]}") cpid t_start gen=0 s s0 s1 rc=0
  out=$tmp/run$((++seq_no)).$srv.$tool.out
  [ "$srv" = kvdall ] && wrap=("${NICE[@]}")
  t_start=$EPOCHREALTIME
  case $tool in
    autocannon)
      "${wrap[@]}" "$tmp/autocannon-go" --connections=20 --pipelining=10 --duration="$duration" \
        --uri="http://127.0.0.1:${PORT[$srv]}" >"$out" 2>"$out.err" &
      cpid=$!; pids+=("$cpid")
      # Its clock starts when runClients returns, right after this line: the keys are ready.
      for _ in $(seq 2400); do
        grep -q '^Generated' "$out" 2>/dev/null && break
        kill -0 "$cpid" 2>/dev/null || { cat "$out" "$out.err" >&2; echo "$me: autocannon-go exited before its run" >&2; exit 1; }
        sleep 0.05
      done
      grep -q '^Generated' "$out" || { echo "$me: autocannon-go did not finish generating keys in 120 s" >&2; exit 1; }
      gen=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}') ;;
    kvbench|kvbench_p1)
      "${wrap[@]}" "$tmp/kvbench" --uri="http://127.0.0.1:${PORT[$srv]}" --duration="${duration}s" \
        --connections=20 --pipelining="$([ "$tool" = kvbench ] && echo 10 || echo 1)" --json >"$out" 2>"$out.err" &
      cpid=$!; pids+=("$cpid")
      sleep 0.2 ;;  # connected and loaded by then
  esac
  s0=$(snap "$srv" "$cpid") || { echo "$me: $tool exited at once against $srv" >&2; cat "$out.err" >&2; exit 1; }
  # The window ends at the last sample taken while the client was still running: a fixed sleep
  # overshoots its exit when this machine is busy and forks are slow.
  s1=""
  for _ in $(seq $(( (duration + 120) * 4 ))); do
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.25
    s=$(snap "$srv" "$cpid" 2>/dev/null) && s1=$s
  done
  [ -n "$s1" ] || { echo "$me: $tool against $srv stopped before a second sample" >&2; exit 1; }
  wait "$cpid" || rc=$?
  drop_pid "$cpid"
  [ "$rc" = 0 ] || { cat "$out.err" >&2; echo "$me: $tool against $srv exited $rc" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$tool" "$round" "$gen" "$s0" "$s1" "$out" >>"$RESULTS"
  say "$tool -> $srv round $round done"
}

start_kvd kvd1 1 "${SRV_PIN[@]}"
start_kvd kvdall "$ncpu" "${NICE[@]}"
servers=(kvd1 kvdall)
if [ "$no_seed" = 0 ]; then start_seed; servers+=(seed); fi

say "warm-up (kvbench, 2 s a server: the key space filled before the first measured run)"
for s in "${servers[@]}"; do
  w=("${CLI_PIN[@]}"); [ "$s" = kvdall ] && w=("${NICE[@]}")
  "${w[@]}" "$tmp/kvbench" --uri="http://127.0.0.1:${PORT[$s]}" --duration=2s >/dev/null
done

for round in $(seq "$repeat"); do
  for s in "${servers[@]}"; do measure "$s" autocannon "$round"; done
  for s in "${servers[@]}"; do measure "$s" kvbench "$round"; done
  measure kvd1 kvbench_p1 "$round"
done

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $ncpu CPUs, $(uname -sr)"
gover=$( (command -v go >/dev/null && go version | awk '{print $3}') || echo "Go version unknown")
python3 - "$RESULTS" "$tmp/section.md" "$duration" "$repeat" "$(utc_date)" "$(kvd_version)" "$machine" \
  "$nice" "$netns" "$no_seed" "$gover" "$ncpu" <<'PY'
import json, re, statistics, sys
res, body_path, duration, repeat, date, version, machine, nice, netns, no_seed, gover, ncpu = sys.argv[1:]
HZ = 100.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")

def autocannon_report(text):
    """autocannon-go's tables: per section (GET, POST) the Req/Sec Avg, latency p50/p99 (ms), counts."""
    text = ANSI.sub("", text)
    get, _, post = text.partition("Write/POST")
    r = {}
    for name, part in (("get", get), ("post", post)):
        cells = lambda row: [c.strip() for c in re.search(r"^\|\s*" + row + r"\s*\|(.*)\|\s*$", part, re.M).group(1).split("|")]
        req, lat = cells("Req/Sec"), cells("Latency")
        ok, bad = map(int, re.search(r"(\d+) 2xx responses, (\d+) non 2xx", part).groups())
        m = re.search(r"(\S+) total errors", part)
        errs = m.group(1) if m else "0"
        errs = int(float(errs[:-1]) * 1000) if errs.endswith("k") else int(errs)
        r[name] = dict(avg=float(req[4]), p50=float(lat[1].split()[0]), p99=float(lat[3].split()[0]),
                       ok=ok, non2xx=bad, errors=errs)
    return dict(rps=r["get"]["avg"] + r["post"]["avg"], get_p50=r["get"]["p50"], get_p99=r["get"]["p99"],
                bad=sum(r[k]["non2xx"] + r[k]["errors"] for k in r), post_share=r["post"]["ok"] / max(1, r["get"]["ok"] + r["post"]["ok"]))

def kvbench_report(text):
    d = json.loads(text)
    total = d["get"]["total"] + d["post"]["total"]
    return dict(rps=total / d["duration"], get_p50=d["get"]["latency_us"]["p50"] / 1e3,
                get_p99=d["get"]["latency_us"]["p99"] / 1e3, post_share=d["post"]["total"] / max(1, total),
                bad=sum(d[k]["errors"] + d[k]["non2xx"] + d[k]["timeouts"] for k in ("get", "post")))

runs = []
for line in open(res):
    srv, tool, rnd, gen, s0, s1, out = line.rstrip("\n").split("\t")
    a, b = [list(map(float, s.split())) for s in (s0, s1)]
    # time, server utime stime syscr syscw, client utime stime syscr syscw, served, machine busy, client RSS
    wall = b[0] - a[0]
    d = [y - x for x, y in zip(a, b)]
    n = max(d[9], 1)
    su, ss, cu, cs = d[1] / HZ, d[2] / HZ, d[5] / HZ, d[6] / HZ
    rep = (autocannon_report if tool == "autocannon" else kvbench_report)(open(out).read())
    # kvbench sends and receives with send()/recv(), which /proc/PID/io does not count (it counts
    # read()/write() and their vector forms, what Go's net package and kvd use).
    counted = tool == "autocannon"
    runs.append(dict(srv=srv, tool=tool, round=int(rnd), gen=float(gen), wall=wall, served=d[9],
                     served_rps=d[9] / wall,
                     srv_us=(su + ss) / n * 1e6, srv_user_us=su / n * 1e6, srv_sys_us=ss / n * 1e6,
                     srv_busy=(su + ss) / wall * 100, srv_reads=d[3] / n, srv_writes=d[4] / n,
                     srv_io=(d[3] + d[4]) / n,
                     cli_us=(cu + cs) / n * 1e6, cli_user_us=cu / n * 1e6, cli_sys_us=cs / n * 1e6,
                     cli_busy=(cu + cs) / wall * 100,
                     cli_writes=d[8] / n if counted else None, cli_reads=d[7] / n if counted else None,
                     others=max(0.0, d[10] / HZ - su - ss - cu - cs) / wall, cli_rss_mib=b[11] / 1024, **rep))

def med(rs, k):
    v = [r[k] for r in rs if r[k] is not None]
    return statistics.median(v) if v else None
SRV = {"kvd1": "kvd 1 reactor", "kvdall": "kvd all reactors", "seed": "seed (Go)"}
TOOL = {"autocannon": "autocannon-go -c 20 -p 10", "kvbench": "kvbench 20 x 10", "kvbench_p1": "kvbench 20 x 1"}
FIG = {"autocannon": "ac", "kvbench": "kvbench", "kvbench_p1": "kvbench_p1"}
order = [(t, s) for t in ("autocannon", "kvbench", "kvbench_p1") for s in ("kvd1", "kvdall", "seed")]
groups = {k: [r for r in runs if (r["tool"], r["srv"]) == k] for k in order}
groups = {k: v for k, v in groups.items() if v}
NUM = [f for f, v in runs[0].items() if f not in ("srv", "tool")]
M = {k: {f: med(v, f) for f in NUM} for k, v in groups.items()}
def g(tool, srv, f):
    return M.get((tool, srv), {}).get(f)
def n2(v, fmt="{:.2f}"):
    return "—" if v is None else fmt.format(v)
BUSY = 85  # % of a core above which a process is taken to be what limits the rate

L = ["## autocannon-go, the seed's load tool, against kvd and the seed (`scripts/bench/autocannon.sh`)", "",
     f"Run {date} on {machine}, in {netns}. kvd {version} (defaults: `--ttl=10s`); the seed's server and "
     f"autocannon-go built with {gover} and Debian's golang-*-dev packages (GOPATH mode, outside this "
     f"repository). {duration} s of load per run, {repeat} interleaved round(s), medians"
     f"{'; every process under `nice -n ' + nice + '`' if nice else ''}. The seed's load shape throughout: 20 "
     f"connections, pipelining 10, 80% GET / 20% POST on random keys of 1,000,000. Pinning as in "
     f"`bench.sh`: server CPU 1, client CPU 0; the all-reactor kvd (`--threads={ncpu}`) and its clients "
     f"unpinned. CPU, syscalls and 'answered' are measured over a window from the client's first request "
     f"to the last sample (every 0.25 s) before it exits (autocannon-go first generates 100M random keys, "
     f"which is not load); req/s is what the client itself prints (autocannon-go: its GET and POST "
     f"`Req/Sec` Avg, added). Syscalls are `read`/`write` calls from `/proc/PID/io`; kvbench uses "
     f"`send`/`recv`, which it does not count ('—': by design kvbench makes one `send` per batch of "
     f"`--pipelining` requests). 'others' is the CPU every other process on the machine took meanwhile.", ""]
if no_seed == "1":
    L += ["**The seed's server was not run** (`--no-seed`).", ""]
L += ["| client | server | runs | req/s (client's own) | server answered/s | GET p50 / p99 ms | errors + non-2xx | "
      "server CPU µs/req (user + sys) | server core busy | server syscalls/req (read + write) | "
      "client CPU µs/req (user + sys) | client core busy | client writes/req | client reads/req | others (cores) |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for (t, s), rs in groups.items():
    m = M[(t, s)]
    L.append(f"| {TOOL[t]} | {SRV[s]} | {len(rs)} | {m['rps']:,.0f} | {m['served_rps']:,.0f} | "
             f"{m['get_p50']:.3g} / {m['get_p99']:.3g} | {sum(r['bad'] for r in rs)} | "
             f"**{m['srv_us']:.2f}** ({m['srv_user_us']:.2f} + {m['srv_sys_us']:.2f}) | {m['srv_busy']:.0f}% | "
             f"{m['srv_io']:.2f} ({m['srv_reads']:.2f} + {m['srv_writes']:.2f}) | "
             f"**{m['cli_us']:.2f}** ({m['cli_user_us']:.2f} + {m['cli_sys_us']:.2f}) | "
             f"{m['cli_busy']:.0f}% | {n2(m['cli_writes'])} | {n2(m['cli_reads'])} | {m['others']:.2f} |")
L += ["", "Each run (client's req/s; server CPU µs/req; client CPU µs/req; others):", ""]
for (t, s), rs in groups.items():
    L.append(f"- {TOOL[t]} -> {SRV[s]}: " + "; ".join(
        f"{r['rps']:,.0f} req/s, {r['srv_us']:.2f} µs, {r['cli_us']:.2f} µs, others {r['others']:.2f}" for r in rs))
L.append("")

def limit(m, who):
    """What bounded a run, from the two processes' shares of their cores."""
    if m["cli_busy"] >= BUSY and m["cli_busy"] >= m["srv_busy"]:
        return f"the client is the limit ({m['cli_busy']:.0f}% of its core; {who} {m['srv_busy']:.0f}%)"
    if m["srv_busy"] >= BUSY:
        return f"{who} is the limit ({m['srv_busy']:.0f}% of its core; the client {m['cli_busy']:.0f}%)"
    return (f"neither had its core to itself: the client got {m['cli_busy']:.0f}% of one and {who} "
            f"{m['srv_busy']:.0f}%, while other work took {m['others']:.2f} cores")

CAPS = {}
a1, sd, kb, k1 = (M.get(k) for k in (("autocannon", "kvd1"), ("autocannon", "seed"), ("kvbench", "kvd1"), ("kvbench_p1", "kvd1")))
if a1:
    L += ["### Where the time goes", ""]
    L.append(
        f"**autocannon-go costs more CPU a request than kvd does.** Against kvd with one reactor it spent "
        f"{a1['cli_us']:.2f} µs of CPU a request ({a1['cli_user_us']:.2f} user + {a1['cli_sys_us']:.2f} system), "
        f"{a1['cli_us'] / a1['srv_us']:.1f}x the {a1['srv_us']:.2f} µs kvd spent answering it: one core at that "
        f"cost sends at most {1e6 / a1['cli_us']:,.0f} req/s, whatever the server. It printed {a1['rps']:,.0f} "
        f"req/s; {limit(a1, 'kvd')}.")
    L.append("")
    L.append(
        f"**Pipelining 10 is not 10 requests a write.** autocannon-go made {a1['cli_writes']:.2f} `write` "
        f"calls a request ({1 / a1['cli_writes']:.2f} requests a write) and {a1['cli_reads']:.2f} reads: "
        f"each of its 10 goroutines per connection blocks on its own request, and fasthttp's "
        f"`PipelineClient` flushes its buffer as soon as its queue is empty, which is almost always, so "
        f"`--pipelining` only bounds the requests in flight. kvd found {1 / a1['srv_reads']:.1f} requests a "
        f"`read` (they pile up in the socket while it is busy elsewhere)"
        + (f", against {1 / kb['srv_reads']:.1f} under kvbench 20 x 10" if kb else "")
        + (f" and {1 / k1['srv_reads']:.1f} under kvbench 20 x 1" if k1 else "")
        + f", and spent {a1['srv_us']:.2f} µs a request"
        + (f" (kvbench 20 x 10: {kb['srv_us']:.2f} µs" if kb else "")
        + (f"; 20 x 1: {k1['srv_us']:.2f} µs" if k1 else "")
        + (")" if kb else "") + ": what it costs is set by the batches the client sends.")
    L.append("")
    if sd:
        L.append(
            f"**Against the seed** autocannon-go printed {sd['rps']:,.0f} req/s (kvd 1 reactor got "
            f"{a1['rps'] / sd['rps']:.2f}x that rate from it). The seed spent {sd['srv_us']:.2f} µs of CPU a "
            f"request, {sd['srv_us'] / a1['srv_us']:.1f}x kvd's under the same client, and the client "
            f"{sd['cli_us']:.2f} µs; {limit(sd, 'the seed')}.")
        L.append("")
        def cap(m, who):
            c, s_ = 1e6 / m["cli_us"], 1e6 / m["srv_us"]
            return (f"{who}: the client's core {c:,.0f}, the server's {s_:,.0f}, so "
                    f"{'the client' if c < s_ else 'the server'} bounds it at {min(c, s_):,.0f}")
        ck, cs_ = min(1e6 / a1["cli_us"], 1e6 / a1["srv_us"]), min(1e6 / sd["cli_us"], 1e6 / sd["srv_us"])
        L.append(
            f"**On cores of their own** these costs cap the rate (1 / CPU per request) — {cap(a1, 'kvd 1 reactor')}; "
            f"{cap(sd, 'the seed')}. That is what a user running the seed's load test can see at best: kvd "
            f"{ck / cs_:.1f}x the seed's rate, against {sd['srv_us'] / a1['srv_us']:.1f}x less server CPU per "
            f"request" + (", because autocannon-go, not kvd, sets kvd's rate." if 1e6 / a1["cli_us"] < 1e6 / a1["srv_us"] else "."))
        CAPS.update(kvd1=ck, seed=cs_)
        ks = M.get(("kvbench", "seed"))
        if ks:
            L.append("")
            L.append(
                f"With kvbench (10 requests a write) the seed answered {ks['rps']:,.0f} req/s at {ks['srv_us']:.2f} "
                f"µs a request ({limit(ks, 'the seed')}): Go's `net/http` reads the pipelined requests in bulk "
                f"({ks['srv_reads']:.2f} reads a request) but writes each response on its own "
                f"({ks['srv_writes']:.2f} writes a request), so pipelining saves it little"
                + (f"; kvd 1 reactor under kvbench: {kb['rps']:,.0f} req/s at {kb['srv_us']:.2f} µs." if kb else "."))
        L.append("")
    if kb:
        L.append(
            f"**kvd's headline figures come from kvbench**, which sends each connection's 10 requests in one "
            f"`send` and spends {kb['cli_us']:.2f} µs of client CPU a request ({a1['cli_us'] / kb['cli_us']:.0f}x less "
            f"than autocannon-go): {kb['rps']:,.0f} req/s against the same kvd in the same run, "
            f"{kb['rps'] / a1['rps']:.1f}x what autocannon-go shows; {limit(kb, 'kvd')}.")
        L.append("")
    ac = [r for r in runs if r["tool"] == "autocannon"]
    L.append(f"Before its first request autocannon-go spends {statistics.median(r['gen'] for r in ac):.1f} s "
             f"(median) generating 100,000,000 random keys (its RSS reached {max(r['cli_rss_mib'] for r in ac):,.0f} "
             f"MiB); that time is outside the measured window. Its mix was "
             f"{statistics.median(r['post_share'] for r in ac) * 100:.1f}% POST.")
    L.append("")
L += [f"Reproduce: `scripts/bench/autocannon.sh --autocannon=PATH --seed-server=PATH"
      f"{' --duration=' + duration if duration != '10' else ''}{' --repeat=' + repeat if repeat != '3' else ''}"
      f"{' --nice=' + nice if nice else ''} --doc`.", ""]
for s, v in CAPS.items():
    L.append(f"<!-- fig ac_cap_{s}={v:.0f} -->")
for (t, s), m in M.items():
    p = f"ac_{FIG[t]}_{s}"
    for f, fmt in (("rps", "{:.0f}"), ("srv_us", "{:.3f}"), ("cli_us", "{:.3f}"), ("cli_busy", "{:.1f}"),
                   ("srv_busy", "{:.1f}"), ("others", "{:.2f}"), ("srv_io", "{:.3f}"), ("srv_reads", "{:.3f}"),
                   ("cli_writes", "{:.3f}")):
        if m[f] is not None:
            L.append(f"<!-- fig {p}_{f}={fmt.format(m[f])} -->")
open(body_path, "w").write("\n".join(L) + "\n")
PY
cat "$tmp/section.md"
if [ "$doc" = 1 ]; then
  write_section autocannon "$tmp/section.md"
  say "wrote the autocannon section of $DOC"
  scripts/bench/bench.sh --targets-only
fi
