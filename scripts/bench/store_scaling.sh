#!/usr/bin/env bash
# The store's scaling without the network (tools/storebench, `make store-bench`): N threads run the
# request path below the socket (batches of 16 keys, prefetch, shard operations, 80/20 GET/SET over
# 1M keys) on one shared store, for each shard rule, beside each thread on a store of its own (the
# shared-nothing bound) and the same with real hand-offs to the key's owner thread. Rows are
# medians of --repeat interleaved runs.
#
#   scripts/bench/store_scaling.sh [--threads=1,2] [--shards=x1,x4,x16,x64] [--seconds=2]
#                                  [--repeat=5] [--doc] [--no-build]
#
#   --doc   also rewrites the "store-scaling" section of docs/benchmarks.md and the target table
#
# Needs nothing else running: on 2 CPUs it takes both. ~(rules x 5 x repeat x (seconds + 1.5)) s.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
bench_setup store-scaling
threads=1,2 shards=x1,x4,x16,x64 seconds=2 repeat=5 doc=0 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads=*) threads=${1#*=} ;;
    --shards=*) shards=${1#*=} ;;
    --seconds=*) seconds=${1#*=} ;;
    --repeat=*) repeat=${1#*=} ;;
    --doc) doc=1 ;;
    *) common_arg "$1" ;;
  esac
  shift
done
need_pkgs python3
if [ "$build" = 1 ]; then
  say "make build/storebench"
  make -j2 build/storebench >&2
fi
setup_tmp store-scaling
cp build/storebench "$tmp/storebench"
flags=(--threads="$threads" --shards="$shards" --seconds="$seconds" --repeat="$repeat")
say "storebench ${flags[*]}"
"$tmp/storebench" "${flags[@]}" --json="$tmp/rows.json" | tee "$tmp/out.txt"

[ "$doc" = 1 ] || exit 0
{
  echo "## Store scaling without the network (\`scripts/bench/store_scaling.sh\`)"
  echo
  echo "Run $(utc_date), kvd $(kvd_version), $(nproc) CPUs: \`build/storebench ${flags[*]}\` (\`make store-bench STOREBENCH_FLAGS=\"...\"\` runs the same). Speedups are over one thread on an unlocked store with the same shard count; \"none (store per thread)\" is each thread on a store of its own holding its share of the keys, the bound of a shared-nothing design whose hand-offs cost nothing; \"none (hand-off to the owner)\" is that design with real hand-offs (every thread draws keys from the whole keyspace and passes those it does not own to their owner through a ring, up to 8 batches in flight; owners poll, so waking one is not in it). docs/design.md (\"One keyspace across reactors\") reads the figures."
  echo
  grep '^A cache line moves' "$tmp/out.txt" && echo || true
  sed -n '/^| threads/,$p' "$tmp/out.txt"
  echo
  python3 - "$tmp/rows.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
# The 2-thread rows of kvd's default rule (16 shards a reactor: 32), and the best bound.
for r in rows:
    if r["threads"] != 2:
        continue
    tag = "owned" if r["owned"] else "handoff" if r.get("handoff") else "locks"
    print(f"<!-- fig store_speedup_2t_{r['shards']}s_{tag}={r['speedup']:.3f} -->")
PY
} >"$tmp/section.md"
write_section store-scaling "$tmp/section.md"
bash "$ROOT/scripts/bench/bench.sh" --targets-only
say "wrote the store-scaling section of docs/benchmarks.md"
