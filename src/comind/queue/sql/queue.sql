-- name: create_queue
INSERT INTO comind.queues (name, fifo, visibility_timeout, delay_seconds, retention_seconds,
    max_message_size, receive_wait_seconds, content_based_dedup, dead_letter_target,
    max_receive_count, extra_attributes, tags)
VALUES (%(name)s, %(fifo)s, %(visibility_timeout)s, %(delay_seconds)s, %(retention_seconds)s,
    %(max_message_size)s, %(receive_wait_seconds)s, %(content_based_dedup)s,
    %(dead_letter_target)s, %(max_receive_count)s, %(extra_attributes)s, %(tags)s)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: get_queue
SELECT id, name, fifo, visibility_timeout, delay_seconds, retention_seconds, max_message_size,
    receive_wait_seconds, content_based_dedup, dead_letter_target, max_receive_count,
    extra_attributes, tags, created_at, updated_at, purged_at
FROM comind.queues WHERE name = %(name)s;

-- name: send
INSERT INTO comind.messages (queue_id, message_id, body, attributes, group_id, dedup_id,
    visible_at, expires_at)
VALUES (%(queue_id)s, %(message_id)s, %(body)s, %(attributes)s, %(group_id)s, %(dedup_id)s,
    now() + make_interval(secs => %(delay)s), now() + make_interval(secs => %(retention)s))
RETURNING id;

-- name: claim_dedup
INSERT INTO comind.queue_dedup (queue_id, dedup_id, message_id, expires_at)
VALUES (%(queue_id)s, %(dedup_id)s, %(message_id)s, now() + interval '5 minutes')
ON CONFLICT (queue_id, dedup_id) DO UPDATE
    SET message_id = EXCLUDED.message_id, expires_at = EXCLUDED.expires_at
    WHERE comind.queue_dedup.expires_at < now()
RETURNING message_id;

-- name: dedup_owner
SELECT message_id FROM comind.queue_dedup WHERE queue_id = %(queue_id)s AND dedup_id = %(dedup_id)s;

-- name: pick_standard
SELECT id, receive_count FROM comind.messages
WHERE queue_id = %(queue_id)s AND visible_at <= now() AND expires_at > now()
ORDER BY visible_at, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: pick_fifo
-- only the head (lowest id) of each message group can be received
SELECT id, receive_count FROM comind.messages
WHERE id IN (
    SELECT DISTINCT ON (group_id) id FROM comind.messages
    WHERE queue_id = %(queue_id)s AND expires_at > now()
    ORDER BY group_id, id
) AND visible_at <= now()
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: receive
-- one statement: lease the picked messages, or move those received maxReceiveCount times
-- to the dead-letter queue (the platform's function: a flow's login writes no letter
-- itself, migration 0031); always one row more than delivered, carrying the DLQ count.
-- set_config(..., true) makes this statement's own transaction commit asynchronously:
-- a lease lost in a crash only means the message is delivered again.
WITH picked AS (
    {pick}
), moved AS (
    SELECT comind.dead_letter(%(queue_id)s,
        ARRAY(SELECT id FROM picked WHERE receive_count >= %(max_receive_count)s)) AS n
), delivered AS (
    UPDATE comind.messages m SET
        visible_at = now() + make_interval(secs => %(visibility)s),
        receive_count = m.receive_count + 1,
        receipt = gen_random_uuid(),
        first_received_at = coalesce(m.first_received_at, now()),
        last_received_at = now()
    FROM picked p
    WHERE m.id = p.id AND p.receive_count < %(max_receive_count)s
    RETURNING m.id, m.message_id, m.receipt, m.body, m.attributes, m.receive_count, m.sent_at,
        m.first_received_at, m.group_id, m.dedup_id, m.dead_letter_info
)
SELECT d.*, c.n AS dead_lettered
FROM moved c
CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) relaxed
LEFT JOIN delivered d ON true
ORDER BY d.id NULLS LAST;

-- name: delete_message
SELECT comind.settle(%(queue_id)s, ARRAY[%(id)s::bigint], ARRAY[%(receipt)s::uuid]);

-- name: change_visibility
UPDATE comind.messages SET visible_at = now() + make_interval(secs => %(timeout)s)
WHERE id = %(id)s AND queue_id = %(queue_id)s AND receipt = %(receipt)s AND visible_at > now()
RETURNING id;

-- name: record_error
UPDATE comind.messages SET last_error = %(error)s,
    visible_at = now() + make_interval(secs => %(retry_in)s)
WHERE id = %(id)s AND queue_id = %(queue_id)s AND receipt = %(receipt)s
RETURNING id;

-- name: stats
SELECT
    count(*) FILTER (WHERE visible_at <= now()),
    count(*) FILTER (WHERE visible_at > now() AND receive_count > 0),
    count(*) FILTER (WHERE visible_at > now() AND receive_count = 0),
    coalesce(extract(epoch FROM now() - min(sent_at)), 0)
FROM comind.messages WHERE queue_id = %(queue_id)s AND expires_at > now();

-- name: sweep
WITH gone AS (
    DELETE FROM comind.messages WHERE expires_at <= now() RETURNING 1
), dedup AS (
    DELETE FROM comind.queue_dedup WHERE expires_at <= now() RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM dedup);

-- name: list_queues
SELECT name FROM comind.queues WHERE name LIKE %(prefix)s AND name > %(after)s
ORDER BY name LIMIT %(limit)s;

-- name: delete_queue
DELETE FROM comind.queues WHERE name = %(name)s RETURNING id;

-- name: delete_queue_if_empty
-- checked and deleted in one statement: a message sent meanwhile keeps the queue
DELETE FROM comind.queues q WHERE q.name = %(name)s
    AND NOT EXISTS (SELECT 1 FROM comind.messages m WHERE m.queue_id = q.id)
RETURNING id;

-- name: update_queue
UPDATE comind.queues SET visibility_timeout = %(visibility_timeout)s,
    delay_seconds = %(delay_seconds)s, retention_seconds = %(retention_seconds)s,
    max_message_size = %(max_message_size)s, receive_wait_seconds = %(receive_wait_seconds)s,
    content_based_dedup = %(content_based_dedup)s, dead_letter_target = %(dead_letter_target)s,
    max_receive_count = %(max_receive_count)s, extra_attributes = %(extra_attributes)s,
    updated_at = now()
WHERE id = %(id)s;

-- name: purge
WITH gone AS (DELETE FROM comind.messages WHERE queue_id = %(queue_id)s RETURNING 1)
UPDATE comind.queues SET purged_at = now() WHERE id = %(queue_id)s
RETURNING (SELECT count(*) FROM gone);

-- name: dead_letter_sources
SELECT name FROM comind.queues WHERE dead_letter_target = %(name)s ORDER BY name;

-- name: set_tags
UPDATE comind.queues SET tags = %(tags)s WHERE id = %(queue_id)s;

-- name: create_topic
INSERT INTO comind.topics (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING;

-- name: delete_topic
DELETE FROM comind.topics WHERE name = %(name)s RETURNING id;

-- name: list_topics
SELECT name FROM comind.topics ORDER BY name;

-- name: subscribe
INSERT INTO comind.subscriptions (topic_id, queue_name, filter_policy, raw)
SELECT id, %(queue)s, %(filter)s, %(raw)s FROM comind.topics WHERE name = %(topic)s
ON CONFLICT (topic_id, queue_name) DO UPDATE
    SET filter_policy = EXCLUDED.filter_policy, raw = EXCLUDED.raw
RETURNING topic_id;

-- name: unsubscribe
DELETE FROM comind.subscriptions s USING comind.topics t
WHERE s.topic_id = t.id AND t.name = %(topic)s AND s.queue_name = %(queue)s;

-- name: subscriptions
SELECT s.queue_name, s.filter_policy, s.raw FROM comind.subscriptions s
JOIN comind.topics t ON t.id = s.topic_id WHERE t.name = %(topic)s ORDER BY s.queue_name;

-- name: topic_exists
SELECT 1 FROM comind.topics WHERE name = %(name)s;

-- name: start_move
INSERT INTO comind.queue_move_tasks (handle, source, destination, max_per_second, to_move)
SELECT %(handle)s, %(source)s, %(destination)s, %(rate)s, count(*)
FROM comind.messages WHERE queue_id = %(queue_id)s;

-- name: running_move_for
SELECT handle FROM comind.queue_move_tasks WHERE source = %(source)s AND status = 'RUNNING';

-- name: list_moves
SELECT handle, source, destination, max_per_second, status, moved, to_move, failure,
    started_at, finished_at
FROM comind.queue_move_tasks WHERE source = %(source)s ORDER BY started_at DESC LIMIT %(limit)s;

-- name: running_moves
SELECT handle, source, destination, max_per_second, moved,
    extract(epoch FROM now() - started_at)
FROM comind.queue_move_tasks WHERE status = 'RUNNING' ORDER BY started_at;

-- name: cancel_move
UPDATE comind.queue_move_tasks SET status = 'CANCELLED', finished_at = now()
WHERE handle = %(handle)s AND status = 'RUNNING' RETURNING moved;

-- name: move_batch
-- only messages whose destination exists are taken; the others stay where they are. Back
-- to their source, a letter goes only to a queue whose dead-letter queue this is (red team
-- 21h H2: a forged letter named another team's queue as its source)
WITH picked AS (
    SELECT m.id, q.id AS dest_id, q.retention_seconds AS dest_retention
    FROM comind.messages m
    JOIN comind.queues q
      ON q.name = coalesce(%(destination)s, m.dead_letter_info->>'source_queue')
     AND (%(destination)s IS NOT NULL OR q.dead_letter_target = %(source_name)s)
    WHERE m.queue_id = %(source_id)s AND m.visible_at <= now()
    ORDER BY m.id LIMIT %(limit)s
    FOR UPDATE OF m SKIP LOCKED
), moved AS (
    DELETE FROM comind.messages m USING picked WHERE m.id = picked.id
    RETURNING m.message_id, m.body, m.attributes, m.group_id, m.dedup_id, m.sent_at,
        picked.dest_id, picked.dest_retention
)
INSERT INTO comind.messages (queue_id, message_id, body, attributes, group_id, dedup_id,
    sent_at, visible_at, expires_at)
SELECT dest_id, message_id, body, attributes, group_id, dedup_id, sent_at, now(),
    now() + make_interval(secs => dest_retention)
FROM moved
RETURNING id;

-- name: move_remaining
-- movable messages still in the source, locked ones included (SKIP LOCKED passed them over)
SELECT EXISTS (
    SELECT 1 FROM comind.messages m
    JOIN comind.queues q ON q.name = coalesce(%(destination)s, m.dead_letter_info->>'source_queue')
     AND (%(destination)s IS NOT NULL OR q.dead_letter_target = %(source_name)s)
    WHERE m.queue_id = %(source_id)s AND m.visible_at <= now()
);

-- name: finish_move
UPDATE comind.queue_move_tasks SET moved = moved + %(moved)s,
    status = CASE WHEN %(done)s THEN 'COMPLETED' ELSE status END,
    finished_at = CASE WHEN %(done)s THEN now() ELSE finished_at END
WHERE handle = %(handle)s AND status = 'RUNNING';

-- name: all_stats
SELECT q.name,
    count(m.id) FILTER (WHERE m.visible_at <= now()),
    count(m.id) FILTER (WHERE m.visible_at > now() AND m.receive_count > 0),
    count(m.id) FILTER (WHERE m.visible_at > now() AND m.receive_count = 0),
    coalesce(extract(epoch FROM now() - min(m.sent_at)), 0)
FROM comind.queues q
LEFT JOIN comind.messages m ON m.queue_id = q.id AND m.expires_at > now()
GROUP BY q.name ORDER BY q.name;

-- name: peek
SELECT id, message_id, body, attributes, receive_count, sent_at, first_received_at, group_id,
    dedup_id, dead_letter_info, NULL::uuid AS receipt
FROM comind.messages
WHERE queue_id = %(queue_id)s AND expires_at > now()
ORDER BY id LIMIT %(limit)s;

-- name: delete_many
-- committed asynchronously (see receive): a delete lost in a crash means one more delivery
SELECT comind.settle(%(queue_id)s, %(ids)s::bigint[], %(receipts)s::uuid[])
FROM (SELECT set_config('synchronous_commit', 'off', true)) relaxed;

-- name: send_many
-- a whole batch for a standard queue, and the wake-up for long polls, in one statement
WITH sent AS (
    INSERT INTO comind.messages (queue_id, message_id, body, attributes, visible_at, expires_at)
    SELECT %(queue_id)s, m.message_id, m.body, m.attributes,
        now() + make_interval(secs => m.delay), now() + make_interval(secs => %(retention)s)
    FROM unnest(%(message_ids)s::uuid[], %(bodies)s::text[], %(attributes)s::jsonb[],
                %(delays)s::int[]) AS m(message_id, body, attributes, delay)
    RETURNING 1
)
SELECT pg_notify(%(channel)s, %(queue_id)s::text), (SELECT count(*) FROM sent);
