"""Runs every tests/integration/test_*.py (unittest discovery) against a real kvd.

    python3 tests/integration/runner.py RESULT_FILE [unittest name filters...]

Prints the normal unittest output and writes "<passed> <failed>" to RESULT_FILE (failed counts
failures, errors and unexpected successes, once per test; skips count as neither). Exits 0 even
when tests fail: the caller (tests/run.sh) decides. KVD_BIN selects the binary
(default /work/main/kvd). Extra arguments are -k style substring filters on test names.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_TIMEOUT = 900  # seconds; a hard stop for the whole suite if something hangs anyway


def _test_id(test) -> str:
    # A failing subTest reports the _SubTest; count it against its parent test.
    parent = getattr(test, "test_case", None)
    if parent is not None:
        test = parent
    return test.id() if hasattr(test, "id") else str(test)


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed_ids: set[str] = set()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed_ids.add(_test_id(test))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(f"usage: {argv[0]} RESULT_FILE [name filters...]", file=sys.stderr)
        return 2
    out_path = argv[1]
    # Pessimistic placeholder: if the run is killed, the caller still sees a failure.
    with open(out_path, "w") as f:
        f.write("0 1\n")
    faulthandler.dump_traceback_later(RUN_TIMEOUT, exit=True)

    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if len(argv) > 2:
        loader.testNamePatterns = [f"*{p}*" for p in argv[2:]]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    print(f"kvd integration tests: KVD_BIN={os.environ.get('KVD_BIN', '/work/main/kvd')}",
          flush=True)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result)
    result = runner.run(suite)
    faulthandler.cancel_dump_traceback_later()

    failed_ids = {_test_id(t) for t, _ in result.failures + result.errors}
    failed_ids |= {_test_id(t) for t in result.unexpectedSuccesses}
    passed = len(result.passed_ids - failed_ids)
    failed = len(failed_ids)
    with open(out_path, "w") as f:
        f.write(f"{passed} {failed}\n")
    print(f"integration: {passed} passed, {failed} failed, {len(result.skipped)} skipped",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
