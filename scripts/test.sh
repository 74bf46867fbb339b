#!/usr/bin/env bash
# The whole test suite, set-up included: lint, format, types, then pytest (unit tests, doctests
# and the real-mirror integration tests; extra arguments go to pytest: -m "not slow" leaves out
# the tests that need the real-mirror build or a process of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# one BLAS thread per process, as the CLI does (many small solves; tests run processes too)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# pytest rewrites each test module's assertions as it imports it, and caches the result only
# where bytecode may be written: where PYTHONDONTWRITEBYTECODE is set (as on this project's
# machines) each worker process would rewrite all of them again (about 2.3 s of each one's
# start: `pytest --collect-only` took 6.19 s rewriting, 3.87 s reading the cache). Collected
# once here, cached, while ruff and mypy run on the other core; a failure to collect is left
# for the run itself to report.
env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest -q --collect-only -p no:xdist \
  -p no:cacheprovider >/dev/null 2>&1 &
rewritten=$!
trap 'kill "$rewritten" 2>/dev/null || true' EXIT  # a failed check below ends it too
.venv/bin/ruff check src tests scripts
.venv/bin/ruff format --check src tests scripts
.venv/bin/mypy
wait "$rewritten" || true
trap - EXIT  # ended: its pid may be another process's by the time this script ends
# the 25 slowest tests in the log (where the suite's time goes); in worker processes
# (pytest-xdist, NHANES_MG_TEST_WORKERS of them, 2 unless set; 0 runs them in this one), each
# test to whichever worker is free, but the tests of the real-mirror build and the shared run
# together on one (and a module's tests that share its fixtures): tests/conftest.py
workers=${NHANES_MG_TEST_WORKERS:-2}
parallel=()
[ "$workers" -gt 0 ] && parallel=(-n "$workers" --dist loadgroup)
.venv/bin/python -m pytest --durations=25 ${parallel[@]+"${parallel[@]}"} "$@"
