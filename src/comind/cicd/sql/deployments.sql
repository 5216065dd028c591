-- name: record
INSERT INTO comind.deployments (sync_id, env, revision, subject, committed_at, ci)
VALUES (%(sync_id)s, %(env)s, %(revision)s, %(subject)s, %(committed_at)s, %(ci)s)
ON CONFLICT (sync_id) DO NOTHING;

-- name: mark_healthy
-- the newest deployment of the environment, when it deployed the revision now running
UPDATE comind.deployments SET healthy_at = now()
WHERE sync_id = (SELECT max(sync_id) FROM comind.deployments WHERE env = %(env)s)
  AND revision = %(revision)s AND healthy_at IS NULL
RETURNING sync_id;

-- name: mark_degraded
UPDATE comind.deployments SET degraded_at = now()
WHERE sync_id = (SELECT max(sync_id) FROM comind.deployments WHERE env = %(env)s)
  AND revision = %(revision)s AND degraded_at IS NULL AND healthy_at IS NULL
RETURNING sync_id;

-- name: log
SELECT d.sync_id, d.env, d.revision, d.subject, d.committed_at, d.ci, d.healthy_at,
       d.degraded_at, s.trigger, s.outcome, s.message, s.started_at, s.finished_at
FROM comind.deployments d JOIN comind.syncs s ON s.id = d.sync_id
WHERE (%(env)s::text IS NULL OR d.env = %(env)s)
  AND (%(since)s::timestamptz IS NULL OR s.finished_at >= %(since)s)
ORDER BY d.sync_id DESC LIMIT %(limit)s;

-- name: built
-- what CI said of a commit when it went out: its runs' test totals and its artifacts
SELECT (SELECT coalesce(jsonb_agg(r.tests ORDER BY r.received_at), '[]'::jsonb)
        FROM comind.ci_runs r WHERE r.commit = %(revision)s AND r.tests IS NOT NULL) AS tests,
       (SELECT coalesce(jsonb_agg(a.name || '@' || a.version ORDER BY a.name), '[]'::jsonb)
        FROM comind.artifacts a WHERE a.commit = %(revision)s) AS artifacts;
