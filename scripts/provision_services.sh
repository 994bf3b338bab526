#!/usr/bin/env bash
# Make sure the local PostgreSQL has TimescaleDB (Apache-2 edition, built from Debian's source
# package) preloaded and that Mosquitto is running. Idempotent: every step is skipped when done.
# Needs root and apt (Debian/Ubuntu); exits 3 when it cannot run here, so the caller can fall back
# to the embedded services.
set -euo pipefail

log() { printf '[provision] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "not root or no apt-get: cannot provision system services"; exit 3
fi
export DEBIAN_FRONTEND=noninteractive
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || true)}

apt_quiet() { apt-get -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null; }

# --- PostgreSQL -------------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL"; apt_quiet update; apt_quiet install -y postgresql
fi
PG_MAJOR=$(ls /etc/postgresql | sort -n | tail -1)
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)
CONF=/etc/postgresql/$PG_MAJOR/main/postgresql.conf
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true; fi

# --- TimescaleDB (Apache-2 only) built from Debian trixie's source package -----------------------
EXT_DIR=$("$PG_CONFIG" --sharedir)/extension
if ! ls "$EXT_DIR"/timescaledb.control >/dev/null 2>&1; then
  log "building TimescaleDB (Apache-2 edition) from Debian's source package"
  if ! dpkg -s "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1; then
    apt_quiet update || true
    apt_quiet install -y "postgresql-server-dev-$PG_MAJOR"
  fi
  command -v cmake >/dev/null || apt_quiet install -y cmake
  command -v dpkg-source >/dev/null || apt_quiet install -y dpkg-dev
  SRC_LIST=/etc/apt/sources.list.d/farmtrust-trixie-src.sources
  if [ ! -f "$SRC_LIST" ]; then
    cat > "$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt_quiet update
  BUILD=$(mktemp -d /tmp/timescaledb-build.XXXXXX)
  (cd "$BUILD" && apt-get -qq source --download-only timescaledb >/dev/null 2>&1 || apt-get -qq source timescaledb >/dev/null)
  (cd "$BUILD" && [ -d timescaledb-*/ ] || dpkg-source -x ./*.dsc >/dev/null)
  cd "$BUILD"/timescaledb-*/
  ./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="$PG_CONFIG" >/dev/null
  make -C build -j"$(nproc)" install >/dev/null
  cd / && rm -rf "$BUILD"
  log "TimescaleDB installed into $EXT_DIR"
fi
if ! grep -Eq "^shared_preload_libraries *= *'[^']*timescaledb" "$CONF"; then
  log "preloading timescaledb in $CONF"
  echo "shared_preload_libraries = 'timescaledb'" >> "$CONF"
  echo "timescaledb.telemetry_level = off" >> "$CONF"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main restart
fi
for _ in $(seq 30); do pg_up && break; sleep 0.5; done
pg_up || { log "PostgreSQL did not come up"; exit 1; }

# --- Mosquitto --------------------------------------------------------------------------------
if ! command -v mosquitto >/dev/null 2>&1; then
  log "installing Mosquitto"; apt_quiet update; apt_quiet install -y mosquitto
fi
MQ_CONF=/etc/mosquitto/mosquitto.conf
restart_mosquitto=0
# Ingest acknowledges late (after the database commit), so a burst of backlog from many devices
# queues at the broker: Mosquitto's default queue of 1000 messages per client would drop QoS 1
# messages beyond it. Raise it (the edge spool keeps a message until PUBACK, the broker must too).
if [ -f "$MQ_CONF" ] && ! grep -q "^max_queued_messages" "$MQ_CONF"; then
  log "raising Mosquitto's per-client queue in $MQ_CONF"
  printf '\n# FarmTrust: late-acking ingest needs a deep per-client queue\nmax_queued_messages 1000000\nmax_inflight_messages 0\n' >> "$MQ_CONF"
  restart_mosquitto=1
fi
if [ $restart_mosquitto = 1 ] && pgrep -x mosquitto >/dev/null; then
  pkill -x mosquitto || true
  for _ in $(seq 20); do pgrep -x mosquitto >/dev/null || break; sleep 0.25; done
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  log "starting Mosquitto"; mosquitto -d -c "$MQ_CONF"
  for _ in $(seq 20); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.25; done
fi
# --- Chromium (Debian's package) for the dashboard's browser tests -----------------------------
if ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian's chromium for the browser tests"
  apt_quiet update || true
  apt_quiet install -y chromium || log "chromium could not be installed; browser tests will fail"
fi
log "PostgreSQL $PG_MAJOR with TimescaleDB, Mosquitto and Chromium are ready"
