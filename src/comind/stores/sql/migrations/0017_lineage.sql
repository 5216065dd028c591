-- Lineage: the graph derived from the applied spec (governance/lineage.py), replaced whole
-- in one transaction whenever the platform applies a revision; `version` goes up with each
-- replacement, so a reader can keep the graph in memory until it changes.
CREATE TABLE comind.lineage_version (
    one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
    version    bigint      NOT NULL,
    revision   text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comind.lineage_nodes (
    id     text   PRIMARY KEY,  -- KIND:NAME
    kind   text   NOT NULL,
    name   text   NOT NULL,
    fields text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE comind.lineage_edges (
    origin      text NOT NULL,
    destination text NOT NULL,
    PRIMARY KEY (origin, destination)
);
CREATE INDEX lineage_edges_destination ON comind.lineage_edges (destination);

-- one column edge of OpenLineage's column lineage facet: target_field of target depends on
-- source_field of source through the flow
CREATE TABLE comind.lineage_columns (
    flow         text    NOT NULL,
    source       text    NOT NULL,
    source_field text    NOT NULL,
    target       text    NOT NULL,
    target_field text    NOT NULL,
    type         text    NOT NULL,  -- DIRECT | INDIRECT
    subtype      text    NOT NULL,
    masking      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (target, target_field, flow, source, source_field, type, subtype)
);
CREATE INDEX lineage_columns_source ON comind.lineage_columns (source, source_field);
