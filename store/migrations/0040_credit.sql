-- Credit: policy versions, cooperative deliveries, decisions, the hash-chained audit log and its signed
-- checkpoints, loans with their schedules, repayments and allocations, credit lines, and alerts.

CREATE TABLE credit_policies (
    version     text PRIMARY KEY,
    sha256      text NOT NULL UNIQUE,
    body        text NOT NULL,                      -- the TOML text exactly as parsed
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE coop_deliveries (                     -- deliveries or sales to the cooperative
    id            bigserial PRIMARY KEY,
    farm_id       uuid NOT NULL REFERENCES farms (id),
    delivered_on  date NOT NULL,
    product       text NOT NULL,                    -- milk | maize | ...
    quantity      numeric(14, 3) NOT NULL CHECK (quantity >= 0),
    unit          text NOT NULL,                    -- L | kg | t | head
    amount        numeric(14, 2) NOT NULL CHECK (amount >= 0),
    currency      char(3) NOT NULL,
    reference     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coop_deliveries_farm_idx ON coop_deliveries (farm_id, delivered_on);

-- Append-only, hash-chained audit log. payload is the canonical JSON text exactly as hashed.
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY CHECK (seq >= 1),
    kind        text NOT NULL,
    created_at  timestamptz NOT NULL,
    payload     text NOT NULL,
    prev_hash   char(64) NOT NULL,
    entry_hash  char(64) NOT NULL UNIQUE
);

CREATE TABLE audit_checkpoints (
    seq         bigint PRIMARY KEY REFERENCES audit_log (seq),
    entry_hash  char(64) NOT NULL,
    signed_at   timestamptz NOT NULL,
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    signature   bytea NOT NULL CHECK (length(signature) = 64)
);

CREATE OR REPLACE FUNCTION ft_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % is forbidden', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ft_forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ft_forbid_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ft_forbid_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ft_forbid_change();

CREATE TABLE credit_decisions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    farm_id            uuid NOT NULL REFERENCES farms (id),
    decided_at         timestamptz NOT NULL DEFAULT now(),
    as_of              timestamptz NOT NULL,
    window_days        integer NOT NULL,
    policy_version     text NOT NULL REFERENCES credit_policies (version),
    record_hash        char(64) NOT NULL,
    record             jsonb NOT NULL,                -- the frozen record, to replay the decision
    output             text NOT NULL,                 -- canonical JSON of the decision, exactly as hashed
    output_hash        char(64) NOT NULL,
    status             text NOT NULL CHECK (status IN ('approved', 'referred', 'declined', 'insufficient_data')),
    limit_amount       numeric(14, 2) NOT NULL,
    currency           char(3) NOT NULL,
    score              integer,
    verification_score numeric(6, 4) NOT NULL,
    fraud_score        numeric(6, 4) NOT NULL,
    audit_seq          bigint NOT NULL REFERENCES audit_log (seq)
);
CREATE INDEX credit_decisions_farm_idx ON credit_decisions (farm_id, decided_at DESC);

CREATE TABLE loans (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    farm_id         uuid NOT NULL REFERENCES farms (id),
    decision_id     uuid NOT NULL REFERENCES credit_decisions (id),
    principal       numeric(14, 2) NOT NULL CHECK (principal > 0),
    currency        char(3) NOT NULL,
    rate            numeric(8, 6) NOT NULL CHECK (rate >= 0),
    months          integer NOT NULL CHECK (months BETWEEN 1 AND 120),
    kind            text NOT NULL CHECK (kind IN ('annuity', 'equal-principal', 'flat', 'seasonal')),
    start_date      date NOT NULL,
    grace_months    integer NOT NULL DEFAULT 0,
    harvest_months  integer[] NOT NULL DEFAULT '{}',
    upfront_fee     numeric(14, 2) NOT NULL DEFAULT 0,
    apr             numeric(10, 6) NOT NULL,
    policy_version  text NOT NULL REFERENCES credit_policies (version),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    opened_at       timestamptz NOT NULL DEFAULT now(),
    audit_seq       bigint NOT NULL REFERENCES audit_log (seq)
);
CREATE INDEX loans_farm_idx ON loans (farm_id);

CREATE TABLE loan_instalments (
    loan_id        uuid NOT NULL REFERENCES loans (id),
    number         integer NOT NULL,
    due_date       date NOT NULL,
    days           integer NOT NULL,
    principal      numeric(14, 2) NOT NULL,
    interest       numeric(14, 2) NOT NULL,
    fees           numeric(14, 2) NOT NULL,
    total          numeric(14, 2) NOT NULL,
    balance_after  numeric(14, 2) NOT NULL,
    PRIMARY KEY (loan_id, number)
);

CREATE TABLE repayments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    loan_id          uuid NOT NULL REFERENCES loans (id),
    idempotency_key  text NOT NULL,
    amount           numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency         char(3) NOT NULL,
    paid_at          timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    audit_seq        bigint NOT NULL REFERENCES audit_log (seq),
    UNIQUE (loan_id, idempotency_key)
);

CREATE TABLE repayment_allocations (
    repayment_id  uuid NOT NULL REFERENCES repayments (id),
    component     text NOT NULL CHECK (component IN ('penalty', 'fees', 'interest', 'principal', 'unapplied')),
    amount        numeric(14, 2) NOT NULL,
    PRIMARY KEY (repayment_id, component)
);

CREATE TABLE credit_lines (                        -- the revolving line of a farm
    farm_id         uuid PRIMARY KEY REFERENCES farms (id),
    limit_amount    numeric(14, 2) NOT NULL,
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'frozen')),
    decision_id     uuid REFERENCES credit_decisions (id),
    refreshed_at    timestamptz NOT NULL,
    on_time_months  integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_alerts (
    id           bigserial PRIMARY KEY,
    farm_id      uuid NOT NULL REFERENCES farms (id),
    loan_id      uuid REFERENCES loans (id),
    code         text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'high', 'critical')),
    message      text NOT NULL,
    evidence     jsonb NOT NULL DEFAULT '{}'::jsonb,
    raised_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);
CREATE UNIQUE INDEX credit_alerts_open_idx ON credit_alerts (farm_id, code) WHERE resolved_at IS NULL;
