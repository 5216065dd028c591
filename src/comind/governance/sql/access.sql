-- name: create_token
INSERT INTO comind.api_tokens (id, hash, role, app, expires_at)
VALUES (%(id)s, %(hash)s, %(role)s, %(app)s, %(expires_at)s);

-- name: token_by_hash
SELECT id, role, app FROM comind.api_tokens
WHERE hash = %(hash)s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());

-- name: revoke_token
UPDATE comind.api_tokens SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL
RETURNING id;

-- name: tokens
SELECT id, role, app, created_at, expires_at, revoked_at FROM comind.api_tokens
ORDER BY created_at;

-- name: audit
INSERT INTO comind.audit_log (actor, action, target, outcome, detail)
VALUES (%(actor)s, %(action)s, %(target)s, %(outcome)s, %(detail)s);

-- name: recent_audit
SELECT id, at, actor, action, target, outcome, detail FROM comind.audit_log
ORDER BY id DESC LIMIT %(limit)s;

-- name: end_session
INSERT INTO comind.ended_sessions (id, expires_at) VALUES (%(id)s, to_timestamp(%(expires)s))
ON CONFLICT (id) DO NOTHING;

-- name: end_all_sessions
INSERT INTO comind.ended_sessions (id, expires_at)
VALUES ('*', now() + make_interval(secs => %(lifetime)s))
ON CONFLICT (id) DO UPDATE SET expires_at = greatest(comind.ended_sessions.expires_at,
                                                     excluded.expires_at);

-- name: prune_ended_sessions
DELETE FROM comind.ended_sessions WHERE expires_at < now();

-- name: session_ended
SELECT EXISTS (SELECT 1 FROM comind.ended_sessions
               WHERE id = %(id)s OR (id = '*' AND expires_at >= to_timestamp(%(expires)s)));
