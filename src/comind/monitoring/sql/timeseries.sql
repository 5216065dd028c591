-- name: upsert_series
INSERT INTO comind.metric_series (name, labels)
SELECT s.name, s.labels FROM unnest(%(names)s::text[], %(labels)s::jsonb[]) AS s(name, labels)
ON CONFLICT (name, labels) DO NOTHING;

-- name: series_ids
SELECT s.id, s.name, s.labels FROM comind.metric_series s
JOIN unnest(%(names)s::text[], %(labels)s::jsonb[]) AS w(name, labels)
  ON s.name = w.name AND s.labels = w.labels;

-- name: write_points
INSERT INTO comind.metric_points (series_id, resolution, ts, value)
SELECT p.id, 0, %(ts)s, p.value FROM unnest(%(ids)s::bigint[], %(values)s::float8[]) AS p(id, value)
ON CONFLICT DO NOTHING;

-- name: downsample
-- averages of resolution %(from)s older than %(keep)s seconds become points of %(to)s
WITH old AS (
    DELETE FROM comind.metric_points
    WHERE resolution = %(from)s AND ts < %(now)s - make_interval(secs => %(keep)s)
    RETURNING series_id, ts, value
)
INSERT INTO comind.metric_points (series_id, resolution, ts, value)
SELECT series_id, %(to)s, to_timestamp(floor(extract(epoch FROM ts) / %(to)s) * %(to)s), avg(value)
FROM old GROUP BY 1, 3
ON CONFLICT (series_id, resolution, ts) DO UPDATE
    SET value = (comind.metric_points.value + EXCLUDED.value) / 2;

-- name: expire
DELETE FROM comind.metric_points
WHERE resolution = %(resolution)s AND ts < %(now)s - make_interval(secs => %(keep)s);

-- name: query
-- points of the series matching name and labels in [start, end], averaged into buckets of
-- %(step)s seconds, from the finest resolution that still covers the range
SELECT s.labels, to_timestamp(floor(extract(epoch FROM p.ts) / %(step)s) * %(step)s) AS bucket,
    avg(p.value)
FROM comind.metric_series s
JOIN comind.metric_points p ON p.series_id = s.id
WHERE s.name = %(name)s AND s.labels @> %(match)s AND p.resolution = %(resolution)s
  AND p.ts BETWEEN %(start)s AND %(end)s
GROUP BY s.labels, bucket
ORDER BY s.labels, bucket;

-- name: window
SELECT s.labels, extract(epoch FROM p.ts), p.value
FROM comind.metric_series s JOIN comind.metric_points p ON p.series_id = s.id
WHERE s.name = %(name)s AND p.resolution = 0 AND p.ts >= %(since)s
ORDER BY s.id, p.ts;
