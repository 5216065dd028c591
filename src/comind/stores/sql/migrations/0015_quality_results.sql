-- Dataset quality checks: one row per rule, dataset partition and check run ('' is the
-- whole table). The sample holds the failing rows' key columns (at most 20), never other
-- values; run_id ties the rows of one check of a partition together.
CREATE TABLE comind.quality_results (
    id            bigserial   PRIMARY KEY,
    dataset       text        NOT NULL,
    partition     text        NOT NULL DEFAULT '',
    rule          text        NOT NULL,
    severity      text        NOT NULL,  -- error | warn
    passed        boolean     NOT NULL,
    failing       bigint      NOT NULL DEFAULT 0,
    rows_checked  bigint      NOT NULL DEFAULT 0,
    sample        jsonb       NOT NULL DEFAULT '[]',
    run_id        text        NOT NULL,
    error         text,       -- the check could not run (a missing table, a timeout)
    checked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quality_results_dataset ON comind.quality_results (dataset, partition, id DESC);
