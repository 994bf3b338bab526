-- Append an audit entry in one round trip: lock, read the last entry, hash, insert, all in the server.
-- The hash is the one credit.audit.entry_hash computes: sha256 over
--   prev_hash || '\n' || canonical JSON header || '\n' || payload
-- where the header is {"created_at":...,"kind":...,"prev_hash":...,"seq":...} (sorted keys, compact).
-- The caller passes the payload's canonical JSON and created_at's canonical text, checks the kind
-- (letters, digits, '.', '_': nothing JSON must escape) and recomputes the hash to compare.
-- One appender at a time: the transaction advisory lock 0x46544155 ("FTAU") of store/audit.py.
CREATE OR REPLACE FUNCTION ft_audit_append(p_kind text, p_created_at timestamptz, p_created_text text, p_payload text)
RETURNS TABLE (entry_seq bigint, entry_prev_hash text, entry_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    last_seq  bigint := 0;
    last_hash text := repeat('0', 64);
    header    text;
    digest    text;
BEGIN
    IF p_kind !~ '^[A-Za-z0-9._]+$' THEN
        RAISE EXCEPTION 'audit kind % must be letters, digits, dots and underscores', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(1179926869);
    SELECT a.seq, a.entry_hash INTO last_seq, last_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
    END IF;
    header := '{"created_at":"' || p_created_text || '","kind":"' || p_kind || '","prev_hash":"' || last_hash
        || '","seq":' || (last_seq + 1) || '}';
    digest := encode(sha256(convert_to(last_hash || E'\n' || header || E'\n' || p_payload, 'UTF8')), 'hex');
    INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash)
        VALUES (last_seq + 1, p_kind, p_created_at, p_payload, last_hash, digest);
    RETURN QUERY SELECT last_seq + 1, last_hash, digest;
END $$;
