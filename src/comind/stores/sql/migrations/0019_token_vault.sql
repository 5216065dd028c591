-- The token vault: a tokenized PII value's way back. `digest` is the value's HMAC under the
-- platform's PII key (one token per value: tokens join), `sealed` the value sealed to the
-- vault's public key (X25519 sealed box): flow workers add tokens but cannot open them;
-- only the platform process, for a role that may detokenize, does. The platform publishes
-- the vault's public key in `token_vault_key` for the workers.
CREATE TABLE comind.pii_tokens (
    token      text        PRIMARY KEY,
    digest     bytea       NOT NULL UNIQUE,
    sealed     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comind.token_vault_key (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    public     bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
