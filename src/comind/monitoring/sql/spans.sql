-- name: insert
INSERT INTO comind.spans (trace_id, span_id, parent_id, name, flow, started_at, seconds, status,
                          attributes)
VALUES (%(trace_id)s, %(span_id)s, %(parent_id)s, %(name)s, %(flow)s, %(started_at)s,
        %(seconds)s, %(status)s, %(attributes)s)
ON CONFLICT DO NOTHING;

-- name: recent_traces
SELECT trace_id FROM comind.spans
WHERE flow = %(flow)s AND parent_id IS NULL
ORDER BY started_at DESC LIMIT %(limit)s;

-- name: spans_of
SELECT trace_id, span_id, parent_id, name, flow, started_at, seconds, status, attributes
FROM comind.spans WHERE trace_id = ANY(%(traces)s)
ORDER BY started_at;

-- name: prune
DELETE FROM comind.spans WHERE started_at < %(before)s;
