# shellcheck shell=bash
# Shared pieces of the benchmark scripts (scripts/bench/bench.sh, cost.sh, memory.sh, crosscheck.sh,
# expiry_spike.sh, lookaside.sh, sizeshift.sh, resp_bench.sh; monitor.sh and plot_run.sh use need_pkgs). Sourced, never run: `. "$(dirname "$0")/lib/common.sh"`. Defining the
# functions is all that sourcing does; plain bash, safe under `set -euo pipefail`.
#
# Set up
#   bench_setup TAG      cd to the repo root; sets ROOT (that path), DOC (docs/benchmarks.md) and
#                        SAY_TAG=TAG (the tag of `say`)
#   usage                print the script's header comment ($0, from line 2 to the first line
#                        that is not a comment), without the leading '# '
#   say MSG...           log "[SAY_TAG HH:MM:SS] MSG" to stderr
#   common_arg ARG       the arguments every script takes, for the last branch of its option
#                        `case`: --no-build sets build=0, -h/--help prints usage and exits 0,
#                        anything else exits 1 with "<script>: unknown argument ARG"
#   need_pkgs CMD[=PKG...]...
#                        the Debian packages (PKG, default CMD; several separated by spaces) of
#                        every CMD not on PATH: installed with apt-get when root, else exits 1
#                        with "<script>: run: sudo apt-get install -y PKGS"
#   need_positive NAME VALUE
#                        exits 1 with "<script>: NAME must be a positive integer, not 'VALUE'"
#                        unless VALUE is one
#   build_if FLAG        `make -j2` (output to stderr) when FLAG is 1
#   setup_tmp NAME [keep]
#                        tmp=$(mktemp -d /tmp/kvd-NAME.XXXXXX), pids=() and traps: on exit every
#                        PID in pids is sent TERM (then CONT, for a stopped one) and waited for,
#                        and tmp is removed (kept, and its path printed, when `keep` is given and
#                        KEEP_TMP is set); INT and TERM exit 130
#   copy_bins BIN...     private copies of ./BIN in $tmp (other people rebuild ./kvd while a
#                        benchmark runs), retried until each answers --help
#   set_pins [NICE]      NICE=(nice -n NICE) or (); SRV_PIN and CLI_PIN: NICE plus `taskset -c 1`
#                        (servers) and `taskset -c 0` (clients) with 2+ CPUs, NICE alone with one
#
# Processes (every one started is appended to pids, so that the exit trap stops it)
#   run_kvd [--wait=SECONDS] LOG [WRAPPER...] -- [ARG...]
#                        starts `WRAPPER... $tmp/kvd --port=0 --bind=127.0.0.1 ARG... 2>LOG` in
#                        the background and waits (5 s unless --wait) for its "Starting server on
#                        PORT" line; sets KVD_PID and KVD_PORT. Exits 1 (printing LOG) if kvd
#                        dies first, exits non-zero if the line never comes
#   run_redis [WRAPPER...] [-- ARG...]
#                        starts `WRAPPER... redis-server ... ARG...` on a free port, no
#                        persistence, logging to $tmp/redis.log, and waits for its PONG; sets
#                        REDIS_PID and REDIS_PORT. Exits 1 (printing the log) if it dies first
#   run_memcached [WRAPPER...] [-- ARG...]
#                        starts `WRAPPER... memcached -l 127.0.0.1 -p PORT -U 0 ARG...` on a free
#                        port (as root: with -u root), logging to $tmp/memcached.log, and waits
#                        until it accepts connections; sets MEMCACHED_PID and MEMCACHED_PORT.
#                        Exits 1 (printing the log) if it dies first
#   run_floor [WRAPPER...] [-- ARG...]
#                        starts `WRAPPER... build/kvfloor --port=0 ARG...` (a copy in $tmp; `make`
#                        builds it; `--resp` for RESP) logging to $tmp/floor.log and waits for its start line; sets
#                        FLOOR_PID and FLOOR_PORT. Exits 1 (printing the log) if it dies first
#   floor_count          the requests kvfloor has answered so far (it prints them on SIGUSR1)
#   started_port PID LOG SECS
#                        waits for PID's "Starting server on PORT" line in LOG and prints PORT
#                        (used by run_kvd and run_floor)
#   stop_pid PID [SIGNAL]
#                        sends SIGNAL (TERM) to PID, waits for it, removes it from pids
#
# Measuring
#   free_port            a free TCP port on 127.0.0.1
#   proc_cpu PID         "utime stime" of PID in clock ticks (/proc/PID/stat)
#   proc_cpu_total PID   utime + stime of PID in clock ticks
#   proc_rss PID         VmRSS of PID in KiB (/proc/PID/status)
#   proc_io PID          read + write syscalls of PID so far (syscr + syscw, /proc/PID/io)
#   machine_busy         busy CPU ticks of the whole machine so far (/proc/stat)
#   now                  the time, seconds since the epoch with nanoseconds
#   metrics PORT         kvd's /metrics text (kvd on 127.0.0.1:PORT)
#   metric PORT NAME     the sum of kvd's samples whose line starts with NAME, as an integer
#
# Reporting
#   kvd_version          the commit (short), plus " + uncommitted changes in src/" when src/ has any
#   utc_date             "YYYY-MM-DD HH:MM UTC"
#   write_section NAME [FILE]
#                        puts the text of FILE (or stdin) between "<!-- BEGIN NAME -->" and
#                        "<!-- END NAME -->" in $DOC, replacing what was there; appends the
#                        section (and starts the doc) when missing. Refuses an empty text

bench_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  ROOT=$PWD
  DOC=$ROOT/docs/benchmarks.md
  SAY_TAG=$1
}

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

say() { printf '[%s %s] %s\n' "$SAY_TAG" "$(date +%T)" "$*" >&2; }

# shellcheck disable=SC2034  # build is for the caller
common_arg() {
  case "$1" in
    --no-build) build=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "${0##*/}: unknown argument $1" >&2; exit 1 ;;
  esac
}

need_pkgs() {
  local spec p q have missing=() pkgs
  for spec in "$@"; do
    command -v "${spec%%=*}" >/dev/null && continue
    read -ra pkgs <<<"${spec#*=}"
    for p in "${pkgs[@]}"; do
      have=0
      for q in "${missing[@]}"; do [ "$q" = "$p" ] && have=1; done
      [ "$have" = 1 ] || missing+=("$p")
    done
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -eq 0 ]; then
    # A fresh machine may have no package lists yet: update once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    echo "${0##*/}: run: sudo apt-get install -y ${missing[*]}" >&2; exit 1
  fi
}

need_positive() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "${0##*/}: $1 must be a positive integer, not '$2'" >&2; exit 1; }
}

build_if() {
  [ "$1" = 1 ] || return 0
  say "make -j2"
  make -j2 >&2
}

setup_tmp() {
  tmp=$(mktemp -d "/tmp/kvd-$1.XXXXXX")
  TMP_KEEPABLE=${2:-}
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$TMP_KEEPABLE" ] && [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}

# Retried if a copy catches a binary mid-link.
copy_bins() {
  local b ok
  for _ in $(seq 20); do
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

# shellcheck disable=SC2034  # NICE, SRV_PIN and CLI_PIN are for the caller
set_pins() {
  NICE=()
  if [ -n "${1:-}" ]; then NICE=(nice -n "$1"); fi
  if [ "$(nproc)" -ge 2 ]; then
    SRV_PIN=("${NICE[@]}" taskset -c 1) CLI_PIN=("${NICE[@]}" taskset -c 0)
  else
    SRV_PIN=("${NICE[@]}") CLI_PIN=("${NICE[@]}")
  fi
}

# shellcheck disable=SC2034  # KVD_PORT is for the caller
run_kvd() {
  local secs=5 log wrap=()
  case "$1" in --wait=*) secs=${1#*=}; shift ;; esac
  log=$1; shift
  while [ "$1" != -- ]; do wrap+=("$1"); shift; done
  shift
  "${wrap[@]}" "$tmp/kvd" --port=0 --bind=127.0.0.1 "$@" 2>"$log" &
  KVD_PID=$!
  pids+=("$KVD_PID")
  KVD_PORT=$(started_port "$KVD_PID" "$log" "$secs") || exit 1
}

# started_port PID LOG SECS: waits up to SECS for PID to log "Starting server on PORT" (kvd and
# kvfloor both do) and prints PORT; exits 1, printing LOG, if PID dies first.
started_port() {
  for _ in $(seq "$(($3 * 20))"); do
    grep -q 'Starting server on' "$2" 2>/dev/null && break
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; exit 1; }
    sleep 0.05
  done
  grep -o 'Starting server on [0-9]*' "$2" | awk '{print $4}'
}

# shellcheck disable=SC2120  # the wrapper is optional
run_redis() {
  local wrap=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do wrap+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  REDIS_PORT=$(free_port)
  "${wrap[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$tmp/redis.log" --dir "$tmp" "$@" &
  REDIS_PID=$!
  pids+=("$REDIS_PID")
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$tmp/redis.log" >&2; exit 1; }
    sleep 0.05
  done
}

# shellcheck disable=SC2120  # the wrapper and arguments are optional
run_memcached() {
  local wrap=() user=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do wrap+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  [ "$(id -u)" -eq 0 ] && user=(-u root)  # memcached refuses to run as root without -u
  MEMCACHED_PORT=$(free_port)
  "${wrap[@]}" memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 "${user[@]}" "$@" >"$tmp/memcached.log" 2>&1 &
  MEMCACHED_PID=$!
  pids+=("$MEMCACHED_PID")
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$MEMCACHED_PORT") 2>/dev/null && return 0
    kill -0 "$MEMCACHED_PID" 2>/dev/null || { cat "$tmp/memcached.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "${0##*/}: memcached did not start" >&2; cat "$tmp/memcached.log" >&2; exit 1
}

run_floor() {
  local wrap=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do wrap+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cp "$ROOT/build/kvfloor" "$tmp/kvfloor"
  "${wrap[@]}" "$tmp/kvfloor" --port=0 "$@" >"$tmp/floor.log" &
  FLOOR_PID=$!
  pids+=("$FLOOR_PID")
  FLOOR_PORT=$(started_port "$FLOOR_PID" "$tmp/floor.log" 5) || exit 1
  [ -n "$FLOOR_PORT" ] || { echo "$0: kvfloor did not start" >&2; exit 1; }
}

floor_count() {
  local before
  before=$(grep -c '^answered' "$tmp/floor.log" || true)
  kill -USR1 "$FLOOR_PID"
  for _ in $(seq 200); do
    [ "$(grep -c '^answered' "$tmp/floor.log" || true)" -gt "$before" ] && break
    sleep 0.01
  done
  awk '/^answered/ {n = $2} END {print n}' "$tmp/floor.log"
}

stop_pid() {
  kill -"${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
proc_cpu() { local s f; s=$(<"/proc/$1/stat"); read -ra f <<<"${s##*) }"; echo "${f[11]} ${f[12]}"; }
proc_cpu_total() { local c; c=$(proc_cpu "$1"); echo $(( ${c% *} + ${c#* } )); }
proc_rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
proc_io() { awk '/^sysc[rw]/ {s += $2} END {print s}' "/proc/$1/io"; }
machine_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
now() { date +%s.%N; }
metrics() { curl -s "http://127.0.0.1:$1/metrics"; }
metric() { metrics "$1" | awk -v name="$2" 'index($0, name) == 1 {s += $2} END {printf "%d", s}'; }

kvd_version() {
  printf '%s' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  if [ -n "$(git status --porcelain -- src 2>/dev/null)" ]; then printf ' + uncommitted changes in src/'; fi
}
utc_date() { date -u '+%Y-%m-%d %H:%M UTC'; }

write_section() {
  python3 -c '
import os, sys
doc_path, name = sys.argv[1:]
body = sys.stdin.read()
if not body.strip():
    sys.exit("write_section: nothing to write into the section " + name)
doc = open(doc_path).read() if os.path.exists(doc_path) else "# kvd benchmarks\n"
begin, end = "<!-- BEGIN %s -->" % name, "<!-- END %s -->" % name
if begin in doc:
    a = doc.index(begin) + len(begin); b = doc.index(end)
    doc = doc[:a] + "\n" + body + doc[b:]
else:
    doc += f"\n{begin}\n{body}{end}\n"
open(doc_path, "w").write(doc)
' "$DOC" "$1" <"${2:-/dev/stdin}"
}
