-- The built-in time series: the platform samples its own registry (every 10 s by default)
-- so the dashboard can draw history without a Prometheus. Points are kept at three
-- resolutions: raw for 24 h, 1-minute averages for 7 days, 1-hour averages for 90 days.
CREATE TABLE comind.metric_series (
    id     bigserial PRIMARY KEY,
    name   text  NOT NULL,
    labels jsonb NOT NULL,
    UNIQUE (name, labels)
);

CREATE TABLE comind.metric_points (
    series_id  bigint           NOT NULL REFERENCES comind.metric_series (id) ON DELETE CASCADE,
    resolution integer          NOT NULL,  -- seconds per point: 0 (raw), 60, 3600
    ts         timestamptz      NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (series_id, resolution, ts)
);
CREATE INDEX metric_points_age ON comind.metric_points (resolution, ts);
