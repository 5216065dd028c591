-- Red team 21g F1: DELETE on a table is enough for LOCK TABLE, which row security does not
-- filter, and a flow's login held every app's queues. A flow now deletes messages only
-- through these functions (its login keeps SELECT, INSERT and column UPDATE on the table,
-- which allow no lock that stops others' reads or writes): they check its receive grants as
-- 0028's policies do, and delete as the platform. The platform calls them too: one path.
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
    IF NOT comind.may_receive(queue) THEN
        RAISE EXCEPTION 'permission denied for queue %', queue
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM comind.messages m USING unnest(ids, receipts) AS d(id, receipt)
    WHERE m.id = d.id AND m.receipt = d.receipt AND m.queue_id = queue;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- the messages a receive dead-letters (received maxReceiveCount times), taken out of their
-- queue for the receive statement to move; nothing else
CREATE FUNCTION comind.take_dead(queue bigint, ids bigint[]) RETURNS SETOF comind.messages
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;  -- the hot path: nothing to check, nothing to delete
    END IF;
    IF NOT comind.may_receive(queue) THEN
        RAISE EXCEPTION 'permission denied for queue %', queue
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY DELETE FROM comind.messages m USING comind.queues q
        WHERE m.id = ANY(ids) AND m.queue_id = queue AND q.id = queue
          AND m.receive_count >= q.max_receive_count
        RETURNING m.*;
END $$;

REVOKE EXECUTE ON FUNCTION comind.may_receive(bigint), comind.settle(bigint, bigint[], uuid[]),
    comind.take_dead(bigint, bigint[]) FROM PUBLIC;
DROP POLICY settle ON comind.messages;
