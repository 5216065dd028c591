-- The GitOps control plane's records.
-- secrets: values the platform generates or unseals for apps (database and cache passwords,
--   sealed secrets), sealed with the platform key like app credentials.
-- resources: the inventory, one row per resource the platform manages (kind/app/name), with
--   the spec last applied (prune decisions read deletion_policy from it) and its status.
-- syncs: one row per sync attempt, tied to a revision, with per-resource outcomes.
CREATE TABLE comind.secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comind.resources (
    id         text        PRIMARY KEY,
    kind       text        NOT NULL,
    app        text        NOT NULL,
    name       text        NOT NULL,
    spec       jsonb       NOT NULL,
    revision   text        NOT NULL,
    sync       text        NOT NULL DEFAULT 'Unknown',
    health     text        NOT NULL DEFAULT 'Unknown',
    message    text        NOT NULL DEFAULT '',
    orphaned   boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resources_app ON comind.resources (app);

CREATE TABLE comind.syncs (
    id          bigserial   PRIMARY KEY,
    env         text        NOT NULL,
    revision    text        NOT NULL,
    trigger     text        NOT NULL,
    dry_run     boolean     NOT NULL DEFAULT false,
    outcome     text        NOT NULL DEFAULT 'Running',
    message     text        NOT NULL DEFAULT '',
    results     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX syncs_env_started ON comind.syncs (env, started_at DESC);

CREATE TABLE comind.gitops_environments (
    env                 text        PRIMARY KEY,
    auto_sync_paused    boolean     NOT NULL DEFAULT false,
    paused_reason       text        NOT NULL DEFAULT '',
    last_good_revision  text,
    last_error          text        NOT NULL DEFAULT '',
    updated_at          timestamptz NOT NULL DEFAULT now()
);
