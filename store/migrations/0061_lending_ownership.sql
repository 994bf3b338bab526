-- Lending: decisions and loans belong to the lender that made them.
-- A decision requested through the API belongs to the requesting lender; a loan to its decision's lender.
-- NULL: made outside the API (the CLI's `credit limit --record`); only admins see those.

ALTER TABLE credit_decisions ADD COLUMN lender_organization_id uuid REFERENCES organizations (id);
ALTER TABLE loans ADD COLUMN lender_organization_id uuid REFERENCES organizations (id);

-- Backfill: the API remembered which organization asked for each decision (its idempotency record).
UPDATE credit_decisions d SET lender_organization_id = k.organization_id
FROM idempotency_keys k JOIN organizations o ON o.id = k.organization_id AND o.kind = 'lender'
WHERE k.response ? 'decision_id' AND k.response ->> 'decision_id' = d.id::text;

UPDATE loans l SET lender_organization_id = d.lender_organization_id
FROM credit_decisions d WHERE d.id = l.decision_id;

CREATE INDEX credit_decisions_lender_idx ON credit_decisions (lender_organization_id, farm_id);
CREATE INDEX loans_lender_idx ON loans (lender_organization_id, farm_id);
CREATE INDEX loans_decision_idx ON loans (decision_id) WHERE status = 'active';
