#!/usr/bin/env bash
# Runs the unit tests (doctest) and the integration tests (Python unittest against a real kvd),
# then prints one closing line: `tests: N passed, M failed`. Exits non-zero on any failure.
# Called by `make test`, which sets KVD_BIN, KVBENCH_BIN and UNIT_BIN.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${UNIT_BIN:?}" "${KVD_BIN:?}"
export KVD_BIN KVBENCH_BIN
passed=0 failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

"$UNIT_BIN" --no-intro=false 2>&1 | tee "$log/unit.txt"
# doctest's summary: "[doctest] test cases: 12 | 12 passed | 0 failed | 0 skipped"
line=$(grep -E '^\[doctest\] test cases:' "$log/unit.txt" | tail -1)
if [ -n "$line" ]; then
  passed=$((passed + $(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")))
else
  echo "unit test binary produced no summary" >&2; failed=$((failed + 1))
fi

python3 tests/integration/runner.py "$log/integration.txt"
if [ -f "$log/integration.txt" ]; then
  read -r ip if_ < "$log/integration.txt"
  passed=$((passed + ip)); failed=$((failed + if_))
else
  echo "integration runner produced no summary" >&2; failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
