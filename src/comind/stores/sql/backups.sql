-- name: start
INSERT INTO comind.backups (id, kind, app, parent, status, key_id)
VALUES (%(id)s, %(kind)s, %(app)s, %(parent)s, 'running', %(key_id)s);

-- name: complete
UPDATE comind.backups SET status = 'complete', finished_at = now(), start_lsn = %(start_lsn)s,
       stop_lsn = %(stop_lsn)s, timeline = %(timeline)s, size_bytes = %(size)s,
       manifest = %(manifest)s
WHERE id = %(id)s;

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
