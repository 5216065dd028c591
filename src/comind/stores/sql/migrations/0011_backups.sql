-- The backup catalog. Every artifact also carries its manifest in the backup store, so the
-- catalog can be rebuilt from the store alone (disaster recovery).
CREATE TABLE comind.backups (
    id            text        PRIMARY KEY,
    kind          text        NOT NULL,  -- full | incr | diff | logical | objects | redis
    app           text,                  -- logical backups: the app whose database it holds
    parent        text        REFERENCES comind.backups (id),
    status        text        NOT NULL,  -- running | complete | failed
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    start_lsn     pg_lsn,
    stop_lsn      pg_lsn,
    timeline      int,
    size_bytes    bigint      NOT NULL DEFAULT 0,
    key_id        text,
    manifest      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error         text,
    verify_status text,                  -- verified | failed (NULL: not yet)
    verified_at   timestamptz,
    verify_error  text
);
CREATE INDEX backups_kind ON comind.backups (kind, started_at DESC);
