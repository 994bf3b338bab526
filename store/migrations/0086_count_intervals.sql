-- Vision issue #16: an interval for every count.
-- A device's camera profile (vocabulary/cameras.py CameraProfile; tests/vocabulary compares the CHECK with
-- it) picks the interval calibration its frames are counted with; devices registered before keep the
-- least trusting default, 'wide'.
-- Each count row may carry its interval [count_low, count_high] for the stated coverage
-- (vocabulary/cameras.py INTERVAL_COVERAGE, 90 %); NULL for rows stored before and for declared counts.

ALTER TABLE devices
    ADD COLUMN IF NOT EXISTS camera_profile text NOT NULL DEFAULT 'wide'
        CONSTRAINT devices_camera_profile_known CHECK (camera_profile IN ('race', 'pen', 'wide', 'aerial'));

ALTER TABLE livestock_counts ADD COLUMN IF NOT EXISTS count_low integer;
ALTER TABLE livestock_counts ADD COLUMN IF NOT EXISTS count_high integer;
ALTER TABLE livestock_counts
    ADD CONSTRAINT livestock_counts_interval_valid
        CHECK ((count_low IS NULL) = (count_high IS NULL) AND 0 <= count_low AND count_low <= count_high);
