-- Foundation: organizations, farms, devices, fields, time series and the ingest quarantine.

-- Turn a table into a hypertable when TimescaleDB is enabled; a plain table otherwise.
CREATE OR REPLACE FUNCTION ft_make_hypertable(tbl regclass, time_column text, chunk interval)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE format('SELECT create_hypertable(%L::regclass, %L, chunk_time_interval => %L::interval, '
                       'if_not_exists => true, migrate_data => true)', tbl, time_column, chunk);
        RETURN true;
    END IF;
    RETURN false;
END $$;

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text NOT NULL CHECK (kind IN ('cooperative', 'lender', 'admin')),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, name)
);

CREATE TABLE farms (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cooperative_id  uuid REFERENCES organizations (id),
    name            text NOT NULL,
    country         text,
    region          text,
    declared_herd   jsonb NOT NULL DEFAULT '{}'::jsonb,   -- {"cattle": 12, "sheep": 30}
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX farms_cooperative_idx ON farms (cooperative_id);

CREATE TABLE devices (
    id          text PRIMARY KEY,                          -- also the MQTT username
    farm_id     uuid NOT NULL REFERENCES farms (id),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),   -- raw Ed25519 public key
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);
CREATE INDEX devices_farm_idx ON devices (farm_id);

CREATE TABLE fields (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    farm_id          uuid NOT NULL REFERENCES farms (id),
    external_id      text,                                 -- the farmer's or registry's field id
    name             text,
    geometry         jsonb NOT NULL,                       -- GeoJSON geometry, EPSG:4326
    declared_crop    text,
    declared_area_ha numeric(12, 4) CHECK (declared_area_ha IS NULL OR declared_area_ha >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (farm_id, external_id)
);

CREATE TABLE sensor_readings (
    time        timestamptz NOT NULL,
    farm_id     uuid NOT NULL,
    device_id   text NOT NULL,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    message_id  uuid NOT NULL
);
SELECT ft_make_hypertable('sensor_readings', 'time', '1 day');
CREATE INDEX sensor_readings_farm_metric_time_idx ON sensor_readings (farm_id, metric, time DESC);
CREATE INDEX sensor_readings_device_time_idx ON sensor_readings (device_id, time DESC);

CREATE TABLE livestock_counts (
    time          timestamptz NOT NULL,
    farm_id       uuid NOT NULL,
    device_id     text,
    camera_id     text,
    species       text NOT NULL,
    count         integer NOT NULL CHECK (count >= 0),
    method        text NOT NULL,                          -- snapshot | window | line | tiled | declared
    spread        double precision,
    model_sha256  text,
    frame_sha256  text,
    phash         text,
    evidence_path text
);
SELECT ft_make_hypertable('livestock_counts', 'time', '7 days');
CREATE INDEX livestock_counts_farm_species_time_idx ON livestock_counts (farm_id, species, time DESC);

CREATE TABLE ingest_quarantine (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    detail      text,
    farm_id     text,
    device_id   text
);
CREATE INDEX ingest_quarantine_reason_idx ON ingest_quarantine (reason, received_at DESC);
