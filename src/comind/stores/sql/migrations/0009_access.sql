-- API tokens with roles (admin, operator, viewer; optionally limited to one app), stored as
-- SHA-256 hashes: a token is shown once at creation and cannot be read back. The audit log
-- records every change made through the API and every read of secrets.
CREATE TABLE comind.api_tokens (
    id         text        PRIMARY KEY,
    hash       text        NOT NULL UNIQUE,
    role       text        NOT NULL,
    app        text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE comind.audit_log (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text        NOT NULL DEFAULT '',
    outcome text        NOT NULL,
    detail  jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON comind.audit_log (at DESC);
