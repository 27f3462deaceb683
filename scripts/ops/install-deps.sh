#!/usr/bin/env bash
# Installs the Debian 12 packages kvd needs to build and test, and nothing when they are present.
# Called by `make`; safe to run by hand. Usage: scripts/ops/install-deps.sh [build|test]
set -euo pipefail
want=(g++ make pkg-config libfmt-dev libabsl-dev doctest-dev)
if [ "${1:-build}" = test ]; then
  want+=(python3 curl prometheus haproxy nginx nutcracker slowhttptest redis-server redis-tools python3-redis)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "kvd: missing Debian packages: ${missing[*]}" >&2
  echo "kvd: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "kvd: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
