#!/usr/bin/env bash
# Instructions per request, counted: kvd --threads=1 runs under `valgrind --tool=callgrind`, a
# deterministic client (below, fixed seed) sends a fixed number of pipelined requests over one
# connection, and callgrind's counters are zeroed before and dumped after each phase
# (`callgrind_control -z` / `-d`):
#
#   fill   scripts/bench/fill.py loads /0../K-1 (value = the number), not measured
#   post   N x `POST /<random key of K>` with a random decimal value (overwrites)
#   get    N x `GET /<random key of K>` (all hits)
#   idle   kvd doing nothing for 1 s (its 10 ms timer), subtracted pro rata from the phases
#
# and reports user-space instructions (Ir) per request and the top 15 functions (self cost,
# callgrind_annotate) of each phase. Kernel work (the syscalls) is not counted by callgrind: see
# the syscalls per request in the bench section. Writes the "cost" section of docs/benchmarks.md.
#
#   scripts/bench/cost.sh [--requests=N] [--keys=K] [--pipelining=P] [--no-build]
#
#   --requests    requests per phase (default 100000)
#   --keys        keys loaded first (default 100000)
#   --pipelining  requests per write, the client waits for all their answers (default 10)
#
# The counts repeat to within a fraction of a percent (same binary, same seed). ~1 min.
# KEEP_TMP=1 keeps the temp dir (callgrind dumps, annotations) and prints its path.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup cost
requests=100000 keys=100000 pipelining=10 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests=*) requests=${1#*=} ;;
    --keys=*) keys=${1#*=} ;;
    --pipelining=*) pipelining=${1#*=} ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs valgrind callgrind_control=valgrind callgrind_annotate=valgrind python3
build_if "$build"

setup_tmp cost keep
copy_bins kvd

cat >"$tmp/client.py" <<'PY'
# client.py HOST:PORT get|post N KEYS PIPELINING SEED: N requests, PIPELINING per write, each
# batch answered in full before the next is sent; every answer must be a 200 (a GET's non-empty,
# a POST's its value).
import random, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
kind, n, keys, pipe, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rng = random.Random(seed)
s = socket.create_connection((host, int(port)))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""
sent = 0
while sent < n:
    b = min(pipe, n - sent)
    reqs, want = [], []
    for _ in range(b):
        k = rng.randrange(keys)
        if kind == "get":
            reqs.append(b"GET /%d HTTP/1.1\r\nHost: kvd\r\n\r\n" % k)
            want.append(None)  # a hit: any non-empty value (the POST phase rewrote them)
        else:
            v = b"%d" % rng.randrange(keys)
            reqs.append(b"POST /%d HTTP/1.1\r\nHost: kvd\r\nContent-Length: %d\r\n\r\n%s" % (k, len(v), v))
            want.append(v)
    s.sendall(b"".join(reqs))
    got = 0
    while got < b:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end]
            i = head.lower().find(b"content-length:")
            length = int(head[i + 15:].split(b"\r\n")[0])
            if len(buf) >= end + 4 + length:
                if not head.startswith(b"HTTP/1.1 200") or (want[got] is None and length == 0) or (
                        want[got] is not None and buf[end + 4:end + 4 + length] != want[got]):
                    sys.exit("unexpected answer: %r" % buf[:end + 4 + length])
                buf = buf[end + 4 + length:]
                got += 1
                continue
        data = s.recv(1 << 16)
        if not data:
            sys.exit("connection closed")
        buf += data
    sent += b
print(sent)
PY

say "kvd --threads=1 under callgrind"
run_kvd --wait=30 "$tmp/kvd.log" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" -- \
  --threads=1 --ttl=10m
vg_pid=$KVD_PID port=$KVD_PORT
dumps=0
phase() {  # phase NAME COMMAND...: zero, run, dump; prints "seconds"
  callgrind_control -z "$vg_pid" >/dev/null 2>&1
  local t0 t1
  t0=$(date +%s.%N)
  "${@:2}" >/dev/null
  t1=$(date +%s.%N)
  callgrind_control -d "$vg_pid" >/dev/null 2>&1
  dumps=$((dumps + 1))
  mv "$tmp/cg.out.$dumps" "$tmp/$1.cg"
  echo "$1 $(python3 -c "print($t1 - $t0)")" >>"$tmp/phases"
  say "$1: $(python3 -c "print(round($t1 - $t0, 1))") s"
}
say "fill $keys keys"
python3 scripts/bench/fill.py "127.0.0.1:$port" "$keys" >/dev/null
phase idle sleep 1
phase post python3 "$tmp/client.py" "127.0.0.1:$port" post "$requests" "$keys" "$pipelining" 2
phase get python3 "$tmp/client.py" "127.0.0.1:$port" get "$requests" "$keys" "$pipelining" 3
syscalls=$(metrics "$port" | awk '/^kvd_syscalls_total/ {printf "%s=%s ", $1, $2}')
stop_pid "$vg_pid"

for p in get post; do
  callgrind_annotate --inclusive=no --threshold=100 "$tmp/$p.cg" >"$tmp/$p.annotate" 2>/dev/null
done
python3 - "$tmp" "$tmp/section.md" "$requests" "$keys" "$pipelining" "$(kvd_version)" "$(utc_date)" "$(valgrind --version)" <<'PY'
import os, re, sys
tmp, body_path, n, keys, pipe, version, date, vg = sys.argv[1:]
n, keys = int(n), int(keys)
def total(p):
    for l in open(os.path.join(tmp, p + ".cg")):
        if l.startswith("totals:") or l.startswith("summary:"):
            return int(l.split()[1])
secs = dict((l.split()[0], float(l.split()[1])) for l in open(os.path.join(tmp, "phases")))
idle_rate = total("idle") / secs["idle"]
res = {}
for p in ("get", "post"):
    raw = total(p)
    idle = idle_rate * secs[p]
    res[p] = dict(raw=raw, idle=idle, per=(raw - idle) / n)
def short(fn):
    fn = re.sub(r"\s+\[[^\]]*\]$", "", fn)                 # the object file
    if ":" in fn and not fn.startswith("kvd") and re.match(r"^[^ ]*?:[^:]", fn):
        fn = fn.split(":", 1)[1]                             # the source file
    fn = fn.replace("absl::debian3::", "absl::").replace("container_internal::", "")
    out, depth = [], 0                                       # template arguments
    for ch in fn:
        if ch == "<":
            depth += 1
            if depth == 1:
                out.append("<>")
        elif ch == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    fn = "".join(out)
    fn = re.sub(r"\((?!anonymous)[^()]*\)", "()", fn)       # parameter lists
    fn = re.sub(r" const$", "", fn)
    if " " in fn and "(" in fn:                              # a return type
        fn = fn[:fn.index("(")].split(" ")[-1] + fn[fn.index("("):]
    return fn
def top(p, k=15):
    lines = open(os.path.join(tmp, p + ".annotate")).read().splitlines()
    start = next(i for i, l in enumerate(lines) if "file:function" in l) + 2
    grand = total(p)
    agg = {}
    for l in lines[start:]:
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", l)
        if not m:
            break
        ir = int(m.group(1).replace(",", ""))
        if ir >= 0.99 * grand:
            continue  # a frame that was on the stack at the dump: callgrind books its callees to it
        fn = short(m.group(3))
        agg[fn] = agg.get(fn, 0) + ir
    rows = sorted(agg.items(), key=lambda x: -x[1])[:k]
    return [(ir / n, 100.0 * ir / grand, fn.replace("|", "\\|")) for fn, ir in rows]
L = ["## Cost: instructions per request (`scripts/bench/cost.sh`)", "",
     f"Run {date}, kvd {version}, {vg}. kvd `--threads=1 --ttl=10m` under "
     f"`valgrind --tool=callgrind`; {keys:,} keys loaded with `scripts/bench/fill.py` (not counted), then a "
     f"fixed-seed client on one connection sends {n:,} requests per phase, {pipe} per write, and waits "
     f"for all {pipe} answers before the next write. Counters are zeroed before and dumped after each "
     f"phase (`callgrind_control -z/-d`); kvd's idle cost ({idle_rate:,.0f} Ir/s, its 10 ms timer) is "
     f"subtracted pro rata. User-space instructions only: the kernel's share (the read/write/epoll_wait "
     f"syscalls, about 3/{pipe} per request here) is not in these counts.", "",
     "| phase | requests | Ir in phase | idle share | **Ir per request** |", "|---|---|---|---|---|"]
for p in ("get", "post"):
    r = res[p]
    L.append(f"| {p.upper()} (hits) | {n:,} | {r['raw']:,} | {r['idle']:,.0f} | **{r['per']:,.0f}** |" if p == "get" else
             f"| {p.upper()} (overwrite) | {n:,} | {r['raw']:,} | {r['idle']:,.0f} | **{r['per']:,.0f}** |")
L.append("")
for p in ("get", "post"):
    L.append(f"Top 15 functions by self cost, {p.upper()} phase (`callgrind_annotate --inclusive=no`, code inlined from several files summed per function):")
    L.append("")
    L.append("| Ir per request | share | function |")
    L.append("|---|---|---|")
    for per, share, fn in top(p):
        L.append(f"| {per:,.1f} | {share:.1f}% | `{fn}` |")
    L.append("")
L.append("Reproduce:")
L.append("")
L.append("```sh")
L.append(f"scripts/bench/cost.sh --requests={n} --keys={keys} --pipelining={pipe}")
L.append("# by hand: valgrind --tool=callgrind ./kvd --threads=1 --ttl=10m --port=0 &")
L.append("#          scripts/bench/fill.py 127.0.0.1:PORT K; callgrind_control -z PID; <client>; callgrind_control -d PID")
L.append("#          callgrind_annotate --inclusive=no callgrind.out.PID.1 | head -40")
L.append("```")
L.append("")
def self_ir(p, pattern):
    """The self cost of the functions whose name matches pattern, in the phase (Ir)."""
    grand = total(p)
    lines = open(os.path.join(tmp, p + ".annotate")).read().splitlines()
    start = next(i for i, l in enumerate(lines) if "file:function" in l) + 2
    ir = 0
    for l in lines[start:]:
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", l)
        if not m:
            break
        v = int(m.group(1).replace(",", ""))
        if v < 0.99 * grand and re.search(pattern, m.group(3)):
            ir += v
    return ir
def parse_share(p):
    return 100.0 * self_ir(p, r"llhttp|RequestParser") / total(p)
shares = {p: parse_share(p) for p in ("get", "post")}
L.append(f"HTTP parsing (llhttp and kvd's `RequestParser` callbacks) is {shares['get']:.0f}% of a GET's "
         f"instructions and {shares['post']:.0f}% of a POST's.")
L.append("")
# llhttp's own code (its run loop and span helpers), without kvd's callbacks: the part of a
# request no change to kvd can cut.
llhttp = {p: self_ir(p, r"(^|:)llhttp_") / n for p in ("get", "post")}
L.append(f"llhttp's own code (`llhttp_*`, without kvd's callbacks) is {llhttp['get']:,.0f} Ir per GET and "
         f"{llhttp['post']:,.0f} per POST.")
L.append("")
L.append(f"<!-- fig cost_llhttp_get={llhttp['get']:.0f} -->")
L.append(f"<!-- fig cost_llhttp_post={llhttp['post']:.0f} -->")
L.append(f"<!-- fig cost_parse_share_get={shares['get']:.1f} -->")
L.append(f"<!-- fig cost_parse_share_post={shares['post']:.1f} -->")
L.append(f"<!-- fig cost_ir_get={res['get']['per']:.0f} -->")
L.append(f"<!-- fig cost_ir_post={res['post']['per']:.0f} -->")
open(body_path, "w").write("\n".join(L) + "\n")
print(f"GET {res['get']['per']:.0f} Ir/request, POST {res['post']['per']:.0f} Ir/request")
PY
write_section cost "$tmp/section.md"
say "kvd syscalls over the whole run: $syscalls"
scripts/bench/bench.sh --targets-only
