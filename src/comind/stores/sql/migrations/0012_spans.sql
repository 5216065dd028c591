-- Trace spans of recent flow batches (one batch is one trace, a span per step and sink),
-- kept for the dashboard and `comind flow traces` whether or not an OTLP endpoint gets them.
CREATE TABLE comind.spans (
    trace_id   text        NOT NULL,
    span_id    text        NOT NULL,
    parent_id  text,
    name       text        NOT NULL,
    flow       text,
    started_at timestamptz NOT NULL,
    seconds    double precision NOT NULL,
    status     text        NOT NULL,  -- ok | error | unset
    attributes jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_flow_started ON comind.spans (flow, started_at DESC);
CREATE INDEX spans_started ON comind.spans (started_at);
