-- name: forget_worker
DELETE FROM comind.worker_grants WHERE role = %(role)s;

-- name: allow_worker
INSERT INTO comind.worker_grants (role, kind, name) VALUES (%(role)s, %(kind)s, %(name)s);

-- name: worker_grants
SELECT kind, name FROM comind.worker_grants WHERE role = %(role)s ORDER BY kind, name;

-- name: end_worker_locks
-- a flow's login may UPDATE and DELETE (its own rows of) the flow-state tables, which is
-- enough for LOCK TABLE, and row security does not apply to it: a session of one holding or
-- asking for a lock that blocks other sessions' writes is ended (red team 21g F1; the queue
-- table allows it no such lock since migration 0031)
SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
WHERE a.usename LIKE 'comind\_fw\_%' AND a.pid <> pg_backend_pid() AND EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'relation'
    AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock',
                   'ExclusiveLock', 'AccessExclusiveLock'));
