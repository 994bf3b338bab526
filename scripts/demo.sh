#!/usr/bin/env bash
# The main job: set up on a fresh machine, then run the whole-pipeline demo.
#   bash scripts/demo.sh [--once]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
VENV=$(bash scripts/venv.sh)
export PATH="$VENV/bin:$PATH"
if farmtrust demo --help >/dev/null 2>&1; then
  exec farmtrust demo "$@"
fi
exec farmtrust services up
