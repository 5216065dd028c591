-- CI results per commit (issue 18): a run of a pipeline (a GitHub workflow run, check suite
-- or commit status context, a GitLab pipeline, or a generic `comind ci report`) with its
-- status, and the test cases of its JUnit reports. A run reported again (running, then
-- finished; a re-run attempt) updates its row. The sync gate `require_ci` reads them.
CREATE TABLE comind.ci_runs (
    id          bigserial   PRIMARY KEY,
    commit      text        NOT NULL,
    provider    text        NOT NULL,
    pipeline    text        NOT NULL,
    run_id      text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    url         text,
    started_at  timestamptz,
    finished_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    tests       jsonb,
    UNIQUE (provider, pipeline, run_id)
);
CREATE INDEX ci_runs_commit ON comind.ci_runs (commit, received_at);

CREATE TABLE comind.ci_test_cases (
    run     bigint           NOT NULL REFERENCES comind.ci_runs (id) ON DELETE CASCADE,
    suite   text             NOT NULL,
    name    text             NOT NULL,
    outcome text             NOT NULL CHECK (outcome IN ('passed', 'failed', 'error', 'skipped')),
    seconds double precision NOT NULL,
    message text,
    PRIMARY KEY (run, suite, name)
);
