-- Red team 21g F1: DELETE on a table is enough for LOCK TABLE, which row security does not
-- filter, and a flow's login held every app's queues. A flow now deletes messages only
-- through these functions (its login keeps SELECT, INSERT and column UPDATE on the table,
-- which allow no lock that stops others' reads or writes): they check its receive grants as
-- 0028's policies do, and delete as the platform. The platform calls them too: one path.

-- the refusal of every function below, as PostgreSQL words its own
CREATE FUNCTION comind.must(allowed boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF allowed IS NOT TRUE THEN  -- a check that could not decide refuses too
        RAISE EXCEPTION 'permission denied for %', what USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

CREATE FUNCTION comind.may_receive(queue bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
        OR EXISTS (SELECT 1 FROM comind.queues q JOIN comind.worker_grants g ON g.name = q.name
                   WHERE q.id = queue AND g.role = session_user AND g.kind = 'receive');
END $$;

-- deliveries settled: those whose receipt is still current
CREATE FUNCTION comind.settle(queue bigint, ids bigint[], receipts uuid[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM comind.must(comind.may_receive(queue), format('queue %s', queue));
    DELETE FROM comind.messages m USING unnest(ids, receipts) AS d(id, receipt)
    WHERE m.id = d.id AND m.receipt = d.receipt AND m.queue_id = queue;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- the messages a receive dead-letters (received maxReceiveCount times) moved into their
-- queue's dead-letter queue, with their history: the letter is the platform's to write (red
-- team 21h H2: a flow inserting letters itself named any queue as their source, and a
-- redrive delivered them there); none when that queue is gone
CREATE FUNCTION comind.dead_letter(queue bigint, ids bigint[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src record;
    dlq record;
    n bigint;
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN 0;  -- the hot path: nothing to check, nothing to move
    END IF;
    PERFORM comind.must(comind.may_receive(queue), format('queue %s', queue));
    SELECT name, dead_letter_target, max_receive_count INTO src
    FROM comind.queues WHERE id = queue;
    SELECT id, retention_seconds INTO dlq FROM comind.queues WHERE name = src.dead_letter_target;
    IF dlq.id IS NULL THEN
        RETURN 0;
    END IF;
    WITH dead AS (
        DELETE FROM comind.messages m
        WHERE m.id = ANY(ids) AND m.queue_id = queue AND m.receive_count >= src.max_receive_count
        RETURNING m.*
    )
    INSERT INTO comind.messages (queue_id, message_id, body, attributes, group_id, dedup_id,
        sent_at, visible_at, expires_at, dead_letter_info)
    SELECT dlq.id, d.message_id, d.body, d.attributes, d.group_id, d.dedup_id, d.sent_at, now(),
        d.sent_at + make_interval(secs => dlq.retention_seconds),
        jsonb_build_object('source_queue', src.name, 'receive_count', d.receive_count,
            'first_received_at', d.first_received_at, 'last_received_at', d.last_received_at,
            'last_error', d.last_error, 'dead_lettered_at', now())
    FROM dead d;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

REVOKE EXECUTE ON FUNCTION comind.may_receive(bigint), comind.settle(bigint, bigint[], uuid[]),
    comind.dead_letter(bigint, bigint[]) FROM PUBLIC;

-- Red team 21g F8: the token vault's functions (0022) took the scope a token is recorded as
-- written to (`dataset/NAME/FIELD` or `flow/NAME/FIELD`) from the caller unchecked, so a
-- flow could record its tokens under any dataset's scope; a flow's login names its own now
CREATE FUNCTION comind.may_scope(scope text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
        OR (scope ~ '^(dataset|flow)/[^/]+/[^/]+$' AND EXISTS (
            SELECT 1 FROM comind.worker_grants g
            WHERE g.role = session_user AND g.name = split_part(scope, '/', 2)
              AND g.kind = split_part(scope, '/', 1)));
END $$;
REVOKE EXECUTE ON FUNCTION comind.may_scope(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION comind.known_tokens(digests bytea[], scope text)
RETURNS TABLE (digest bytea, token text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM comind.must(comind.may_scope(scope), format('scope %s', scope));
    RETURN QUERY
    WITH found AS (
        SELECT t.digest, t.token FROM comind.pii_tokens t WHERE t.digest = ANY(digests)
    ), used AS (
        INSERT INTO comind.pii_token_uses (token, scope)
        SELECT found.token, known_tokens.scope FROM found ON CONFLICT DO NOTHING
    )
    SELECT found.digest, found.token FROM found;
END
$$;

CREATE OR REPLACE FUNCTION comind.add_token(digest bytea, token text, sealed bytea, scope text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stored text;
BEGIN
    PERFORM comind.must(comind.may_scope(scope), format('scope %s', scope));
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
