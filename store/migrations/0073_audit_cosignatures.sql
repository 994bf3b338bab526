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
