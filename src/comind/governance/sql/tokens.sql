-- name: vault_key
SELECT public FROM comind.token_vault_key WHERE id = 1;

-- name: publish_vault_key
INSERT INTO comind.token_vault_key (id, public) VALUES (1, %(public)s)
ON CONFLICT (id) DO UPDATE SET public = EXCLUDED.public, updated_at = now()
WHERE comind.token_vault_key.public <> EXCLUDED.public;

-- name: known
SELECT digest, token FROM comind.known_tokens(%(digests)s, %(scope)s);

-- name: add
SELECT comind.add_token(%(digest)s, %(token)s, %(sealed)s, %(scope)s);

-- name: sealed
SELECT t.token, t.sealed FROM comind.pii_tokens t
JOIN comind.pii_token_uses u ON u.token = t.token AND u.scope = %(scope)s
WHERE t.token = ANY(%(tokens)s);
