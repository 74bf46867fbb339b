#!/usr/bin/env bash
# Set up (if needed) and run the main job: `nhanes-mg run` with the given options.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nhanes-mg run "$@"
