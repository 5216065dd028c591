-- Workers reach the token vault only through these two functions, never its tables: a token
-- (and a use of it in a dataset's field) is handed out only for a value's digest, the HMAC
-- a worker computes from a value it holds. Before, workers selected and inserted rows, so
-- one could record another dataset's token as written to its own dataset and have that
-- dataset's operator detokenize it (red team, issue 17).

-- The tokens of the values whose digests are given, each recorded as written to `scope`.
CREATE FUNCTION comind.known_tokens(digests bytea[], scope text)
RETURNS TABLE (digest bytea, token text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH found AS (
        SELECT t.digest, t.token FROM comind.pii_tokens t WHERE t.digest = ANY(digests)
    ), used AS (
        INSERT INTO comind.pii_token_uses (token, scope)
        SELECT found.token, known_tokens.scope FROM found ON CONFLICT DO NOTHING
    )
    SELECT found.digest, found.token FROM found
$$;

-- A new token for a value (its digest and the value sealed to the vault's key), recorded as
-- written to `scope`: the token stored for the digest (this one, or one another worker added
-- meanwhile), NULL when `token` is already another value's (the caller derives another).
CREATE FUNCTION comind.add_token(digest bytea, token text, sealed bytea, scope text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stored text;
BEGIN
    INSERT INTO comind.pii_tokens AS t (token, digest, sealed)
    VALUES (add_token.token, add_token.digest, add_token.sealed)
    ON CONFLICT DO NOTHING RETURNING t.token INTO stored;
    IF stored IS NULL THEN
        SELECT t.token INTO stored FROM comind.pii_tokens t WHERE t.digest = add_token.digest;
    END IF;
    IF stored IS NOT NULL THEN
        INSERT INTO comind.pii_token_uses (token, scope) VALUES (stored, add_token.scope)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN stored;
END
$$;

REVOKE ALL ON FUNCTION comind.known_tokens(bytea[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION comind.add_token(bytea, text, bytea, text) FROM PUBLIC;
