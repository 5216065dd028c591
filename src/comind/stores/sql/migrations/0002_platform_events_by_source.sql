-- The dashboard and `comind status` read the latest events of one engine.
CREATE INDEX platform_events_source_at ON comind.platform_events (source, at DESC);
