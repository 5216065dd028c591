-- name: start
INSERT INTO comind.backups (id, kind, app, parent, status, key_id)
VALUES (%(id)s, %(kind)s, %(app)s, %(parent)s, 'running', %(key_id)s);

-- name: complete
UPDATE comind.backups SET status = 'complete', finished_at = now(), start_lsn = %(start_lsn)s,
       stop_lsn = %(stop_lsn)s, timeline = %(timeline)s, size_bytes = %(size)s,
       manifest = %(manifest)s
WHERE id = %(id)s;

-- name: adopt
INSERT INTO comind.backups (id, kind, app, parent, status, key_id, started_at, finished_at,
                            start_lsn, stop_lsn, timeline, size_bytes, manifest)
SELECT %(id)s, %(kind)s, %(app)s, %(parent)s, 'complete', %(key_id)s,
       coalesce(%(finished_at)s::timestamptz, now()), coalesce(%(finished_at)s::timestamptz, now()),
       %(start_lsn)s::pg_lsn, %(stop_lsn)s::pg_lsn, %(timeline)s, %(size)s, %(manifest)s
WHERE %(parent)s::text IS NULL OR EXISTS (SELECT 1 FROM comind.backups WHERE id = %(parent)s)
ON CONFLICT (id) DO UPDATE SET status = 'complete', finished_at = excluded.finished_at,
    start_lsn = excluded.start_lsn, stop_lsn = excluded.stop_lsn, timeline = excluded.timeline,
    size_bytes = excluded.size_bytes, manifest = excluded.manifest, error = NULL
WHERE comind.backups.status IN ('running', 'failed');  -- it completed after the restored point

-- name: fail
UPDATE comind.backups SET status = 'failed', finished_at = now(), error = %(error)s
WHERE id = %(id)s;

-- name: list
SELECT id, kind, app, parent, status, started_at, finished_at, start_lsn::text AS start_lsn,
       stop_lsn::text AS stop_lsn, timeline, size_bytes, key_id, manifest, error,
       verify_status, verified_at, verify_error, verify_seconds, restore_seconds,
       replay_bytes_per_second, verify_count
FROM comind.backups WHERE %(kind)s::text IS NULL OR kind = %(kind)s
ORDER BY started_at DESC LIMIT %(limit)s;

-- name: get
SELECT id, kind, app, parent, status, started_at, finished_at, start_lsn::text AS start_lsn,
       stop_lsn::text AS stop_lsn, timeline, size_bytes, key_id, manifest, error,
       verify_status, verified_at, verify_error, verify_seconds, restore_seconds,
       replay_bytes_per_second, verify_count
FROM comind.backups WHERE id = %(id)s;

-- name: latest_by_kind
SELECT DISTINCT ON (kind) kind, finished_at, size_bytes, manifest,
       (SELECT max(verified_at) FROM comind.backups v
        WHERE v.kind = b.kind AND v.verify_status = 'verified') AS verified_at
FROM comind.backups b WHERE status = 'complete' ORDER BY kind, finished_at DESC;

-- name: expire
UPDATE comind.backups SET status = 'expired' WHERE id = %(id)s;

-- name: verified
UPDATE comind.backups SET verify_status = %(status)s, verified_at = now(), verify_error = %(error)s,
       verify_seconds = %(seconds)s, restore_seconds = %(restore_seconds)s,
       replay_bytes_per_second = coalesce(%(replay_rate)s, replay_bytes_per_second),
       verify_count = verify_count + 1
WHERE id = %(id)s;

-- name: due_for_test
-- complete backups never tested (oldest first), then the newest of each kind whose last test
-- is older than the retest interval
(SELECT id FROM comind.backups
 WHERE status = 'complete' AND verify_status IS NULL ORDER BY finished_at LIMIT 1)
UNION ALL
(SELECT id FROM (SELECT DISTINCT ON (kind, app) id, verified_at FROM comind.backups
                 WHERE status = 'complete' ORDER BY kind, app, finished_at DESC) newest
 WHERE verified_at < now() - make_interval(secs => %(retest_seconds)s)
 ORDER BY verified_at LIMIT 1)
LIMIT 1;

-- name: test_state
-- per kind: complete backups whose last test failed, and the age of the oldest never tested
SELECT kind,
       count(*) FILTER (WHERE verify_status = 'failed') AS failed,
       coalesce(extract(epoch FROM now() - min(finished_at) FILTER (WHERE verify_status IS NULL)),
                0) AS untested_seconds
FROM comind.backups WHERE status = 'complete' GROUP BY kind;

-- name: newest_tested_physical
-- the backup a restore now would start from: the newest physical one whose last test passed
SELECT id FROM comind.backups
WHERE status = 'complete' AND kind IN ('full', 'incr', 'diff') AND verify_status = 'verified'
ORDER BY finished_at DESC LIMIT 1;

-- name: replay_rate
SELECT replay_bytes_per_second FROM comind.backups
WHERE replay_bytes_per_second IS NOT NULL ORDER BY verified_at DESC LIMIT 1;

-- name: platform_born
-- when the platform's database was made (its first migration)
SELECT min(applied_at) FROM comind.schema_migrations;
