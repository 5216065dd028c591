-- Which rows each flow's workers may touch (red team 21f H1). Every flow logs in to this
-- database with a login of its own (comind_fw_*), a member of the NOLOGIN group
-- comind_worker, which holds the table grants (stores/platform_db.py); these rows, written
-- by the platform when it provisions the flow (gitops/providers/flow_access.py), name the
-- flow's own flow rows, the queues it receives from (its input and dead-letter queues, a
-- queue:// source and that queue's dead-letter queue), the queues it sends to, the topics it
-- publishes to (their subscriber queues are found when a row is written, so a queue that
-- subscribes later needs no new grant) and the datasets whose quality it records. The
-- platform (superuser and table owner) and the backups (BYPASSRLS) pass by row security.
CREATE TABLE comind.worker_grants (
    role text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('flow', 'receive', 'send', 'topic', 'dataset')),
    name text NOT NULL,
    PRIMARY KEY (role, kind, name)
);
ALTER TABLE comind.worker_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON comind.worker_grants FOR SELECT USING (role = current_user);

-- run as the worker (no SECURITY DEFINER): it reads only its own grant rows, and queues,
-- topics and subscriptions, which it may read whole. PL/pgSQL, not SQL: its plans are kept
-- for the session, where a SQL function's body is planned again in every statement (the
-- queue's hot path runs several policies a statement)
CREATE FUNCTION comind.worker_names(wanted text) RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT g.name FROM comind.worker_grants g
        WHERE g.role = current_user AND g.kind = wanted;
END $$;

CREATE FUNCTION comind.worker_receives() RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT q.id FROM comind.queues q
        WHERE q.name IN (SELECT comind.worker_names('receive'));
END $$;

CREATE FUNCTION comind.worker_sends() RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT q.id FROM comind.queues q
        WHERE q.name IN (SELECT comind.worker_names('receive'))
           OR q.name IN (SELECT comind.worker_names('send'))
           OR q.name IN (SELECT s.queue_name FROM comind.subscriptions s
                         JOIN comind.topics t ON t.id = s.topic_id
                         WHERE t.name IN (SELECT comind.worker_names('topic')));
END $$;

ALTER TABLE comind.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY receive ON comind.messages
    USING (queue_id IN (SELECT comind.worker_receives()));
CREATE POLICY send ON comind.messages FOR INSERT
    WITH CHECK (queue_id IN (SELECT comind.worker_sends()));
-- an INSERT ... RETURNING checks the new row against the SELECT policies too: a message
-- this transaction sends carries the transaction's start time (sent_at's default), which no
-- message another transaction sent does, so a flow reads back what it sent, never what
-- others sent to the queues it may only send to
CREATE POLICY sent_now ON comind.messages FOR SELECT
    USING (sent_at = now() AND queue_id IN (SELECT comind.worker_sends()));

ALTER TABLE comind.queue_dedup ENABLE ROW LEVEL SECURITY;
CREATE POLICY sends ON comind.queue_dedup
    USING (queue_id IN (SELECT comind.worker_sends()));

-- a flow's own rows of its state and its trace spans
DO $$
DECLARE
    tab text;
BEGIN
    FOREACH tab IN ARRAY ARRAY['flow_stats', 'flow_runs', 'flow_quarantine', 'flow_cursors',
                               'flow_objects', 'flow_windows', 'flow_watermarks', 'spans'] LOOP
        EXECUTE format('ALTER TABLE comind.%I ENABLE ROW LEVEL SECURITY', tab);
        EXECUTE format('CREATE POLICY own ON comind.%I '
                       'USING (flow IN (SELECT comind.worker_names(''flow'')))', tab);
    END LOOP;
END $$;
ALTER TABLE comind.lineage_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON comind.lineage_events FOR INSERT
    WITH CHECK (job IN (SELECT comind.worker_names('flow')));
ALTER TABLE comind.quality_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON comind.quality_results
    USING (dataset IN (SELECT comind.worker_names('dataset')));
