-- Deployments as data (issue 18): every sync that applied a revision to an environment
-- (succeeded or failed; not a dry run, not a refusal), with the commit it deployed (when it
-- was committed: lead time), its CI when it went out, and when the environment was first
-- seen healthy or degraded on it afterwards (change failures, time to restore).
CREATE TABLE comind.deployments (
    sync_id      bigint      PRIMARY KEY REFERENCES comind.syncs (id) ON DELETE CASCADE,
    env          text        NOT NULL,
    revision     text        NOT NULL,
    subject      text        NOT NULL DEFAULT '',
    committed_at timestamptz,
    ci           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    healthy_at   timestamptz,
    degraded_at  timestamptz
);
CREATE INDEX deployments_env ON comind.deployments (env, sync_id DESC);
