#!/usr/bin/env bash
# The package installs from its own metadata: pyproject.toml alone (no lock), into fresh venvs.
#  1. the newest versions pyproject.toml allows (what `pip install nhanes-mg` gives a user);
#  2. the lowest versions it declares for each direct dependency (uv's lowest-direct
#     resolution), so that every lower bound in pyproject.toml is a tested one.
# Each venv imports every module, runs the command line, and (2) runs the tests that need no
# NHANES mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --disable-pip-version-check uv
uv="$work/tools/bin/uv"
# build from the committed files only: a build/ or egg-info left in the working tree by an
# earlier in-tree build would put stale modules into the wheel
source="$work/source"
mkdir -p "$source"
git ls-files -z | xargs -0 cp --parents -t "$source"
for resolution in highest lowest-direct; do
  venv="$work/$resolution"
  "$PY" -m venv "$venv"
  echo "install from pyproject.toml ($resolution) ..." >&2
  "$uv" pip install -q --python "$venv/bin/python" --resolution "$resolution" "$source" "pytest>=8"
  "$venv/bin/python" scripts/import_all.py
  (cd "$work" && "$venv/bin/nhanes-mg" specs >/dev/null)
  "$venv/bin/python" - <<'PY'
from importlib.metadata import version
names = ["polars", "pyarrow", "pyreadstat", "numpy", "scipy", "pandas", "formulaic",
         "plotnine", "typer", "rich", "httpx", "sqlglot"]
print(", ".join(f"{n} {version(n)}" for n in names))
PY
done
# the fast tests against the lowest declared versions (the installed copy, not src/)
"$work/lowest-direct/bin/python" -m pytest -q -p no:cacheprovider tests -m "not mirror" \
  --rootdir . -o addopts="-ra"
