#!/usr/bin/env bash
# RESP2 servers under redis-benchmark, in one run: kvd (`--threads=1 --resp-port=P`, one reactor),
# Redis (Debian's redis-server, `--save '' --appendonly no --io-threads 1`), kvfloor --resp
# (tools/kvfloor: an epoll loop that only frames RESP commands and answers fixed replies, what the
# kernel and the client cost before any server work) and every --peer given. For each -P of
# --pipelines and each test of --tests, one run per server, the servers taking turns:
#
#   redis-benchmark -h 127.0.0.1 -p PORT -c 20 -P P -n N -r 1000000 -t TEST --csv
#
# Servers are pinned to CPU 1 and redis-benchmark to CPU 0 (with 2+ CPUs, as bench.sh does). Per
# run: requests/s and p50/p99 (redis-benchmark's report); server CPU time per request, user and
# system apart (utime and stime of the whole server process from /proc/PID/stat, before and after,
# over the requests the client sent: -n rounded up to a multiple of -P, as redis-benchmark sends
# whole batches); read+write syscalls per request (syscr + syscw from /proc/PID/io: read(2),
# write(2) and their vector forms, not recv/send or epoll); kvd's own syscall count
# (kvd_syscalls_total: read, write and epoll_wait); the client's CPU and the CPU every other
# process took meanwhile (/proc/stat). The summary is SET+GET together (total CPU over total
# requests), the shape of the target: kvd's CPU per request at -P 10 against Redis's.
#
# Before the runs every server's keyspace is filled with what redis-benchmark's SET writes
# (key:000000000000 .. key:000000999999 = "xxx"; `redis-cli --pipe`), so every GET hits
# everywhere. kvd runs with --ttl=1h so that nothing expires during the run.
#
#   scripts/bench/resp_bench.sh [--requests=N] [--requests-p1=N] [--pipelines=1,10,50]
#       [--tests=set,get,incr,mset] [--clients=20] [--repeat=3] [--peer=NAME=COMMAND]...
#       [--peer-wait=30] [--kvd-arg=ARG]... [--no-redis] [--no-floor] [--no-fill] [--nice=N]
#       [--doc] [--no-build]
#
#   --requests     -n of each test at -P above 1 (default 1000000); an MSET (10 keys) is one request
#   --requests-p1  -n at -P 1 (default 200000)
#   --tests        redis-benchmark -t names among set, get, incr, mset, run in the order given;
#                  also `setex`: SET key:__rand_int__ xxx EX 3600, for a Redis that keeps an expiry
#                  per key, as kvd always does
#   --clients      redis-benchmark -c (default 20)
#   --repeat       rounds; the figures are medians over them (default 3)
#   --peer         another RESP server, built outside the repository (this script never builds
#                  one): COMMAND runs under `bash -c`, pinned like the others, with every {port}
#                  replaced by a free port. The process listening on that port is the one measured
#                  (a wrapper may fork it); it must answer PING within --peer-wait seconds. NAME
#                  (letters, digits, '_') names its rows and figures (resp_cpu_NAME_p10; the target
#                  table compares kvd with a peer named `pogocache`).
#                  Repeatable. For example
#                    --peer=valkey='/opt/valkey/src/valkey-server --port {port} --bind 127.0.0.1 --save "" --appendonly no'
#                    --peer=pogocache='/opt/pogocache/pogocache -h 127.0.0.1 -p {port} --threads 1'
#   --kvd-arg      one more kvd flag (repeatable; later flags win, e.g. --kvd-arg=--ttl=10s)
#   --no-redis, --no-floor
#                  leave Redis or kvfloor out (without Redis there are no ratios)
#   --no-fill      no fill: GETs then hit only what earlier runs wrote
#   --nice         run every server and client under `nice -n N`
#   --doc          write the "resp" section of docs/benchmarks.md ("resp-nice" with --nice, its
#                  figures suffixed _nice) and rebuild the target table
#
# Prints markdown: the summary (per -P, each server's SET+GET CPU per request, user + system, and
# kvd's ratio to Redis and to each peer), the table of every server x -P x test (runs, req/s, p50 /
# p99, CPU per request, its ratio to Redis's, read+write and kvd syscalls per request, server and
# client core busy, others), the SET+GET figure of each round, and problems: a run that failed (a
# server without the command, as Pogocache has no MSET: redis-benchmark stops at the first error
# reply; the run goes on without that row), a server whose own count disagrees with what was sent,
# runs too short for the 10 ms clock ticks. The doc section adds the servers' command lines, the
# method and `<!-- fig -->` lines: resp_cpu_{kvd,redis,floor,NAME}_pP (SET+GET; _user, _sys),
# resp_cpu_ID_pP_TEST, resp_rps_..., resp_io_..., resp_sys_kvd_pP, resp_ratio_pP (kvd/Redis,
# SET+GET), resp_ratio_pP_TEST, resp_ratio_NAME_pP (kvd/peer).
#
# Every process started is stopped by its PID; 127.0.0.1 only; each client run is bounded (10
# min). With the defaults a run takes about 8 minutes; `--requests=200000 --requests-p1=20000
# --repeat=1` is a smoke run of about a minute (two with a few peers).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup resp

requests=1000000 requests_p1=200000 pipelines=1,10,50 tests=set,get,incr,mset clients=20
repeat=3 keyspace=1000000 peer_wait=30 redis=1 floor=1 fill=1 nice="" doc=0 build=1
peer_specs=() kvd_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests=*) requests=${1#*=} ;;
    --requests-p1=*) requests_p1=${1#*=} ;;
    --pipelines=*) pipelines=${1#*=} ;;
    --tests=*) tests=${1#*=} ;;
    --clients=*) clients=${1#*=} ;;
    --repeat=*) repeat=${1#*=} ;;
    --peer=*) peer_specs+=("${1#*=}") ;;
    --peer-wait=*) peer_wait=${1#*=} ;;
    --kvd-arg=*) kvd_args+=("${1#*=}") ;;
    --no-redis) redis=0 ;;
    --no-floor) floor=0 ;;
    --no-fill) fill=0 ;;
    --nice=*) nice=${1#*=} ;;
    --doc) doc=1 ;;
    *) common_arg "$1" ;;
  esac
  shift
done
for t in ${tests//,/ }; do
  case "$t" in set|get|incr|mset|setex) ;; *) echo "resp_bench.sh: unknown test $t" >&2; exit 1 ;; esac
done
for v in "$requests" "$requests_p1" "$clients" "$repeat" "$peer_wait" ${pipelines//,/ }; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "resp_bench.sh: not a positive number: $v" >&2; exit 1; }
done
declare -A PEER_CMD
peer_names=()
for spec in "${peer_specs[@]}"; do
  name=${spec%%=*} cmd=${spec#*=}
  # The name becomes a figure name (\w+) and must not shadow the built-in servers.
  if ! [[ "$name" =~ ^[A-Za-z0-9_]+$ && "$cmd" != "$spec" && "$cmd" == *"{port}"* ]]; then
    echo "resp_bench.sh: --peer wants NAME=COMMAND with {port} in COMMAND, NAME of letters, digits, '_': $spec" >&2
    exit 1
  fi
  name=${name,,}
  case "$name" in kvd|redis|floor) echo "resp_bench.sh: peer name $name is taken" >&2; exit 1 ;; esac
  [ -z "${PEER_CMD[$name]:-}" ] || { echo "resp_bench.sh: two peers named $name" >&2; exit 1; }
  PEER_CMD[$name]=$cmd
  peer_names+=("$name")
done

need_pkgs "redis-benchmark=redis-tools" "redis-cli=redis-tools" "redis-server=redis-server" \
  taskset=util-linux ss=iproute2 /usr/bin/time=time
build_if "$build"

setup_tmp resp keep
copy_bins kvd
set_pins "$nice"
HZ=$(getconf CLK_TCK)

# --- servers -----------------------------------------------------------------------------------
# Per server id: PID (the process measured), PORT (RESP), KIND, and for the report LABEL, VERSION
# and the command line.
declare -A PID PORT KIND
servers=()
: >"$tmp/servers.tsv"
add_server() {  # add_server ID KIND PID PORT LABEL VERSION COMMAND
  PID[$1]=$3 PORT[$1]=$4 KIND[$1]=$2
  servers+=("$1")
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$5" "$6" "$7" >>"$tmp/servers.tsv"
  say "$1: pid $3 port $4"
}

kvd_resp_port=$(free_port)
run_kvd "$tmp/kvd.log" "${SRV_PIN[@]}" -- --threads=1 --resp-port="$kvd_resp_port" --ttl=1h "${kvd_args[@]}"
KVD_HTTP_PORT=$KVD_PORT
add_server kvd kvd "$KVD_PID" "$kvd_resp_port" "kvd 1 reactor" "$(kvd_version)" \
  "kvd --threads=1 --resp-port=PORT --ttl=1h${kvd_args[*]:+ ${kvd_args[*]}}"

if [ "$redis" = 1 ]; then
  # io-threads 1 is Redis's default, spelled out: one thread does all the socket I/O, as one
  # kvd reactor does.
  run_redis "${SRV_PIN[@]}" -- --io-threads 1
  add_server redis redis "$REDIS_PID" "$REDIS_PORT" "redis" "$(redis-server --version | awk '{print $3}' | sed 's/v=//')" \
    "redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no --io-threads 1"
fi

start_peer() {  # start_peer NAME
  local name=$1 port cmd wrapper lpid version
  port=$(free_port)
  cmd=${PEER_CMD[$name]//\{port\}/$port}
  "${SRV_PIN[@]}" bash -c "$cmd" >"$tmp/peer-$name.log" 2>&1 </dev/null &
  wrapper=$!
  pids+=("$wrapper")
  for _ in $(seq "$((peer_wait * 20))"); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$wrapper" 2>/dev/null || { echo "resp_bench.sh: peer $name exited:" >&2; tail -20 "$tmp/peer-$name.log" >&2; exit 1; }
    sleep 0.05
  done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG ||
    { echo "resp_bench.sh: peer $name did not answer PING on $port within ${peer_wait}s:" >&2; tail -20 "$tmp/peer-$name.log" >&2; exit 1; }
  lpid=$(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$lpid" ] || { echo "resp_bench.sh: no process found listening on $port for peer $name" >&2; exit 1; }
  [ "$lpid" = "$wrapper" ] || pids+=("$lpid")
  # INFO's version field where the server has one (Valkey, Dragonfly, Garnet; Pogocache has none).
  version=$(redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' |
    awk -F: '/^(valkey|dragonfly|garnet)_version:/ {print $2; exit} /^redis_version:/ {r = $2} END {if (r != "") print r}' | head -1)
  add_server "$name" peer "$lpid" "$port" "$name" "${version:-?}" "${PEER_CMD[$name]//\{port\}/PORT}"
}
for name in "${peer_names[@]}"; do start_peer "$name"; done

if [ "$floor" = 1 ]; then
  run_floor "${SRV_PIN[@]}" -- --resp
  add_server floor floor "$FLOOR_PID" "$FLOOR_PORT" "kvfloor --resp" "(floor)" "build/kvfloor --port=0 --resp"
fi

# Commands the server counted so far, and (kvd) its syscalls: "commands syscalls", NA if unknown.
server_counts() {
  case ${KIND[$1]} in
    kvd) metrics "$KVD_HTTP_PORT" |
           awk '/^kvd_resp_commands_total/ {c += $2} /^kvd_syscalls_total/ {s += $2} END {printf "%d %d\n", c, s}' ;;
    floor) echo "$(floor_count) NA" ;;
    *) redis-cli -p "${PORT[$1]}" info stats 2>/dev/null | tr -d '\r' |
         awk -F: '/^total_commands_processed:/ {n = $2} END {print (n == "" ? "NA" : n), "NA"}' ;;
  esac
}

bench_cmd() {  # bench_cmd TEST: the test's redis-benchmark arguments, last (a command ends the options)
  case "$1" in
    setex) echo SET key:__rand_int__ xxx EX 3600 ;;
    *) echo -t "$1" ;;
  esac
}

# --- fill and warm-up ---------------------------------------------------------------------------
if [ "$fill" = 1 ]; then
  python3 - "$keyspace" >"$tmp/fill.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n" % i)
PY
  for id in "${servers[@]}"; do
    [ "$id" = floor ] && continue  # it stores nothing
    say "fill $id: $keyspace keys"
    "${CLI_PIN[@]}" timeout 600 redis-cli -p "${PORT[$id]}" --pipe <"$tmp/fill.resp" >"$tmp/fill-$id.log" 2>&1 || true
    grep -q 'errors: 0,' "$tmp/fill-$id.log" ||
      { echo "resp_bench.sh: filling $id failed:" >&2; tail -5 "$tmp/fill-$id.log" >&2; exit 1; }
  done
  rm -f "$tmp/fill.resp"
fi
say "warm-up"
warm_n=$(( requests < 100000 ? requests : 100000 ))
for id in "${servers[@]}"; do
  for t in ${tests//,/ }; do
    # shellcheck disable=SC2046  # bench_cmd's words are separate arguments
    "${CLI_PIN[@]}" timeout 120 redis-benchmark -h 127.0.0.1 -p "${PORT[$id]}" -c "$clients" -P 10 \
      -n "$warm_n" -r "$keyspace" --csv $(bench_cmd "$t") >/dev/null 2>&1 || true
  done
done

# --- runs ----------------------------------------------------------------------------------------
RESULTS=$tmp/results.tsv
: >"$RESULTS"
run_seq=0
measure() {  # measure ID P TEST ROUND: one redis-benchmark run, one row of $RESULTS
  local id=$1 p=$2 t=$3 round=$4 pid=${PID[$1]} n=$requests
  [ "$p" = 1 ] && n=$requests_p1
  local out=$tmp/run$((++run_seq)).csv err=$tmp/run$run_seq.err timef=$tmp/run$run_seq.time rc=0
  local k0 k1 c0 c1 i0 i1 m0 m1 t0 t1
  # The counters are read outside the measured window: asking a server costs it CPU too.
  k0=$(server_counts "$id"); c0=$(proc_cpu "$pid"); i0=$(proc_io "$pid"); m0=$(machine_busy); t0=$(now)
  # shellcheck disable=SC2046
  /usr/bin/time -f '%U %S' -o "$timef" "${CLI_PIN[@]}" timeout 600 redis-benchmark -h 127.0.0.1 \
    -p "${PORT[$id]}" -c "$clients" -P "$p" -n "$n" -r "$keyspace" --csv $(bench_cmd "$t") >"$out" 2>"$err" || rc=$?
  t1=$(now); m1=$(machine_busy); i1=$(proc_io "$pid"); c1=$(proc_cpu "$pid"); k1=$(server_counts "$id")
  printf '%s\n' "$id" "$p" "$t" "$round" "$n" "$rc" "$t0" "$t1" "$c0" "$c1" "$i0" "$i1" "$m0" "$m1" \
    "$k0" "$k1" "$(tail -1 "$timef" | grep -E '^[0-9.]+ [0-9.]+$' || echo '0 0')" "$out" "$err" |
    tr ' ' '\t' | paste -sd '\t' >>"$RESULTS"
  [ "$rc" = 0 ] || say "  $id -P $p $t: redis-benchmark exit $rc: $(grep -v WARNING "$err" | head -1)"
}
for round in $(seq "$repeat"); do
  for p in ${pipelines//,/ }; do
    for t in ${tests//,/ }; do
      for id in "${servers[@]}"; do measure "$id" "$p" "$t" "$round"; done
    done
    say "round $round -P $p done"
  done
done

# --- report --------------------------------------------------------------------------------------
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(uname -sr), $(. /etc/os-release; echo "$PRETTY_NAME")"
python3 - "$RESULTS" "$tmp/servers.tsv" "$tmp/section.md" "$HZ" "$machine" "$(utc_date)" \
  "$clients" "$keyspace" "$requests" "$requests_p1" "$repeat" "$fill" "$nice" "$pipelines" "$tests" \
  "$(redis-benchmark --version | awk '{print $2}')" <<'PY'
import sys, statistics, collections, csv, math
(res, srv_path, section, HZ, machine, date, clients, keyspace, requests, requests_p1, repeat, fill,
 nice, pipelines, tests, rb_version) = sys.argv[1:]
HZ = float(HZ)
pipes = [int(p) for p in pipelines.split(",")]
tests = tests.split(",")
TNAME = {"set": "SET", "get": "GET", "incr": "INCR", "mset": "MSET", "setex": "SET EX"}
servers, info = [], {}
for line in open(srv_path):
    sid, kind, label, version, cmd = line.rstrip("\n").split("\t")
    servers.append(sid)
    info[sid] = dict(kind=kind, label=label, version=version, cmd=cmd)
peers = [s for s in servers if info[s]["kind"] == "peer"]

rows = collections.defaultdict(list)   # (sid, p, test) -> [run]
fails = collections.defaultdict(list)
for line in open(res):
    f = line.rstrip("\n").split("\t")
    (sid, p, t, rnd, n, rc, t0, t1, u0, s0, u1, s1, i0, i1, m0, m1, k0, ks0, k1, ks1, cu, cs,
     out, err) = f
    p, n, rnd = int(p), int(n), int(rnd)
    key = (sid, p, t)
    data = list(csv.reader(open(out)))[1:]
    if rc != "0" or not data:
        msg = next((l.strip() for l in open(err) if l.strip() and not l.startswith("WARNING")), f"exit {rc}")
        fails[key].append(msg)
        continue
    req = math.ceil(n / p) * p  # redis-benchmark sends whole batches of -P
    wall = float(t1) - float(t0)
    su, ss = (int(u1) - int(u0)) / HZ, (int(s1) - int(s0)) / HZ
    client = float(cu) + float(cs)
    busy = (int(m1) - int(m0)) / HZ
    d = data[0]
    rows[key].append(dict(
        round=rnd, req=req, wall=wall, su=su, ss=ss, ticks=round((su + ss) * HZ), rps=float(d[1]), p50=float(d[4]), p99=float(d[6]),
        cpu=(su + ss) / req * 1e6, cpu_user=su / req * 1e6, cpu_sys=ss / req * 1e6,
        io=(int(i1) - int(i0)) / req,
        ksys=(int(ks1) - int(ks0)) / req if ks0 != "NA" else None,
        counted=(int(k1) - int(k0)) if k0 != "NA" else None,
        server_busy=(su + ss) / wall * 100, client_busy=client / wall * 100,
        others=max(0.0, busy - su - ss - client) / wall))

def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None
M = {k: {f: med(v, f) for f in v[0]} for k, v in rows.items() if v}

# SET+GET together, per round: all their CPU over all their requests.
combo = collections.defaultdict(list)  # (sid, p) -> [dict]
for sid in servers:
    for p in pipes:
        byround = collections.defaultdict(dict)
        for t in ("set", "get"):
            for r in rows.get((sid, p, t), []):
                byround[r["round"]][t] = r
        for rnd, d in sorted(byround.items()):
            if len(d) < 2:
                continue
            req = sum(r["req"] for r in d.values())
            su, ss = sum(r["su"] for r in d.values()), sum(r["ss"] for r in d.values())
            wall = sum(r["wall"] for r in d.values())
            ks = [r["ksys"] for r in d.values()]
            combo[(sid, p)].append(dict(
                cpu=(su + ss) / req * 1e6, cpu_user=su / req * 1e6, cpu_sys=ss / req * 1e6,
                rps=req / sum(r["req"] / r["rps"] for r in d.values()),
                io=sum(r["io"] * r["req"] for r in d.values()) / req,
                ksys=None if None in ks else sum(r["ksys"] * r["req"] for r in d.values()) / req,
                server_busy=(su + ss) / wall * 100,
                client_busy=sum(r["client_busy"] * r["wall"] for r in d.values()) / wall))
C = {k: {f: med(v, f) for f in v[0]} for k, v in combo.items() if v}

def fmt(v, f="{:.2f}"):
    return "—" if v is None else f.format(v)
def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b
def label(sid):
    i = info[sid]
    return i["label"] if sid in ("kvd", "floor") or i["version"] == "?" else f"{i['label']} {i['version']}"

L = ["## RESP2 under redis-benchmark: " + ", ".join({"redis": "Redis", "floor": "kvfloor"}.get(x, x) for x in servers) +
     " (`scripts/bench/resp_bench.sh`)", ""]
if nice:
    L += [f"Every server and client of this run ran under `nice -n {nice}`.", ""]
L.append(f"Run {date} on {machine}; redis-benchmark {rb_version}, {clients} connections, `-r {keyspace}`, "
         f"`-n {int(requests):,}` (`-n {int(requests_p1):,}` at `-P 1`) per test, {repeat} round(s), medians. "
         f"Servers pinned to CPU 1, redis-benchmark to CPU 0; the servers take turns test by test. "
         + ("Each server's keyspace was filled first with what SET writes (1,000,000 keys of 3 bytes), so every GET hits. "
            if fill == "1" else "No fill: GETs hit only what earlier runs wrote. ")
         + "A request is one command (an MSET sets 10 keys). Server CPU is utime + stime of the whole "
         "process (/proc/PID/stat) over the run, divided by the requests the client sent; read+write "
         "syscalls are syscr + syscw (/proc/PID/io: read/write and their vector forms, not recv/send "
         "or epoll). kvd's own count (kvd_syscalls_total) includes epoll_wait.")
L.append("")
L.append("| server | version | command |")
L.append("|---|---|---|")
for sid in servers:
    L.append(f"| {info[sid]['label']} | {info[sid]['version']} | `{info[sid]['cmd']}` |")
L.append("")

# Summary: SET+GET.
L.append("### Server CPU per request, SET+GET (µs: user + system)")
L.append("")
hdr = ["-P"] + [label(s) for s in servers]
if "redis" in servers and "kvd" in servers:
    hdr.append("kvd / Redis")
    hdr += [f"kvd / {p}" for p in peers]
L.append("| " + " | ".join(hdr) + " |")
L.append("|" + "---|" * len(hdr))
for p in pipes:
    cells = [str(p)]
    for sid in servers:
        m = C.get((sid, p))
        cells.append("—" if not m else f"**{fmt(m['cpu'])}** ({fmt(m['cpu_user'])} + {fmt(m['cpu_sys'])})")
    if "redis" in servers and "kvd" in servers:
        k = C.get(("kvd", p))
        for o in ["redis"] + peers:
            r = C.get((o, p))
            cells.append(fmt(ratio(k and k["cpu"], r and r["cpu"])) + ("x" if k and r else ""))
    L.append("| " + " | ".join(cells) + " |")
L.append("")

# Every test.
L.append("### Every test")
L.append("")
L.append("| server | -P | test | runs | req/s | p50 / p99 ms | server CPU µs/req (user + sys) | CPU/req vs Redis | "
         "read+write syscalls/req | kvd syscalls/req | server core busy | client core busy | others (cores) |")
L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
notes = []
for p in pipes:
    for t in tests:
        for sid in servers:
            key = (sid, p, t)
            m, nruns = M.get(key), len(rows.get(key, []))
            if key in fails:
                notes.append(f"{label(sid)}, -P {p} {TNAME[t]}: {len(fails[key])} run(s) failed: {fails[key][0]}")
            if not m:
                L.append(f"| {label(sid)} | {p} | {TNAME[t]} | 0 | failed: {fails.get(key, ['no run'])[0]} |" + " — |" * 8)
                continue
            red = M.get(("redis", p, t))
            rr = ratio(m["cpu"], red and red["cpu"]) if sid != "redis" else None
            L.append(f"| {label(sid)} | {p} | {TNAME[t]} | {nruns} | {fmt(m['rps'], '{:,.0f}')} | "
                     f"{fmt(m['p50'], '{:.3f}')} / {fmt(m['p99'], '{:.3f}')} | "
                     f"**{fmt(m['cpu'])}** ({fmt(m['cpu_user'])} + {fmt(m['cpu_sys'])}) | "
                     f"{fmt(rr) + 'x' if rr is not None else '—'} | {fmt(m['io'], '{:.3f}')} | "
                     f"{fmt(m['ksys'], '{:.3f}')} | {fmt(m['server_busy'], '{:.0f}')}% | "
                     f"{fmt(m['client_busy'], '{:.0f}')}% | {fmt(m['others'])} |")
            for r in rows[key]:
                # redis-benchmark also sends CONFIG GET twice; anything further off is a server that
                # did not run what it was sent.
                if r["counted"] is not None and abs(r["counted"] - r["req"]) > 0.01 * r["req"] + 10:
                    notes.append(f"{label(sid)}, -P {p} {TNAME[t]}, round {r['round']}: the server counted "
                                 f"{r['counted']:,} commands for {r['req']:,} sent")
L.append("")
coarse = [r for v in rows.values() for r in v if r["ticks"] < 100]
if coarse:
    # /proc/PID/stat counts clock ticks (10 ms): a run with few of them is only roughly measured.
    notes.append(f"{len(coarse)} of {sum(len(v) for v in rows.values())} runs took under 100 clock ticks of "
                 f"server CPU (as few as {min(r['ticks'] for r in coarse)}; one tick is 1/{HZ:.0f} s): their CPU "
                 f"figures are coarse, raise --requests")
if notes:
    L += ["Problems:", ""] + [f"- {n}" for n in notes] + [""]
if any(len(v) > 1 for v in combo.values()):
    L.append("SET+GET per round (server CPU µs/req):")
    L.append("")
    for p in pipes:
        L.append(f"- -P {p}: " + "; ".join(f"{label(s)} " + ", ".join(f"{r['cpu']:.2f}" for r in combo[(s, p)])
                                            for s in servers if combo.get((s, p))))
    L.append("")
L.append("'server core busy' is the server's CPU time over the run's wall time, 'client core busy' "
         "redis-benchmark's, 'others' the CPU every other process on the machine used meanwhile "
         "(/proc/stat). redis-benchmark writes -P commands per connection and waits for their -P "
         "replies, so each server reads a batch and answers it with one write: about 2/P read+write "
         "syscalls a request for all of them, and what differs is the CPU spent around them. kvfloor "
         "--resp frames each command (the `*N` and `$len` headers; payloads stepped over) and answers "
         "fixed bytes: its CPU per request is the floor the kernel and this client set; a server's "
         "figure minus it is the server's own work.")
L.append("")
L.append("Not like-for-like: kvd gives every key an expiry (here `--ttl=1h`; the wheel is updated "
         "on every write, SET and INCR included), while Redis's SET keeps none (the `setex` test, "
         "`--tests=...,setex`, has Redis keep one too); Redis 7 also tracks per-command latency "
         "histograms (`latency-tracking yes`) and runs background threads, whose CPU is in its "
         "process total as kvd's housekeeping is in kvd's.")
L.append("")
L.append("Reproduce: `scripts/bench/resp_bench.sh --doc` (peers: `--peer=NAME='COMMAND {port}'`).")
L.append("")

figs = {}
def fig(name, v, f="{:.4g}"):
    if v is not None:
        figs[name] = f.format(v)
for (sid, p), m in C.items():
    fig(f"resp_cpu_{sid}_p{p}", m["cpu"]); fig(f"resp_cpu_user_{sid}_p{p}", m["cpu_user"])
    fig(f"resp_cpu_sys_{sid}_p{p}", m["cpu_sys"]); fig(f"resp_rps_{sid}_p{p}", m["rps"], "{:.0f}")
    fig(f"resp_io_{sid}_p{p}", m["io"]); fig(f"resp_server_busy_{sid}_p{p}", m["server_busy"])
    if sid == "kvd":
        fig(f"resp_sys_kvd_p{p}", m["ksys"])
for (sid, p, t), m in M.items():
    fig(f"resp_cpu_{sid}_p{p}_{t}", m["cpu"]); fig(f"resp_rps_{sid}_p{p}_{t}", m["rps"], "{:.0f}")
    fig(f"resp_io_{sid}_p{p}_{t}", m["io"])
for p in pipes:
    k = C.get(("kvd", p))
    for o in ["redis"] + peers:
        r = C.get((o, p))
        fig(f"resp_ratio_p{p}" if o == "redis" else f"resp_ratio_{o}_p{p}", ratio(k and k["cpu"], r and r["cpu"]))
    for t in tests:
        k, r = M.get(("kvd", p, t)), M.get(("redis", p, t))
        fig(f"resp_ratio_p{p}_{t}", ratio(k and k["cpu"], r and r["cpu"]))
if peers:
    figs["resp_peers"] = ",".join(peers)
figs["resp_runs"] = repeat
figs["resp_requests"] = requests
L += [f"<!-- fig {k}{'_nice' if nice else ''}={v} -->" for k, v in figs.items()]
open(section, "w").write("\n".join(L) + "\n")

# The terminal gets the tables, not the prose or the figures.
first = next(i for i, l in enumerate(L) if l.startswith("###"))
last = next(i for i, l in enumerate(L) if l.startswith("'server core busy'"))
print("\n".join(L[first:last]).strip())
PY

if [ "$doc" = 1 ]; then
  write_section "resp${nice:+-nice}" "$tmp/section.md"
  say "wrote the resp${nice:+-nice} section of $DOC"
  scripts/bench/bench.sh --targets-only
fi
