#!/usr/bin/env bash
# Regenerate tests/golden/survey/golden.csv with R's survey package on the real NHANES mirror.
# Usage: scripts/make_golden_survey.sh [MIRROR_DIR]   (default: $NHANES_MG_MIRROR)
# Needs: apt-get install r-base-core r-cran-survey r-cran-foreign
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mirror="${1:-${NHANES_MG_MIRROR:-}}"
if [[ -z "$mirror" ]]; then
  echo "usage: $0 MIRROR_DIR (or set NHANES_MG_MIRROR)" >&2
  exit 2
fi
command -v Rscript >/dev/null || { echo "Rscript not found (apt-get install r-base-core r-cran-survey r-cran-foreign)" >&2; exit 2; }
Rscript "$here/tests/golden/survey/make_golden.R" "$mirror"
Rscript "$here/tests/golden/survey/make_golden_mi.R" "$mirror"   # micombine (Rubin's rules)
