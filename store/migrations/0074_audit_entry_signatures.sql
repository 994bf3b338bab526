-- Audit entries signed by the server's key (issue 15: only the server can append).
--
-- signature: the Ed25519 signature of credit.entry_signing.entry_signing_message(seq, entry_hash), made
-- with the server's checkpoint key outside the database. It is not part of the entry's hash.
--
-- Where signing begins: a log that is empty now is signed from entry 1. A log that already has entries
-- gets one more, unsigned, of kind 'audit.signing_begins' (at most one: the unique index), and every entry
-- after it must be signed. The marker is in the chain and the Merkle tree, so moving or removing it is a
-- rewrite that a kept checkpoint or receipt exposes. An unsigned entry where signing is required was
-- appended without the key (e.g. straight through ft_audit_append): the verifiers report it as forged.
ALTER TABLE audit_log ADD COLUMN signature bytea CHECK (signature IS NULL OR length(signature) = 64);

CREATE UNIQUE INDEX audit_log_signing_begins ON audit_log ((true)) WHERE kind = 'audit.signing_begins';

SELECT ft_audit_append(
    'audit.signing_begins', t, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    '{"signed_from_seq":' || ((SELECT max(seq) FROM audit_log) + 2) || '}'
)
FROM (SELECT date_trunc('second', now()) AS t) now_
WHERE EXISTS (SELECT 1 FROM audit_log);

-- Take the appenders' lock (0x46544155, "FTAU", store/audit.py) and read the head of the log, in one round
-- trip: the last entry's seq and hash (0 and the genesis hash when empty). The caller then hashes and signs
-- the next entries and inserts them with ft_audit_append_signed before its commit releases the lock.
CREATE OR REPLACE FUNCTION ft_audit_head()
RETURNS TABLE (last_seq bigint, last_hash text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1179926869);
    -- a new statement: in READ COMMITTED it sees every append committed before the lock was granted
    RETURN QUERY
        SELECT coalesce(h.seq, 0), coalesce(h.entry_hash::text, repeat('0', 64))
        FROM (SELECT 1) one
        LEFT JOIN (SELECT a.seq, a.entry_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1) h ON true;
END $$;

-- Insert one signed entry after the head the caller read (under the lock, taken again: it is re-entrant).
-- The hash is computed here as ft_audit_append (0041) does and returned, so the caller can compare it with
-- its own; an entry that does not follow the last one is refused.
CREATE OR REPLACE FUNCTION ft_audit_append_signed(
    p_seq bigint, p_kind text, p_created_at timestamptz, p_created_text text, p_payload text, p_prev_hash text,
    p_signature bytea
) RETURNS text
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
    IF p_seq <> last_seq + 1 OR p_prev_hash <> last_hash THEN
        RAISE EXCEPTION 'audit entry % does not follow the last entry % (%)', p_seq, last_seq, left(last_hash, 12)
            USING ERRCODE = 'serialization_failure';
    END IF;
    header := '{"created_at":"' || p_created_text || '","kind":"' || p_kind || '","prev_hash":"' || last_hash
        || '","seq":' || p_seq || '}';
    digest := encode(sha256(convert_to(last_hash || E'\n' || header || E'\n' || p_payload, 'UTF8')), 'hex');
    INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash, signature)
        VALUES (p_seq, p_kind, p_created_at, p_payload, last_hash, digest, p_signature);
    RETURN digest;
END $$;
