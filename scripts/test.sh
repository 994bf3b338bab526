#!/usr/bin/env bash
# The test command: set up everything on a fresh machine, then lint and run the whole suite twice,
# against PostgreSQL+TimescaleDB with Mosquitto, and the database tests against embedded PostgreSQL.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
VENV=$(bash scripts/venv.sh)
export PATH="$VENV/bin:$PATH"

if bash scripts/provision_services.sh; then
  export FARMTRUST_TEST_DB_URL=${FARMTRUST_TEST_DB_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
  export FARMTRUST_TEST_MQTT_URL=${FARMTRUST_TEST_MQTT_URL:-mqtt://127.0.0.1:1883}
  system_services=1
else
  echo "[test] system services unavailable: the tests start embedded PostgreSQL and broker" >&2
  system_services=0
fi

echo "[test] ruff" >&2
ruff check .
ruff format --check .
echo "[test] import-linter: the layer contracts in pyproject.toml" >&2
lint-imports --no-cache >/dev/null || lint-imports --no-cache

echo "[test] pytest: $([ $system_services = 1 ] && echo 'PostgreSQL+TimescaleDB, Mosquitto' || echo 'embedded services')" >&2
# a temporary folder of this run's own: pytest prunes old /tmp/pytest-of-$USER/pytest-N folders, which
# removed a running suite's files whenever another suite started on the same machine
basetemp=$(mktemp -d "${TMPDIR:-/tmp}/farmtrust-test-XXXXXX")
trap 'rm -rf "$basetemp"' EXIT
python -m pytest -q -p no:cacheprovider --basetemp "$basetemp/timescaledb" "$@"

if [ $system_services = 1 ]; then
  echo "[test] pytest -m db: embedded PostgreSQL (plain tables, no TimescaleDB)" >&2
  FARMTRUST_TEST_DB_URL= python -m pytest -q -p no:cacheprovider --basetemp "$basetemp/embedded" -m db "$@"
fi
