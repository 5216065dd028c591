-- Flows: per-flow totals (read by `comind flow ls` and exported as metrics whichever worker
-- process did the work), batch runs and their partitions, records quarantined by a step with
-- the reasons, incremental source positions and durable window state.
CREATE TABLE comind.flow_stats (
    flow           text        PRIMARY KEY,
    records_in     bigint      NOT NULL DEFAULT 0,
    records_out    bigint      NOT NULL DEFAULT 0,
    quarantined    bigint      NOT NULL DEFAULT 0,
    dead_lettered  bigint      NOT NULL DEFAULT 0,
    errors         bigint      NOT NULL DEFAULT 0,
    batches        bigint      NOT NULL DEFAULT 0,
    last_batch_at  timestamptz,
    last_error     text
);

CREATE TABLE comind.flow_runs (
    id          bigserial   PRIMARY KEY,
    flow        text        NOT NULL,
    partition   text        NOT NULL DEFAULT '',
    status      text        NOT NULL,  -- running | succeeded | failed
    rows_in     bigint      NOT NULL DEFAULT 0,
    rows_out    bigint      NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    error       text,
    worker      text        NOT NULL DEFAULT ''
);
CREATE INDEX flow_runs_flow ON comind.flow_runs (flow, partition, id DESC);

CREATE TABLE comind.flow_quarantine (
    id      bigserial   PRIMARY KEY,
    flow    text        NOT NULL,
    step    text        NOT NULL,
    reasons jsonb       NOT NULL,
    record  jsonb       NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_quarantine_flow ON comind.flow_quarantine (flow, id DESC);

-- where an incremental source (a table cursor) has got to
CREATE TABLE comind.flow_cursors (
    flow       text        PRIMARY KEY,
    position   jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- objects an object-store source has processed, by key and etag (a rewritten object is new)
CREATE TABLE comind.flow_objects (
    flow    text        NOT NULL,
    key     text        NOT NULL,
    etag    text        NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow, key, etag)
);

-- open windows of a windowed stream flow; updated in the transaction that deletes the
-- messages counted, so a killed worker neither loses nor double-counts
CREATE TABLE comind.flow_windows (
    flow         text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    key          text        NOT NULL DEFAULT '',
    count        bigint      NOT NULL DEFAULT 0,
    sums         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    emitted      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (flow, window_start, key)
);

-- the largest event time seen minus the allowed lateness (NULL: nothing seen yet); every
-- window commit of the flow holds this row, so all its workers agree on what is late
CREATE TABLE comind.flow_watermarks (
    flow      text        PRIMARY KEY,
    watermark timestamptz
);
