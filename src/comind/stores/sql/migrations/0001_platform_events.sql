-- What happened to the platform itself: engine restarts, starts, stops.
CREATE TABLE comind.platform_events (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    source    text        NOT NULL,
    kind      text        NOT NULL,
    message   text        NOT NULL,
    detail    jsonb       NOT NULL DEFAULT '{}'::jsonb
);
