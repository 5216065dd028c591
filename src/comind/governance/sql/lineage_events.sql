-- name: insert
INSERT INTO comind.lineage_events (event_time, event_type, run_id, job, payload)
VALUES (%(event_time)s, %(event_type)s, %(run_id)s, %(job)s, %(payload)s);

-- name: recent
SELECT id, event_time, event_type, run_id::text AS run_id, job, payload
FROM comind.lineage_events
WHERE (%(job)s::text IS NULL OR job = %(job)s)
  AND (%(run)s::uuid IS NULL OR run_id = %(run)s::uuid)
ORDER BY event_time DESC, id DESC
LIMIT %(limit)s;

-- name: prune
DELETE FROM comind.lineage_events WHERE event_time < %(before)s;
