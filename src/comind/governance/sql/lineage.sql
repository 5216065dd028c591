-- name: lock_version
INSERT INTO comind.lineage_version (version) VALUES (0)
ON CONFLICT (one) DO UPDATE SET version = comind.lineage_version.version
RETURNING version;

-- name: clear_nodes
DELETE FROM comind.lineage_nodes;

-- name: clear_edges
DELETE FROM comind.lineage_edges;

-- name: clear_columns
DELETE FROM comind.lineage_columns;

-- name: copy_nodes
COPY comind.lineage_nodes (id, kind, name, fields) FROM STDIN;

-- name: copy_edges
COPY comind.lineage_edges (origin, destination) FROM STDIN;

-- name: copy_columns
COPY comind.lineage_columns (flow, source, source_field, target, target_field, type, subtype,
                             masking) FROM STDIN;

-- name: bump_version
UPDATE comind.lineage_version SET version = version + 1, revision = %(revision)s,
                                  updated_at = now()
RETURNING version;

-- name: snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- name: version
SELECT version, revision FROM comind.lineage_version;

-- name: nodes
SELECT id, kind, name, fields FROM comind.lineage_nodes;

-- name: edges
SELECT origin, destination FROM comind.lineage_edges;

-- name: columns
SELECT flow, source, source_field, target, target_field, type, subtype, masking
FROM comind.lineage_columns;
