-- name: add
INSERT INTO comind.artifacts (name, version, digest, size, commit, build, oci_ref)
VALUES (%(name)s, %(version)s, %(digest)s, %(size)s, %(commit)s, %(build)s, %(oci_ref)s)
ON CONFLICT (name, version) DO NOTHING
RETURNING created_at;

-- name: get
SELECT name, version, digest, size, commit, build, oci_ref, created_at
FROM comind.artifacts WHERE name = %(name)s AND version = %(version)s;

-- name: digest_known
SELECT 1 FROM comind.artifacts WHERE digest = %(digest)s LIMIT 1;

-- name: list
SELECT a.name, a.version, a.digest, a.size, a.commit, a.build, a.oci_ref, a.created_at,
       coalesce(a.commit IN (SELECT revision FROM comind.deployed_revisions), false)
           AS deployed
FROM comind.artifacts a
WHERE (%(name)s::text IS NULL OR a.name = %(name)s)
ORDER BY a.name, a.created_at DESC LIMIT %(limit)s;

-- name: expired
-- beyond the newest `keep` of their name, and not built from a revision an environment runs
WITH ranked AS (
    SELECT name, version, digest, commit,
           row_number() OVER (PARTITION BY name ORDER BY created_at DESC, version DESC) AS n
    FROM comind.artifacts
)
SELECT name, version, digest FROM ranked
WHERE n > %(keep)s
  AND (commit IS NULL OR commit NOT IN (SELECT revision FROM comind.deployed_revisions));

-- name: delete
DELETE FROM comind.artifacts WHERE name = %(name)s AND version = %(version)s;
