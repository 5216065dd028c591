-- Access keys the platform issues to apps (SQS endpoint, later the object store).
-- The secret is sealed with the platform key (AES-256-GCM), never stored in clear.
CREATE TABLE comind.app_credentials (
    access_key_id text        PRIMARY KEY,
    app           text        NOT NULL,
    secret        bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX app_credentials_app ON comind.app_credentials (app) WHERE revoked_at IS NULL;
