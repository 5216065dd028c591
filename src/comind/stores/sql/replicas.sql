-- name: lead
SELECT pg_try_advisory_lock(%(key)s)

-- name: record_leader
INSERT INTO comind.replica_leader (id, replica, api_url, since)
VALUES (1, %(replica)s, %(api_url)s, now())
ON CONFLICT (id) DO UPDATE SET replica = EXCLUDED.replica, api_url = EXCLUDED.api_url,
    since = EXCLUDED.since

-- name: leader
SELECT replica, api_url, since FROM comind.replica_leader WHERE id = 1

-- name: secrets
SELECT sealed, digest FROM comind.replica_secrets WHERE id = 1

-- name: publish
INSERT INTO comind.replica_secrets (id, sealed, digest) VALUES (1, %(sealed)s, %(digest)s)
ON CONFLICT (id) DO UPDATE SET sealed = EXCLUDED.sealed, digest = EXCLUDED.digest,
    published_at = now()
WHERE comind.replica_secrets.digest <> EXCLUDED.digest
