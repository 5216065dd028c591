-- The transactional outbox, installed in an app's own database. The app inserts into
-- comind_outbox.messages inside its transaction; the platform's relay moves committed rows
-- into the queue layer: a row names a queue of the app's, or a topic it publishes to.
-- Idempotent: install runs on every provisioning (and upgrades an older table).

-- name: install
CREATE SCHEMA IF NOT EXISTS comind_outbox;
CREATE TABLE IF NOT EXISTS comind_outbox.messages (
    id            bigserial   PRIMARY KEY,
    queue         text        NOT NULL,
    body          text        NOT NULL,
    attributes    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    group_id      text,
    dedup_id      text,
    delay_seconds integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    error         text
);
ALTER TABLE comind_outbox.messages ADD COLUMN IF NOT EXISTS topic text;
ALTER TABLE comind_outbox.messages ALTER COLUMN queue DROP NOT NULL;
DO $$ BEGIN
    ALTER TABLE comind_outbox.messages ADD CONSTRAINT messages_one_target
        CHECK (num_nonnulls(queue, topic) = 1);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS messages_pending ON comind_outbox.messages (id) WHERE error IS NULL;
CREATE OR REPLACE FUNCTION comind_outbox.wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('comind_outbox', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER messages_wake AFTER INSERT ON comind_outbox.messages
    FOR EACH STATEMENT EXECUTE FUNCTION comind_outbox.wake();

-- name: enqueue
INSERT INTO comind_outbox.messages (queue, body, attributes, group_id, dedup_id, delay_seconds)
VALUES (%(queue)s, %(body)s, %(attributes)s, %(group_id)s, %(dedup_id)s, %(delay_seconds)s)
RETURNING id;

-- name: publish
INSERT INTO comind_outbox.messages (topic, body, attributes)
VALUES (%(topic)s, %(body)s, %(attributes)s)
RETURNING id;

-- name: shape
-- the types of the columns the relay reads: the app owns the table and may have altered it
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = 'comind_outbox.messages'::regclass AND a.attnum > 0 AND NOT a.attisdropped;

-- name: take
-- ONLY here and below: a table the app made to inherit from it is never read nor changed
-- attributes as text (parsed row by row: a row's JSON may nest deeper than a parser goes);
-- a body or attributes over %(cap)s bytes, or a name or id over %(name_cap)s, is left out
-- (null) and the last column says so: the row is refused, never read whole
SELECT id,
    CASE WHEN octet_length(queue) <= %(name_cap)s THEN queue END,
    CASE WHEN octet_length(topic) <= %(name_cap)s THEN topic END,
    CASE WHEN octet_length(body) <= %(cap)s THEN body END,
    CASE WHEN octet_length(attributes::text) <= %(cap)s THEN attributes::text END,
    CASE WHEN octet_length(group_id) <= %(name_cap)s THEN group_id END,
    CASE WHEN octet_length(dedup_id) <= %(name_cap)s THEN dedup_id END,
    delay_seconds, extract(epoch FROM now() - created_at)::float8,
    coalesce(greatest(octet_length(queue), octet_length(topic), octet_length(group_id),
                      octet_length(dedup_id)), 0) <= %(name_cap)s
FROM ONLY comind_outbox.messages WHERE error IS NULL
ORDER BY id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: guards
-- what would change what the relay's DELETE and UPDATE do: a table of another kind, row
-- security, a rule, or a trigger of the app's (install's own fires after INSERT only)
SELECT c.relkind::text, c.relrowsecurity,
    EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid),
    ARRAY(SELECT t.tgname::text FROM pg_catalog.pg_trigger t
          WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
            AND NOT (t.tgname = 'messages_wake' AND t.tgtype = 4) ORDER BY 1)
FROM pg_catalog.pg_class c WHERE c.oid = 'comind_outbox.messages'::regclass;

-- name: forget
DELETE FROM ONLY comind_outbox.messages WHERE id = ANY(%(ids)s);

-- name: refuse
UPDATE ONLY comind_outbox.messages SET error = %(error)s WHERE id = %(id)s;

-- name: pending
SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL)
FROM comind_outbox.messages;
