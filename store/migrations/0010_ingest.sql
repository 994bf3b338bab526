-- Ingest: exactly-once message ledger, sequence gaps, frames, device status and ingest counters.

CREATE TABLE ingest_messages (           -- one row per stored MQTT message: exactly-once
    message_id   uuid PRIMARY KEY,
    farm_id      uuid NOT NULL,
    device_id    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('telemetry', 'frame', 'count', 'status')),
    seq          bigint NOT NULL,
    device_time  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),     -- when the ingest worker got it from the broker
    stored_at    timestamptz NOT NULL DEFAULT clock_timestamp(),  -- when its batch wrote it
    readings     integer NOT NULL DEFAULT 0
);
CREATE INDEX ingest_messages_device_seq_idx ON ingest_messages (device_id, seq);

CREATE TABLE device_gaps (               -- missing per-device sequence ranges
    device_id    text NOT NULL,
    farm_id      uuid NOT NULL,
    seq_from     bigint NOT NULL,          -- first missing seq (inclusive)
    seq_to       bigint NOT NULL,          -- last missing seq (inclusive)
    detected_at  timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,              -- set when the missing messages arrived late
    PRIMARY KEY (device_id, seq_from),
    CHECK (seq_to >= seq_from)
);
CREATE INDEX device_gaps_open_idx ON device_gaps (device_id) WHERE closed_at IS NULL;

CREATE TABLE device_seq (                -- highest sequence stored per device (gap and replay checks)
    device_id    text PRIMARY KEY,
    farm_id      uuid NOT NULL,
    last_seq     bigint NOT NULL DEFAULT -1,
    first_seq    bigint,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE frames (                    -- content-addressed camera frames, announced to vision
    sha256       text PRIMARY KEY,
    farm_id      uuid NOT NULL,
    device_id    text NOT NULL,
    camera_id    text NOT NULL,
    captured_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    path         text NOT NULL,            -- relative to Settings.frame_dir: ab/abcdef....jpg
    bytes        integer NOT NULL,
    message_id   uuid NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'counted', 'quarantined')),
    status_reason text
);
CREATE INDEX frames_pending_idx ON frames (received_at) WHERE status = 'pending';

CREATE TABLE device_status (             -- the latest status message of each device
    device_id    text PRIMARY KEY,
    farm_id      uuid NOT NULL,
    online       boolean NOT NULL,
    spool_depth  integer NOT NULL,
    last_seq     bigint NOT NULL,
    clock_skew_s double precision,         -- server receive time minus device time
    dropped      jsonb NOT NULL DEFAULT '{}'::jsonb,
    body         jsonb NOT NULL,
    device_time  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest_counters (           -- a snapshot of each ingest worker's counters, for /metrics
    worker_id    text PRIMARY KEY,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    counters     jsonb NOT NULL
);
