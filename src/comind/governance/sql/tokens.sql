-- name: vault_key
SELECT public FROM comind.token_vault_key WHERE id = 1;

-- name: publish_vault_key
INSERT INTO comind.token_vault_key (id, public) VALUES (1, %(public)s)
ON CONFLICT (id) DO UPDATE SET public = EXCLUDED.public, updated_at = now()
WHERE comind.token_vault_key.public <> EXCLUDED.public;

-- name: known
SELECT token, digest FROM comind.pii_tokens
WHERE digest = ANY(%(digests)s) OR token = ANY(%(values)s);

-- name: add
INSERT INTO comind.pii_tokens (token, digest, sealed) VALUES (%(token)s, %(digest)s, %(sealed)s)
ON CONFLICT DO NOTHING RETURNING token;

-- name: use
INSERT INTO comind.pii_token_uses (token, scope) VALUES (%(token)s, %(scope)s)
ON CONFLICT DO NOTHING;

-- name: sealed
SELECT t.token, t.sealed FROM comind.pii_tokens t
JOIN comind.pii_token_uses u ON u.token = t.token AND u.scope = %(scope)s
WHERE t.token = ANY(%(tokens)s);
