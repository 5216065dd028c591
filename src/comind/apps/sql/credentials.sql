-- name: issue
INSERT INTO comind.app_credentials (access_key_id, app, secret)
VALUES (%(access_key_id)s, %(app)s, %(secret)s);

-- name: active_for_app
SELECT access_key_id, secret FROM comind.app_credentials
WHERE app = %(app)s AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1;

-- name: by_key
SELECT app, secret FROM comind.app_credentials
WHERE access_key_id = %(access_key_id)s AND revoked_at IS NULL;

-- name: revoke_app
UPDATE comind.app_credentials SET revoked_at = now()
WHERE app = %(app)s AND revoked_at IS NULL AND access_key_id <> %(keep)s;
