-- Close of day follow-up (issue 17): a write-off is an audited loan event, and "written off on a day" has one
-- definition, shared by close of day (store/loan_states.py) and the API's portfolio at risk (store/loans.py).
ALTER TABLE loans ADD COLUMN written_off_audit_seq bigint REFERENCES audit_log (seq);

-- Whether a loan written off on ``written_off_on`` (NULL: never) is written off at the close of ``as_of``.
-- Not STRICT, so that NULL answers false; one expression without FROM, so that the planner inlines it.
CREATE FUNCTION ft_written_off(written_off_on date, as_of date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(written_off_on <= as_of, false)
$$;
