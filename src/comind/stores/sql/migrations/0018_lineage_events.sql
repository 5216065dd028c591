-- OpenLineage RunEvents of flow runs (START, RUNNING, COMPLETE, FAIL, ABORT), written by
-- whichever process runs the flow (flow workers: INSERT only), read by the lineage API,
-- pruned after 30 days by the platform's housekeeping.
CREATE TABLE comind.lineage_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time timestamptz NOT NULL,
    event_type text        NOT NULL,
    run_id     uuid        NOT NULL,
    job        text        NOT NULL,  -- the flow's name
    payload    jsonb       NOT NULL   -- the RunEvent as OpenLineage JSON
);
CREATE INDEX lineage_events_job ON comind.lineage_events (job, event_time DESC);
CREATE INDEX lineage_events_run ON comind.lineage_events (run_id, event_time);
CREATE INDEX lineage_events_time ON comind.lineage_events (event_time);
