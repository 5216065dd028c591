-- The artifact registry (issue 18): each version of a named artifact (a build's output: a
-- wheel, a tarball, a binary) with its content's digest. The bytes are stored once per
-- digest, content-addressed, in the object store (bucket comind-artifacts, key
-- blobs/sha256/<hex>), so a second upload of the same bytes stores nothing new. A version
-- never changes once pushed. `oci_ref`: an OCI image reference by digest (cluster mode).
CREATE TABLE comind.artifacts (
    name       text        NOT NULL,
    version    text        NOT NULL,
    digest     text        NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
    size       bigint      NOT NULL,
    commit     text,
    build      text,
    oci_ref    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE INDEX artifacts_digest ON comind.artifacts (digest);
CREATE INDEX artifacts_name_created ON comind.artifacts (name, created_at DESC);

-- What each environment runs now: the revision of its newest successful deployment. An
-- artifact built from one of them is "deployed" (retention keeps it).
CREATE VIEW comind.deployed_revisions AS
SELECT DISTINCT ON (d.env) d.env, d.revision
FROM comind.deployments d JOIN comind.syncs s ON s.id = d.sync_id
WHERE s.outcome = 'Succeeded'
ORDER BY d.env, d.sync_id DESC;
