-- Append several audit entries in one statement (issue 17: the weekly credit refresh appends its
-- decisions in batches). Each entry goes through ft_audit_append (migration 0041), in array order, so
-- the hashing, the chaining, the single-appender lock and the Merkle tree trigger (0070) are exactly
-- those of one append; only the round trips are saved. The arrays are parallel: entry i is
-- (p_kinds[i], p_created_at[i], p_created_texts[i], p_payloads[i]).
CREATE OR REPLACE FUNCTION ft_audit_append_many(
    p_kinds text[], p_created_at timestamptz[], p_created_texts text[], p_payloads text[]
)
RETURNS TABLE (entry_seq bigint, entry_prev_hash text, entry_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_kinds), 0);
BEGIN
    IF coalesce(cardinality(p_created_at), 0) <> n OR coalesce(cardinality(p_created_texts), 0) <> n
       OR coalesce(cardinality(p_payloads), 0) <> n THEN
        RAISE EXCEPTION 'ft_audit_append_many: % kinds, % times, % time texts and % payloads; they must be as many',
            n, coalesce(cardinality(p_created_at), 0), coalesce(cardinality(p_created_texts), 0),
            coalesce(cardinality(p_payloads), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. n LOOP
        RETURN QUERY SELECT a.entry_seq, a.entry_prev_hash, a.entry_hash
                     FROM ft_audit_append(p_kinds[i], p_created_at[i], p_created_texts[i], p_payloads[i]) a;
    END LOOP;
END $$;
