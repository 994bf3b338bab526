-- Daily rollups of sensor readings and livestock counts (issue #17), kept exactly by the writers of the raw
-- rows in the same transaction (store/rollups.py) and read by the credit record (store/rollup_reads.py).
-- Plain tables: TimescaleDB's continuous aggregates are not in its Apache edition, and plain PostgreSQL works.
-- Retention drops raw rows only: the rollups outlive them (they are 1/24 to 1/1440 of the raw rows).

-- Per farm, device, metric and UTC day. The sums are numeric over value::numeric (float8 -> numeric at
-- 15 significant digits, as PostgreSQL casts), so mean and standard deviation are exact and order-free.
CREATE TABLE sensor_days (
    farm_id      uuid NOT NULL,
    day          date NOT NULL,
    device_id    text NOT NULL,
    metric       text NOT NULL,
    readings     bigint NOT NULL,
    value_sum    numeric NOT NULL,
    value_sum_sq numeric NOT NULL,
    value_min    double precision NOT NULL,
    value_max    double precision NOT NULL,
    last_time    timestamptz NOT NULL,
    gps_values   double precision[],      -- GPS metrics only: every value, for the window's median position
    PRIMARY KEY (farm_id, day, device_id, metric)
);

-- Per farm, device, camera ('' for none), species and UTC day. Rows without a device are not rolled up
-- (the credit record never uses them). head_frames is the histogram {head count: frames} of the evidence
-- rows (methods snapshot and edge_snapshot, not flagged recycled_photo): the day's low median exactly.
CREATE TABLE count_days (
    farm_id      uuid NOT NULL,
    day          date NOT NULL,
    device_id    text NOT NULL,
    camera_id    text NOT NULL,
    species      text NOT NULL,
    count_rows   bigint NOT NULL,         -- every row (the device's activity)
    counted_rows bigint NOT NULL,         -- rows whose method is not 'declared'
    last_time    timestamptz NOT NULL,
    head_frames  jsonb NOT NULL,
    PRIMARY KEY (farm_id, day, device_id, camera_id, species)
);

-- The sum of two histograms {key: n}, keys whose total is 0 left out.
CREATE FUNCTION ft_histogram_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
    FROM (SELECT key, sum(value::bigint) AS total
          FROM (SELECT * FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
                UNION ALL SELECT * FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) kv
          GROUP BY key) s
    WHERE total <> 0
$$;

-- The credit record subtracts the counts of quarantined frames from the histograms: find them by farm.
CREATE INDEX IF NOT EXISTS frames_quarantined_idx ON frames (farm_id) WHERE status = 'quarantined';

-- Backfill from the raw rows already stored (the same aggregation as store.rollups.rebuild_daily_rollups).
INSERT INTO sensor_days
SELECT farm_id, (time AT TIME ZONE 'UTC')::date, device_id, metric, count(*), sum(value::numeric),
       sum(value::numeric * value::numeric), min(value), max(value), max(time),
       CASE WHEN metric IN ('gps_lat_deg', 'gps_lon_deg') THEN array_agg(value) END
FROM sensor_readings GROUP BY 1, 2, 3, 4;

INSERT INTO count_days
SELECT farm_id, day, device_id, camera_id, species, sum(n), sum(counted), max(last_time),
       coalesce(jsonb_object_agg(count, frames) FILTER (WHERE frames > 0), '{}'::jsonb)
FROM (SELECT farm_id, (time AT TIME ZONE 'UTC')::date AS day, device_id, coalesce(camera_id, '') AS camera_id,
             species, count, count(*) AS n, count(*) FILTER (WHERE method <> 'declared') AS counted,
             max(time) AS last_time,
             count(*) FILTER (WHERE method IN ('snapshot', 'edge_snapshot')
                              AND NOT ('recycled_photo' = ANY(flags))) AS frames
      FROM livestock_counts WHERE device_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) per_head
GROUP BY 1, 2, 3, 4, 5;
