-- The audit log as an RFC 9162 Merkle tree (issue 15): every complete subtree's hash, kept in the same
-- transaction as each append, so an inclusion or consistency proof reads O(log n) rows.
--
-- Leaf i (0-based) is audit entry seq = i + 1. Its leaf hash is SHA-256(0x00 || entry), where the entry
-- bytes are the 32 raw bytes of the entry's chain hash (audit_log.entry_hash, which already commits to
-- seq, kind, created_at, payload and the previous entry). Node (level, idx) covers the leaves
-- [idx * 2^level, (idx + 1) * 2^level) and hashes as SHA-256(0x01 || left || right).
-- credit/merkle.py is the reference for these hashes; tests/store/test_audit_tree.py checks they agree.
CREATE TABLE audit_tree_nodes (
    level  smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    idx    bigint NOT NULL CHECK (idx >= 0),
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TRIGGER audit_tree_nodes_append_only BEFORE UPDATE OR DELETE ON audit_tree_nodes
    FOR EACH ROW EXECUTE FUNCTION ft_forbid_change();
CREATE TRIGGER audit_tree_nodes_no_truncate BEFORE TRUNCATE ON audit_tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ft_forbid_change();

-- Add leaf seq - 1 and every subtree it completes (bottom up). Leaves arrive in order, one at a time:
-- a leaf whose left neighbour is missing is refused, so the tree has no holes.
CREATE OR REPLACE FUNCTION ft_audit_tree_add(p_seq bigint, p_entry_hash text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i     bigint := p_seq - 1;
    lvl   smallint := 0;
    h     bytea := sha256('\x00'::bytea || decode(p_entry_hash, 'hex'));
    left_ bytea;
BEGIN
    IF i > 0 AND NOT EXISTS (SELECT 1 FROM audit_tree_nodes WHERE level = 0 AND idx = i - 1) THEN
        RAISE EXCEPTION 'audit entry % would leave a hole in the Merkle tree (entry % is not in it)', p_seq, p_seq - 1
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (0, i, h);
    WHILE i % 2 = 1 LOOP
        SELECT n.hash INTO STRICT left_ FROM audit_tree_nodes n WHERE n.level = lvl AND n.idx = i - 1;
        h := sha256('\x01'::bytea || left_ || h);
        i := i / 2;
        lvl := lvl + 1;
        INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (lvl, i, h);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION ft_audit_tree_on_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ft_audit_tree_add(NEW.seq, NEW.entry_hash);
    RETURN NULL;
END $$;

-- Backfill the entries already logged, with appends held off (the appenders' lock, and the table lock
-- for anyone inserting directly).
SELECT pg_advisory_xact_lock(1179926869);
LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT seq, entry_hash FROM audit_log ORDER BY seq LOOP
        PERFORM ft_audit_tree_add(r.seq, r.entry_hash);
    END LOOP;
END $$;

CREATE TRIGGER audit_log_merkle_tree AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ft_audit_tree_on_append();
