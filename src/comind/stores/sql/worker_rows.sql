-- name: forget_worker
DELETE FROM comind.worker_grants WHERE role = %(role)s;

-- name: allow_worker
INSERT INTO comind.worker_grants (role, kind, name) VALUES (%(role)s, %(kind)s, %(name)s);

-- name: worker_grants
SELECT kind, name FROM comind.worker_grants WHERE role = %(role)s ORDER BY kind, name;
