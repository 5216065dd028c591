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
       verify_status, verified_at, verify_error
FROM comind.backups WHERE %(kind)s::text IS NULL OR kind = %(kind)s
ORDER BY started_at DESC LIMIT %(limit)s;

-- name: get
SELECT id, kind, app, parent, status, started_at, finished_at, start_lsn::text AS start_lsn,
       stop_lsn::text AS stop_lsn, timeline, size_bytes, key_id, manifest, error,
       verify_status, verified_at, verify_error
FROM comind.backups WHERE id = %(id)s;

-- name: latest_by_kind
SELECT DISTINCT ON (kind) kind, finished_at, size_bytes, manifest,
       (SELECT max(verified_at) FROM comind.backups v
        WHERE v.kind = b.kind AND v.verify_status = 'verified') AS verified_at
FROM comind.backups b WHERE status = 'complete' ORDER BY kind, finished_at DESC;

-- name: expire
UPDATE comind.backups SET status = 'expired' WHERE id = %(id)s;

-- name: verified
UPDATE comind.backups SET verify_status = %(status)s, verified_at = now(), verify_error = %(error)s
WHERE id = %(id)s;
