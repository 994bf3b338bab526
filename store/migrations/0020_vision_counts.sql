-- Vision: review flags on counts (recycled photo, ...) and look-ups by evidence hashes.

ALTER TABLE livestock_counts ADD COLUMN IF NOT EXISTS flags text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS livestock_counts_frame_idx ON livestock_counts (frame_sha256);
CREATE INDEX IF NOT EXISTS livestock_counts_phash_idx ON livestock_counts (farm_id, phash);
