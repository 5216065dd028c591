-- a window flow's watermark moves on by processing time once its source is idle: when the
-- last event-time advance happened (the database's clock) and the watermark it set
ALTER TABLE comind.flow_watermarks
    ADD COLUMN seen_mark timestamptz,
    ADD COLUMN seen_at   timestamptz;
