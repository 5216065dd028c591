-- name: put_secret
INSERT INTO comind.secrets (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now();

-- name: get_secret
SELECT value FROM comind.secrets WHERE name = %(name)s;

-- name: delete_secret
DELETE FROM comind.secrets WHERE name = %(name)s;

-- name: put_resource
INSERT INTO comind.resources (id, kind, app, name, spec, revision, sync, health, message, orphaned)
VALUES (%(id)s, %(kind)s, %(app)s, %(name)s, %(spec)s, %(revision)s, %(sync)s, %(health)s,
    %(message)s, %(orphaned)s)
ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, revision = EXCLUDED.revision,
    sync = EXCLUDED.sync, health = EXCLUDED.health, message = EXCLUDED.message,
    orphaned = EXCLUDED.orphaned, updated_at = now();

-- name: set_status
UPDATE comind.resources SET sync = %(sync)s, health = %(health)s, message = %(message)s,
    updated_at = now()
WHERE id = %(id)s;

-- name: resources
SELECT id, kind, app, name, spec, revision, sync, health, message, orphaned, updated_at
FROM comind.resources ORDER BY app, kind, name;

-- name: forget_resource
DELETE FROM comind.resources WHERE id = %(id)s;

-- name: start_sync
INSERT INTO comind.syncs (env, revision, trigger, dry_run) VALUES (%(env)s, %(revision)s,
    %(trigger)s, %(dry_run)s)
RETURNING id;

-- name: finish_sync
UPDATE comind.syncs SET outcome = %(outcome)s, message = %(message)s, results = %(results)s,
    finished_at = now()
WHERE id = %(id)s;

-- name: syncs
SELECT id, env, revision, trigger, dry_run, outcome, message, results, started_at, finished_at
FROM comind.syncs WHERE env = %(env)s ORDER BY id DESC LIMIT %(limit)s;

-- name: sync_by_id
SELECT id, env, revision, trigger, dry_run, outcome, message, results, started_at, finished_at
FROM comind.syncs WHERE id = %(id)s;

-- name: environment
SELECT auto_sync_paused, paused_reason, last_good_revision, last_error
FROM comind.gitops_environments WHERE env = %(env)s;

-- name: put_environment
INSERT INTO comind.gitops_environments (env, auto_sync_paused, paused_reason,
    last_good_revision, last_error)
VALUES (%(env)s, %(auto_sync_paused)s, %(paused_reason)s, %(last_good_revision)s,
    %(last_error)s)
ON CONFLICT (env) DO UPDATE SET auto_sync_paused = EXCLUDED.auto_sync_paused,
    paused_reason = EXCLUDED.paused_reason, last_good_revision = EXCLUDED.last_good_revision,
    last_error = EXCLUDED.last_error, updated_at = now();
