-- Bounds on what a flow's login may write (red team 21g). Row security (0028) says which
-- rows a flow may touch; these policies also say which values: every check runs only for
-- the flows' row-secured logins, never on the platform's own statements.

-- the queues a flow may send to: its sinks' and the subscribers of its topics (the letters of
-- its own records go to its dead-letter queue as sends: flows/access.py platform_rows names
-- it among them), no longer every queue it receives from (red team 21h H2: a flow wrote
-- letters naming any queue as their source into a dead-letter queue it reads, and a redrive
-- delivered them there)
CREATE OR REPLACE FUNCTION comind.worker_sends() RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT q.id FROM comind.queues q
        WHERE q.name IN (SELECT comind.worker_names('send'))
           OR q.name IN (SELECT s.queue_name FROM comind.subscriptions s
                         JOIN comind.topics t ON t.id = s.topic_id
                         WHERE t.name IN (SELECT comind.worker_names('topic')));
END $$;

-- F6: a message a flow adds is one the SQS endpoint would have accepted (its size, its
-- attributes' shape, its expiry within the queue's retention, its delay within 15 minutes
-- and never before now, which would put it ahead of every message already waiting),
-- so a flow can neither break its consumers' receives nor keep rows for ever. The queues'
-- limits are looked up once a statement (an InitPlan of the policy), not once a row: a
-- function call and a look-up a row halved a flow's send rate (bench/worker_rows.py).
CREATE FUNCTION comind.worker_queue_limits() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_object_agg(q.id::text,
                                    jsonb_build_array(q.max_message_size, q.retention_seconds))
            FROM comind.queues q WHERE q.id IN (SELECT comind.worker_sends()));
END $$;

-- each attribute as a send checks it (red team 21i: the JSON text writes U+0008 and U+000C as
-- \b and \f, so the characters are checked decoded): a name SQS allows, a type String, Number
-- or Binary (with a label), a value that is not empty and, for a number, one, stored as the
-- SQS endpoint stores it (a string or a binary value); no character an XML answer cannot
-- carry, in the name or the value
CREATE FUNCTION comind.attributes_well_formed(doc jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_typeof(doc) = 'object'
        AND (SELECT count(*) FROM jsonb_object_keys(doc) k WHERE k <> 'aws.trace') <= 10
        AND NOT EXISTS (SELECT 1 FROM jsonb_each(doc) a WHERE NOT coalesce(
            jsonb_typeof(a.value) = 'object'
            AND jsonb_typeof(a.value -> 't') = 'string'
            AND a.value - 't' - 's' - 'b' = '{}'::jsonb
            AND (a.value ? 's') <> (a.value ? 'b')
            AND jsonb_typeof(coalesce(a.value -> 's', a.value -> 'b')) = 'string'
            AND (a.key = 'aws.trace' OR (length(a.key) <= 256 AND a.key ~ '^[A-Za-z0-9_.-]+$'
                 AND a.key !~* '^(aws|amazon)\.' AND a.key !~ '(^\.|\.\.|\.$)'))
            AND a.value ->> 't' ~ '^(String|Number|Binary)(\..*)?$'
            AND (a.value ? 'b') = (a.value ->> 't' LIKE 'Binary%')
            AND coalesce(a.value ->> 's', a.value ->> 'b') <> ''
            AND (a.value ->> 't' NOT LIKE 'Number%'
                 OR a.value ->> 's' ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$')
            AND (a.value ->> 't') || coalesce(a.value ->> 's', '')
                !~ '[\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]',
            false));
END $$;

-- receiving: read and lease (only the delivery columns, granted column by column in
-- stores/platform_db.py, for at most the 12 hours SQS allows and never into the past, which
-- would put a message ahead of all); deleting and dead-lettering go through the platform's
-- functions (0031): a flow's login may not DELETE (which would allow LOCK TABLE) nor write a
-- letter itself
DROP POLICY receive ON comind.messages;
CREATE POLICY receive ON comind.messages FOR SELECT
    USING (queue_id IN (SELECT comind.worker_receives()));
CREATE POLICY lease ON comind.messages FOR UPDATE
    USING (queue_id IN (SELECT comind.worker_receives()))
    WITH CHECK (queue_id IN (SELECT comind.worker_receives())
                AND visible_at BETWEEN now() AND now() + interval '12 hours');
-- sending: a new message, as a send makes it (never received, sent now)
DROP POLICY send ON comind.messages;
CREATE POLICY send ON comind.messages FOR INSERT
    WITH CHECK (queue_id IN (SELECT comind.worker_sends())
        AND sent_at = now() AND receive_count = 0 AND receipt IS NULL
        AND first_received_at IS NULL AND last_received_at IS NULL
        AND last_error IS NULL AND dead_letter_info IS NULL
        AND group_id IS NULL AND dedup_id IS NULL);  -- flows write standard queues only
-- and whatever a flow adds (restrictive: on top of any INSERT policy), within its queue's
-- limits
CREATE POLICY bounds ON comind.messages AS RESTRICTIVE FOR INSERT
    WITH CHECK (
        octet_length(body) <= ((SELECT comind.worker_queue_limits()) #>> ARRAY[queue_id::text, '0'])::int
        AND octet_length(attributes::text) <= ((SELECT comind.worker_queue_limits()) #>> ARRAY[queue_id::text, '0'])::int
        AND expires_at <= now() + make_interval(secs => ((SELECT comind.worker_queue_limits()) #>> ARRAY[queue_id::text, '1'])::int)
        AND visible_at BETWEEN now() AND now() + interval '15 minutes'  -- no jumping the queue
        -- the characters SQS allows (red team 21h M1: a control character made the XML
        -- answer of every receive of the queue unreadable)
        AND body <> '' AND body !~ '[\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]'
        AND (attributes = '{}'::jsonb OR (comind.attributes_well_formed(attributes)
             AND attributes::text !~* '\\u00(0[0-8bcef]|1[0-9a-f])')));

-- F8: flows write standard queues only, which de-duplicate nothing: no flow row there
DROP POLICY sends ON comind.queue_dedup;

-- F3: quality results are appended, stamped with the time of their transaction; their
-- retention is the platform's (governance/quality_store.py prune), and no flow rewrites them
DROP POLICY own ON comind.quality_results;
CREATE POLICY own ON comind.quality_results FOR INSERT
    WITH CHECK (dataset IN (SELECT comind.worker_names('dataset')) AND checked_at = now());

-- F7: a lineage event dated where retention reaches it (not 2099)
DROP POLICY own ON comind.lineage_events;
CREATE POLICY own ON comind.lineage_events FOR INSERT
    WITH CHECK (job IN (SELECT comind.worker_names('flow'))
                AND event_time BETWEEN now() - interval '7 days' AND now() + interval '1 hour');

-- F4/F5: session advisory locks outlive errors and fill the cluster's shared lock table;
-- no lock function is a flow's to call in this database. A batch run claims its partition
-- through claim_partition: for a flow the login's grants name, a lock keyed by the flow's
-- name (so no flow takes another's), at most a few a session.
CREATE FUNCTION comind.claim_partition(flow text, part text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        IF NOT EXISTS (SELECT 1 FROM comind.worker_grants g WHERE g.role = session_user
                       AND g.kind = 'flow' AND g.name = flow) THEN
            RAISE EXCEPTION 'flow % is not this login''s', flow
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()
            AND locktype = 'advisory') >= 4 THEN
            RAISE EXCEPTION 'a session holds at most 4 partition claims'
                USING ERRCODE = 'program_limit_exceeded';
        END IF;
    END IF;
    RETURN pg_try_advisory_lock(hashtext(flow), hashtext(part));
END $$;
REVOKE EXECUTE ON FUNCTION comind.claim_partition(text, text) FROM PUBLIC;

REVOKE EXECUTE ON FUNCTION pg_advisory_lock(integer, integer),
    pg_try_advisory_lock(integer, integer), pg_advisory_xact_lock(integer, integer),
    pg_try_advisory_xact_lock(integer, integer), pg_advisory_lock_shared(integer, integer),
    pg_try_advisory_lock_shared(integer, integer),
    pg_advisory_xact_lock_shared(integer, integer),
    pg_try_advisory_xact_lock_shared(integer, integer)
    FROM PUBLIC;

-- F5: a transaction's temporary tables fill the lock table too; nothing here needs them
DO $$
BEGIN
    EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC', current_database());
END $$;
