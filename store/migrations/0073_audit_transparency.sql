-- Witness cosignatures (C2SP tlog-cosignature/v1) the server received for its signed checkpoints,
-- served with the checkpoint by GET /v1/audit/checkpoint. One per witness key and tree size; the API
-- checks each against the checkpoint it signed before storing it.
CREATE TABLE audit_cosignatures (
    tree_size bigint NOT NULL CHECK (tree_size >= 0),
    root_hash bytea NOT NULL CHECK (octet_length(root_hash) = 32),
    witness_name text NOT NULL CHECK (witness_name <> '' AND witness_name !~ '[[:space:]+]'),
    key_id bytea NOT NULL CHECK (octet_length(key_id) = 4),
    witness_vkey text NOT NULL,
    signature_line text NOT NULL CHECK (signature_line LIKE '— %'),
    cosigned_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tree_size, witness_name, key_id)
);

-- The application's role (issue 15: only the server can append, and nothing can rewrite the log). The API
-- and workers connect as a login role that is a member of farmtrust_app; migrations run as the owner.
-- farmtrust_app may read and write the application's tables, but on the audit log, its Merkle tree and
-- its checkpoint rows it has SELECT and INSERT only: no UPDATE, DELETE or TRUNCATE, and, not being the
-- owner, it cannot disable the append-only triggers either. Roles are cluster-wide: created once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'farmtrust_app') THEN
        CREATE ROLE farmtrust_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created at the same moment by a migration of another database of the cluster
END $$;
GRANT USAGE ON SCHEMA public TO farmtrust_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO farmtrust_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO farmtrust_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_tree_nodes, audit_checkpoints FROM farmtrust_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM farmtrust_app;
-- tables and sequences of later migrations (run by the same owner) are the application's too
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO farmtrust_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO farmtrust_app;
