#!/usr/bin/env bash
# Runs a local kvd cluster: N kvd nodes behind HAProxy or nginx (HTTP) or twemproxy (RESP, the
# Redis protocol), consistent hashing on the key, until Ctrl-C or SIGTERM, then stops everything
# it started, by PID.
#
#   scripts/ops/cluster.sh [--nodes N] [--base-port P] [--proxy haproxy|nginx|twemproxy]
#                      [--proxy-port Q] [--proxy-bind ADDR] [--resp-base-port R]
#                      [--stats-port S] [-- KVD_FLAGS...]
#
# Defaults: 3 nodes on 127.0.0.1:8081..8083, haproxy on 127.0.0.1:8080. With twemproxy the nodes
# also serve RESP on 127.0.0.1:R.. (--resp-base-port, default 6381; the proxy's servers), the
# proxy listens on 6380 unless --proxy-port says otherwise, and its JSON stats on port S
# (--stats-port, default 22222). Flags after `--` go to every kvd (e.g. `-- --ttl=1m
# --max-memory=1G`); behind twemproxy the nodes get --idle-timeout=1h first (twemproxy counts a
# node closing an idle connection as a failure), which such flags can override. KVD_BIN selects
# the kvd binary (default: ./kvd, built with `make kvd` when it is missing or out of date);
# HAPROXY_BIN / NGINX_BIN / NUTCRACKER_BIN the proxy's.
#
# The proxy configuration is deploy/haproxy/haproxy.cfg, deploy/nginx/nginx.conf or
# deploy/twemproxy/nutcracker.yml rendered for the chosen ports (server list between the
# "BEGIN/END kvd servers" markers, bind/listen line, haproxy's stats socket) into a temporary
# directory that also holds the logs of every process; nothing outside it is written. The
# directory is removed on exit.
set -euo pipefail
set -m  # every background job gets its own process group: Ctrl-C reaches only this script,
        # which then stops the jobs in order (and, by group id, nginx's workers if need be)

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
nodes=3 base_port=8081 proxy=haproxy proxy_port='' proxy_bind=127.0.0.1 resp_base_port=6381
stats_port=22222
kvd_flags=()

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit "${1:-0}"; }
die() { echo "cluster.sh: $*" >&2; exit 1; }
need_int() { [[ $2 =~ ^[0-9]+$ ]] || die "$1 needs a number, got '$2'"; }

while [ $# -gt 0 ]; do
  case $1 in
    --nodes) need_int "$1" "${2-}"; nodes=$2; shift 2 ;;
    --nodes=*) nodes=${1#*=}; need_int --nodes "$nodes"; shift ;;
    --base-port) need_int "$1" "${2-}"; base_port=$2; shift 2 ;;
    --base-port=*) base_port=${1#*=}; need_int --base-port "$base_port"; shift ;;
    --proxy) proxy=${2-}; shift 2 ;;
    --proxy=*) proxy=${1#*=}; shift ;;
    --proxy-port) need_int "$1" "${2-}"; proxy_port=$2; shift 2 ;;
    --proxy-port=*) proxy_port=${1#*=}; need_int --proxy-port "$proxy_port"; shift ;;
    --proxy-bind) proxy_bind=${2-}; shift 2 ;;
    --proxy-bind=*) proxy_bind=${1#*=}; shift ;;
    --resp-base-port) need_int "$1" "${2-}"; resp_base_port=$2; shift 2 ;;
    --resp-base-port=*) resp_base_port=${1#*=}; need_int --resp-base-port "$resp_base_port"; shift ;;
    --stats-port) need_int "$1" "${2-}"; stats_port=$2; shift 2 ;;
    --stats-port=*) stats_port=${1#*=}; need_int --stats-port "$stats_port"; shift ;;
    -h|--help) usage 0 ;;
    --) shift; kvd_flags=("$@"); break ;;
    *) echo "cluster.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
[ "$nodes" -ge 1 ] || die "--nodes must be at least 1"
[ -n "$proxy_port" ] || { [ "$proxy" = twemproxy ] && proxy_port=6380 || proxy_port=8080; }
last_port=$((base_port + nodes - 1))
if [ "$base_port" -lt 1 ] || [ "$last_port" -gt 65535 ]; then die "ports $base_port..$last_port out of range"; fi
# Every port this run listens on, to check they are distinct (and, below, free).
ports=("$proxy_port")
for ((i = 0; i < nodes; i++)); do ports+=($((base_port + i))); done
if [ "$proxy" = twemproxy ]; then
  resp_last=$((resp_base_port + nodes - 1))
  if [ "$resp_base_port" -lt 1 ] || [ "$resp_last" -gt 65535 ]; then die "RESP ports $resp_base_port..$resp_last out of range"; fi
  for ((i = 0; i < nodes; i++)); do ports+=($((resp_base_port + i))); done
  ports+=("$stats_port")
fi
dup=$(printf '%s\n' "${ports[@]}" | sort | uniq -d | head -1)
[ -z "$dup" ] || die "port $dup is used twice (node ports $base_port..$last_port${resp_last:+, RESP ports $resp_base_port..$resp_last}, --proxy-port $proxy_port${resp_last:+, --stats-port $stats_port})"

find_bin() {  # env-var-name binary-name
  local v=${!1-}
  if [ -n "$v" ]; then [ -x "$v" ] && { echo "$v"; return; }; die "$1=$v is not executable"; fi
  command -v "$2" 2>/dev/null && return
  local d; for d in /usr/sbin /usr/local/sbin; do [ -x "$d/$2" ] && { echo "$d/$2"; return; }; done
  return 1
}
case $proxy in
  haproxy) template=$ROOT/deploy/haproxy/haproxy.cfg
           proxy_bin=$(find_bin HAPROXY_BIN haproxy) || die "haproxy not found: apt-get install haproxy" ;;
  nginx)   template=$ROOT/deploy/nginx/nginx.conf
           proxy_bin=$(find_bin NGINX_BIN nginx) || die "nginx not found: apt-get install nginx-light" ;;
  twemproxy) template=$ROOT/deploy/twemproxy/nutcracker.yml
           proxy_bin=$(find_bin NUTCRACKER_BIN nutcracker) || die "nutcracker not found: apt-get install nutcracker" ;;
  *) die "--proxy must be haproxy, nginx or twemproxy, not '$proxy'" ;;
esac
[ -f "$template" ] || die "missing $template"

# kvd: KVD_BIN as given, else ./kvd, (re)built by make when missing or out of date.
if [ -n "${KVD_BIN-}" ]; then
  kvd=$KVD_BIN
else
  kvd=$ROOT/kvd
  if [ ! -x "$kvd" ] || ! make -C "$ROOT" -q kvd >/dev/null 2>&1; then
    echo "cluster.sh: building kvd (make kvd)" >&2
    make -C "$ROOT" -j"$(nproc 2>/dev/null || echo 2)" kvd >&2 || die "build failed"
  fi
fi
[ -x "$kvd" ] || die "kvd binary not found or not executable: $kvd"

# A port something already listens on would be shared (kvd binds with SO_REUSEPORT) or refused:
# check first, and say which.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "${ports[@]}"; do
  port_busy "$p" && die "port $p is already in use (choose --base-port/--proxy-port${resp_last:+/--resp-base-port/--stats-port})"
done

# GET path on 127.0.0.1:port is a 200 (bash's /dev/tcp: no curl needed)
http_ok() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$2" >&3 || { exec 3<&-; return 1; }
  IFS= read -r -t 2 line <&3 || line=
  exec 3<&-
  [[ $line == "HTTP/1.1 200"* ]]
}
# PING over RESP on 127.0.0.1:port answers +PONG
resp_ok() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  # shellcheck disable=SC2016  # $4 is RESP's, not the shell's
  printf '*1\r\n$4\r\nPING\r\n' >&3 || { exec 3<&-; return 1; }
  IFS= read -r -t 2 line <&3 || line=
  exec 3<&-
  [[ $line == "+PONG"* ]]
}

run=$(mktemp -d /tmp/kvd-cluster.XXXXXX)
chmod 755 "$run"   # nginx's workers (user nobody when started as root) create temp dirs in it
pids=() names=()
stopping=0

stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  set +m  # no "Terminated" job notices from bash
  echo >&2
  local i pid
  # the proxy first (it is last in the list), then the nodes: no request hits a stopped node
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: stopping ${names[i]} (pid $pid)" >&2
      kill -TERM "$pid" 2>/dev/null || true
    fi
    local t=0
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: ${names[i]} (pid $pid) still running after 5s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true  # its process group (nginx workers), if any left
    { wait "$pid"; } 2>/dev/null || true
  done
  rm -rf "$run"
}
on_exit() { local rc=$?; stop_all; exit "$rc"; }
trap on_exit EXIT
trap 'exit 0' INT TERM HUP

# Start the nodes.
for ((i = 0; i < nodes; i++)); do
  p=$((base_port + i)) resp=()
  [ "$proxy" = twemproxy ] && resp=(--resp-port=$((resp_base_port + i)) --idle-timeout=1h)
  "$kvd" --port="$p" --bind=127.0.0.1 "${resp[@]}" "${kvd_flags[@]}" </dev/null >"$run/kvd-$p.log" 2>&1 &
  pids+=($!) names+=("kvd :$p")
done
for ((i = 0; i < nodes; i++)); do
  p=$((base_port + i)) t=0
  until http_ok "$p" /healthz 2>/dev/null &&
        { [ "$proxy" != twemproxy ] || resp_ok $((resp_base_port + i)) 2>/dev/null; }; do
    kill -0 "${pids[i]}" 2>/dev/null || { cat "$run/kvd-$p.log" >&2; die "kvd on port $p exited"; }
    [ $t -ge 100 ] && { cat "$run/kvd-$p.log" >&2; die "kvd on port $p not ready after 10s"; }
    sleep 0.1; t=$((t + 1))
  done
done

# Render the proxy configuration for these ports and start the proxy in the foreground mode.
servers=$run/servers
: >"$servers"
if [ "$proxy" = haproxy ]; then
  for ((i = 0; i < nodes; i++)); do
    echo "server kvd$((i + 1)) 127.0.0.1:$((base_port + i))" >>"$servers"
  done
elif [ "$proxy" = twemproxy ]; then
  for ((i = 0; i < nodes; i++)); do
    echo "- 127.0.0.1:$((resp_base_port + i)):1 kvd$((i + 1))" >>"$servers"
  done
else
  params=$(sed -nE 's/^[[:space:]]*server 127\.0\.0\.1:[0-9]+ (.*);$/\1/p' "$template" | head -1)
  for ((i = 0; i < nodes; i++)); do
    echo "server 127.0.0.1:$((base_port + i)) $params;" >>"$servers"
  done
fi
render() {
  awk -v servers="$servers" '
    /^[ \t]*# BEGIN kvd servers/ {
      match($0, /^[ \t]*/); ind = substr($0, 1, RLENGTH); print
      while ((getline line < servers) > 0) print ind line
      skip = 1; next
    }
    /^[ \t]*# END kvd servers/ { skip = 0 }
    !skip { print }' "$template" |
  sed -E "s|^([[:space:]]*)bind [^[:space:]]+|\1bind $proxy_bind:$proxy_port|
          s|^([[:space:]]*)stats socket [^[:space:]]+|\1stats socket $run/haproxy.sock|
          s|^([[:space:]]*)listen [^[:space:];]+|\1listen $proxy_bind:$proxy_port|
          s|^([[:space:]]*)listen: [^[:space:]]+|\1listen: $proxy_bind:$proxy_port|"
}
if [ "$proxy" = haproxy ]; then
  conf=$run/haproxy.cfg
  render >"$conf"
  "$proxy_bin" -c -q -f "$conf" >"$run/check.log" 2>&1 || { cat "$run/check.log" >&2; die "haproxy rejected $conf"; }
  "$proxy_bin" -f "$conf" -db </dev/null >"$run/haproxy.log" 2>&1 &
elif [ "$proxy" = twemproxy ]; then
  conf=$run/nutcracker.yml
  render >"$conf"
  "$proxy_bin" -t -c "$conf" >"$run/check.log" 2>&1 || { cat "$run/check.log" >&2; die "nutcracker rejected $conf"; }
  # -i: the stats port's counters are refreshed every second (default 30 s)
  "$proxy_bin" -c "$conf" -a "$proxy_bind" -s "$stats_port" -i 1000 </dev/null >"$run/twemproxy.log" 2>&1 &
else
  conf=$run/nginx.conf
  render >"$conf"
  "$proxy_bin" -t -q -p "$run/" -c "$conf" >"$run/check.log" 2>&1 || { cat "$run/check.log" >&2; die "nginx rejected $conf"; }
  "$proxy_bin" -p "$run/" -c "$conf" -g 'daemon off;' </dev/null >"$run/nginx.log" 2>&1 &
fi
pids+=($!) names+=("$proxy :$proxy_port")
proxy_ok() {
  if [ "$proxy" = twemproxy ]; then resp_ok "$proxy_port"; else http_ok "$proxy_port" /healthz; fi
}
t=0
until proxy_ok 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$run/$proxy.log" >&2; die "$proxy exited"; }
  [ $t -ge 100 ] && { cat "$run/$proxy.log" >&2; die "$proxy not ready after 10s"; }
  sleep 0.1; t=$((t + 1))
done

host=$proxy_bind
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
if [ "$proxy" = twemproxy ]; then
  cat <<EOF
kvd cluster: $nodes node(s) on 127.0.0.1:$base_port..$last_port (RESP :$resp_base_port..$resp_last) behind twemproxy on $proxy_bind:$proxy_port
  nodes: $(for ((i = 0; i < nodes; i++)); do printf ':%s (pid %s)  ' $((base_port + i)) "${pids[i]}"; done)
  twemproxy: pid ${pids[-1]}, configuration $conf, stats on $proxy_bind:$stats_port
  logs:  $run/ (removed on exit)

Use the proxy like one Redis (each key lives on one node, chosen by consistent hashing of the key):
  redis-cli -h $host -p $proxy_port set k1 v1
  redis-cli -h $host -p $proxy_port get k1
  redis-cli -h $host -p $proxy_port mget k1 k2 k3      # twemproxy splits it per node
  for p in \$(seq $base_port $last_port); do echo ":\$p \$(curl -s 127.0.0.1:\$p/k1)"; done   # which node holds k1

twemproxy refuses INFO, DBSIZE, SELECT, CONFIG, ... (it closes the connection): ask each node.
  for p in \$(seq $base_port $last_port); do echo ":\$p \$(curl -s 127.0.0.1:\$p/size)"; done
  for p in \$(seq $base_port $last_port); do curl -s 127.0.0.1:\$p/metrics | grep '^cache_size'; done
  timeout 1 cat </dev/tcp/$host/$stats_port; echo    # twemproxy's counters per node (JSON)
EOF
else
  cat <<EOF
kvd cluster: $nodes node(s) on 127.0.0.1:$base_port..$last_port behind $proxy on $proxy_bind:$proxy_port
  nodes: $(for ((i = 0; i < nodes; i++)); do printf ':%s (pid %s)  ' $((base_port + i)) "${pids[i]}"; done)
  $proxy: pid ${pids[-1]}, configuration $conf
  logs:  $run/ (removed on exit)

Use the proxy like one kvd (each key lives on one node, chosen by consistent hashing of its path):
  curl -X POST $host:$proxy_port/k1 -d v1
  curl $host:$proxy_port/k1
  curl -s -D - -o /dev/null $host:$proxy_port/k1 | grep -i x-kvd-node    # which node holds k1

/size and /metrics are per node: through the proxy they come from whichever node "/size" hashes to.
  for p in \$(seq $base_port $last_port); do echo ":\$p \$(curl -s 127.0.0.1:\$p/size)"; done
  for p in \$(seq $base_port $last_port); do curl -s 127.0.0.1:\$p/metrics | grep '^cache_size'; done
EOF
fi
if [ "$proxy" = haproxy ]; then
  cat <<EOF
  echo "show stat" | socat - UNIX-CONNECT:$run/haproxy.sock | cut -d, -f1,2,18   # node states (apt-get install socat)
EOF
fi
echo
echo "ready; Ctrl-C (or SIGTERM to pid $$) stops the proxy and the nodes"

# Wait for Ctrl-C / SIGTERM; report (once) a process that dies meanwhile.
declare -A reported=()
while true; do
  sleep 1 &
  wait $! || true
  for i in "${!pids[@]}"; do
    if [ -z "${reported[$i]-}" ] && ! kill -0 "${pids[i]}" 2>/dev/null; then
      echo "cluster.sh: ${names[i]} (pid ${pids[i]}) exited" >&2
      reported[$i]=1
    fi
  done
done
