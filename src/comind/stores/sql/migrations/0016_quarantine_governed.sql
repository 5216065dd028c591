-- Quarantine as governed data: a record's declared PII fields are stored masked in
-- `record`, their raw values sealed to the platform's quarantine key in `sealed` (NULL: none
-- to keep), the masked field names in `masked`. Retention deletes by (flow, at). The
-- platform publishes the public half of its quarantine key here for the flow workers.
ALTER TABLE comind.flow_quarantine ADD COLUMN sealed bytea;
ALTER TABLE comind.flow_quarantine ADD COLUMN masked text[] NOT NULL DEFAULT '{}';
CREATE INDEX flow_quarantine_age ON comind.flow_quarantine (flow, at);

CREATE TABLE comind.quarantine_key (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    public     bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
