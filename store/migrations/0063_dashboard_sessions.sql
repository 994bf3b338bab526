-- Dashboard sign-in: server-side sessions (only the sha256 of each session token is kept) and the failed
-- sign-ins per client that throttle guessing of API keys.

CREATE TABLE dashboard_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash    char(64) NOT NULL UNIQUE,                  -- sha256 of the cookie's token
    api_key_id    uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    client        text NOT NULL DEFAULT '',                  -- the address that signed in
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz                                -- signed out
);
CREATE INDEX dashboard_sessions_key_idx ON dashboard_sessions (api_key_id);
CREATE INDEX dashboard_sessions_seen_idx ON dashboard_sessions (last_seen_at);

CREATE TABLE dashboard_login_failures (
    client     text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_login_failures_idx ON dashboard_login_failures (client, failed_at);
