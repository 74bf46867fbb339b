#!/usr/bin/env bash
# Idempotent set-up on a machine with only Python >= 3.11: a .venv holding the locked
# dependencies (requirements.lock) and nhanes-mg itself (editable). Re-installs only when
# requirements.lock or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "nhanes-mg needs Python >= 3.11 (found: $("$PY" --version 2>&1)); set PYTHON=..." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.setup-stamp
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setting up .venv (locked dependencies) ..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  # build isolation: the build gets its own recent setuptools (a 3.11 venv ships an old one)
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
# the package's bytecode, written now: where PYTHONDONTWRITEBYTECODE is set (as on this
# project's machines) every process, each run's workers and each CLI test included, would
# otherwise compile every module of the package again
.venv/bin/python -m compileall -q src/nhanes_mg >/dev/null
