-- The weekly credit refresh (issue 17): every farm with a valid credit consent is decided again for
-- each of its lenders, once per cycle, in batches; a batch's decisions, audit entries and done marks
-- commit together, so a rerun after a crash continues where the last committed batch ended.

-- Which partition of n (0 .. n-1) a farm belongs to: the first 7 bytes of SHA-256 over the farm id's
-- 16 bytes, read as a big-endian unsigned integer, modulo n. Stable across servers, versions and
-- languages (usecases.credit_refresh documents the same formula; tests check it against hashlib).
CREATE OR REPLACE FUNCTION ft_farm_partition(p_farm_id uuid, p_partitions integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (('x' || left(encode(sha256(uuid_send(p_farm_id)), 'hex'), 14))::bit(56)::bigint % p_partitions)::integer
$$;

-- One row per cycle: its decision time (the window ends there) and the policy it decides under.
CREATE TABLE credit_refresh_cycles (
    id              bigserial PRIMARY KEY,
    as_of           timestamptz NOT NULL UNIQUE,
    policy_version  text NOT NULL REFERENCES credit_policies (version),
    started_at      timestamptz NOT NULL DEFAULT now()
);

-- The done marks: one per farm and lender decided in a cycle. A worker inserts the marks of its batch
-- first (ON CONFLICT DO NOTHING: a pair another worker holds or has committed is skipped), so two
-- workers never decide one pair; the decision row is written later in the same transaction, hence the
-- deferred foreign key.
CREATE TABLE credit_refresh_decisions (
    cycle_id                bigint NOT NULL REFERENCES credit_refresh_cycles (id),
    farm_id                 uuid NOT NULL REFERENCES farms (id),
    lender_organization_id  uuid NOT NULL REFERENCES organizations (id),
    decision_id             uuid NOT NULL UNIQUE REFERENCES credit_decisions (id) DEFERRABLE INITIALLY DEFERRED,
    decided_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cycle_id, farm_id, lender_organization_id)
);
