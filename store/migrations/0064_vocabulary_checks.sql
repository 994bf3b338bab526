-- Vocabulary: the device-id rule and the consent scopes become CHECK constraints, the same values as
-- vocabulary/devices.py (DEVICE_ID_PATTERN) and vocabulary/organizations.py (ConsentScope);
-- tests/vocabulary/test_database_checks.py compares every CHECK with the vocabulary.
-- NOT VALID: rows written before (e.g. a device registered by the CLI with any id) are kept as they are;
-- every new or updated row must follow the rule.

ALTER TABLE devices
    ADD CONSTRAINT devices_id_rule CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$') NOT VALID;

ALTER TABLE consents
    ADD CONSTRAINT consents_scope_known CHECK (scope <@ ARRAY['records', 'credit']::text[]) NOT VALID;
