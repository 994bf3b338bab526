-- API: hashed API keys per organization, lender consents granted on a farmer's behalf, idempotency keys.

CREATE TABLE api_keys (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id),
    prefix           text NOT NULL,                 -- first characters, shown to tell keys apart
    key_hash         char(64) NOT NULL UNIQUE,      -- sha256 of the key; the key itself is shown once
    label            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (organization_id);

CREATE TABLE consents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    farm_id      uuid NOT NULL REFERENCES farms (id),
    lender_id    uuid NOT NULL REFERENCES organizations (id),
    granted_by   uuid NOT NULL REFERENCES organizations (id),   -- the cooperative, on the farmer's behalf
    scope        text[] NOT NULL DEFAULT '{records,credit}',
    granted_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX consents_lender_farm_idx ON consents (lender_id, farm_id);

CREATE TABLE idempotency_keys (
    organization_id  uuid NOT NULL REFERENCES organizations (id),
    key              text NOT NULL,
    request_hash     char(64) NOT NULL,
    status_code      integer NOT NULL,
    response         jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);
