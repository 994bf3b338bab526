-- Count intervals in the daily count rollups (issues #16 and #17): beside head_frames, the histograms of
-- the same evidence frames' interval ends, so the credit record read from the rollups carries each
-- camera-day's interval exactly as the raw rows give it (store.counts.daily_window_counts).
-- low_frames  {count_low: frames} of the evidence frames that carry an interval (count_low NOT NULL);
-- high_frames {count_high: frames} of the same frames, an unbounded upper end (count_high NULL) under the key
--             2147483647 (integer's largest, the sentinel store.counts takes medians with).
-- A day has an interval only when every evidence frame has one: the totals of low_frames and head_frames
-- are then equal. Numbered after 0086/0087, which add the interval columns it reads.

ALTER TABLE count_days ADD COLUMN IF NOT EXISTS low_frames jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE count_days ADD COLUMN IF NOT EXISTS high_frames jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Backfill from the raw rows still stored (days whose raw rows retention dropped keep no interval).
UPDATE count_days d SET low_frames = s.low_frames, high_frames = s.high_frames
FROM (SELECT farm_id, day, device_id, camera_id, species,
             coalesce(jsonb_object_agg(value, frames) FILTER (WHERE kind = 'l' AND frames > 0), '{}'::jsonb)
                 AS low_frames,
             coalesce(jsonb_object_agg(value, frames) FILTER (WHERE kind = 'u' AND frames > 0), '{}'::jsonb)
                 AS high_frames
      FROM (SELECT c.farm_id, (c.time AT TIME ZONE 'UTC')::date AS day, c.device_id,
                   coalesce(c.camera_id, '') AS camera_id, c.species, v.kind, v.value,
                   count(*) FILTER (WHERE c.method IN ('snapshot', 'edge_snapshot')
                                    AND NOT ('recycled_photo' = ANY(c.flags))) AS frames
            FROM livestock_counts c
            CROSS JOIN LATERAL (VALUES ('l', c.count_low), ('u', coalesce(c.count_high, 2147483647))) v(kind, value)
            WHERE c.device_id IS NOT NULL AND c.count_low IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6, 7) per_end
      GROUP BY 1, 2, 3, 4, 5) s
WHERE d.farm_id = s.farm_id AND d.day = s.day AND d.device_id = s.device_id AND d.camera_id = s.camera_id
  AND d.species = s.species;
