-- Logs: the platform's own structured log and every app's output, searchable by source,
-- level, text and time. Partitioned by day so retention drops whole partitions.
CREATE TABLE comind.logs (
    ts      timestamptz NOT NULL,
    source  text        NOT NULL,  -- 'platform' or 'app:NAME'
    level   text        NOT NULL,
    message text        NOT NULL,
    fields  jsonb       NOT NULL DEFAULT '{}'::jsonb
) PARTITION BY RANGE (ts);
CREATE INDEX logs_source_ts ON comind.logs (source, ts);
-- lines dated outside every day partition (clock skew, old files) land here, not in an error
CREATE TABLE comind.logs_default PARTITION OF comind.logs DEFAULT;
