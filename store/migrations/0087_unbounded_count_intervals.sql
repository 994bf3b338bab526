-- Vision issue #16: a count interval may be unbounded above. vision.intervals gives a camera profile
-- calibrated on too few frames the interval [0, unbounded): it is stored as count_low with count_high
-- NULL. No interval at all stays (NULL, NULL); an upper end without a lower end is refused.

ALTER TABLE livestock_counts DROP CONSTRAINT IF EXISTS livestock_counts_interval_valid;
ALTER TABLE livestock_counts
    ADD CONSTRAINT livestock_counts_interval_ordered
        CHECK (0 <= count_low AND (count_high IS NULL OR count_low <= count_high)
               AND (count_high IS NULL OR count_low IS NOT NULL));
