#!/usr/bin/env bash
# Create or reuse the project's virtual environment, kept outside the checkout and keyed by the
# dependency lock: while pyproject.toml and requirements.lock are unchanged it is reused as is.
# Prints the venv's path on stdout. Usage: VENV=$(scripts/venv.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${FARMTRUST_PYTHON:-$(command -v python3.11 || command -v python3)}
# The key covers what decides the installed packages: the lock and pyproject's dependency lists
# (not tool settings such as ruff's, which would rebuild a 6 GB venv for nothing).
deps=$("$py" -c 'import json, sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["project"]; print(json.dumps([p.get("dependencies"), p.get("optional-dependencies"), p.get("requires-python")], sort_keys=True))' "$repo/pyproject.toml")
key=$( (echo "$deps"; cat "$repo/requirements.lock") | sha256sum | cut -c1-16)
venv=${FARMTRUST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/farmtrust/venv-$key}
if [ ! -f "$venv/.complete" ]; then
  echo "[venv] creating $venv (first run: installs torch and ultralytics, a few minutes)" >&2
  rm -rf "$venv"; mkdir -p "$(dirname "$venv")"
  "$py" -m venv "$venv"
  quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }; return "${PIPESTATUS[0]}"; }
  quiet "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  quiet "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$repo/requirements.lock" \
      -r <(sed -e '/^#/d' "$repo/requirements.lock")
  touch "$venv/.complete"
fi
# The project itself, editable, pointing at this checkout (quick; no dependencies resolved).
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$repo" >&2 2>/dev/null \
  || "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$repo" >&2
echo "$venv"
