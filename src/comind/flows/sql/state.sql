-- name: add_stats
INSERT INTO comind.flow_stats AS s (flow, records_in, records_out, quarantined, dead_lettered,
                                    errors, batches, last_batch_at, last_error)
VALUES (%(flow)s, %(records_in)s, %(records_out)s, %(quarantined)s, %(dead_lettered)s,
        %(errors)s, 1, now(), %(last_error)s)
ON CONFLICT (flow) DO UPDATE SET
    records_in = s.records_in + EXCLUDED.records_in,
    records_out = s.records_out + EXCLUDED.records_out,
    quarantined = s.quarantined + EXCLUDED.quarantined,
    dead_lettered = s.dead_lettered + EXCLUDED.dead_lettered,
    errors = s.errors + EXCLUDED.errors,
    batches = s.batches + 1,
    last_batch_at = now(),
    last_error = coalesce(EXCLUDED.last_error, s.last_error);

-- name: stats
SELECT flow, records_in, records_out, quarantined, dead_lettered, errors, batches,
       last_batch_at, last_error
FROM comind.flow_stats WHERE %(flow)s::text IS NULL OR flow = %(flow)s ORDER BY flow;

-- name: quarantine_ids
-- ids taken before the insert: each sealed value is bound to its row's id
SELECT nextval(pg_get_serial_sequence('comind.flow_quarantine', 'id'))
FROM generate_series(1, %(n)s);

-- name: quarantine
INSERT INTO comind.flow_quarantine (id, flow, step, reasons, record, sealed, masked)
SELECT u.id, %(flow)s, u.step, u.reasons, u.record, u.sealed,
       ARRAY(SELECT jsonb_array_elements_text(u.masked))
FROM unnest(%(ids)s::bigint[], %(steps)s::text[], %(reasons)s::jsonb[], %(records)s::jsonb[],
            %(sealed)s::bytea[], %(masked)s::jsonb[]) AS u(id, step, reasons, record, sealed, masked);

-- name: quarantined
SELECT id, step, reasons, record, sealed, masked, at FROM comind.flow_quarantine
WHERE flow = %(flow)s ORDER BY id DESC LIMIT %(limit)s;

-- name: claim_quarantined
-- the rows a replay takes, each locked for this session (a concurrent replay skips it)
SELECT id FROM comind.flow_quarantine
WHERE flow = %(flow)s AND (%(all)s OR id = ANY(%(ids)s))
  AND pg_try_advisory_lock(hashtext('comind.flow_quarantine'), mod(id, 2147483647)::int)
ORDER BY id LIMIT %(limit)s;

-- name: release_quarantined
-- every row lock of the session (it holds no other): rows locked past the limit included
SELECT pg_advisory_unlock_all();

-- name: quarantined_by_id
SELECT id, step, reasons, record, sealed, masked, at FROM comind.flow_quarantine
WHERE flow = %(flow)s AND (%(all)s OR id = ANY(%(ids)s)) ORDER BY id LIMIT %(limit)s;

-- name: discard_quarantined
DELETE FROM comind.flow_quarantine
WHERE flow = %(flow)s
  AND (%(all)s OR id = ANY(%(ids)s) OR at < now() - make_interval(secs => %(older)s))
RETURNING id;

-- name: expire_quarantined
-- one bounded chunk of the flow's records older than its retention (the caller loops)
DELETE FROM comind.flow_quarantine WHERE id IN (
    SELECT id FROM comind.flow_quarantine
    WHERE flow = %(flow)s AND at < now() - make_interval(secs => %(keep)s)
    ORDER BY flow, at LIMIT %(chunk)s)
RETURNING id;

-- name: quarantine_held
SELECT flow, count(*) FROM comind.flow_quarantine GROUP BY flow;

-- name: quarantine_flows
SELECT DISTINCT flow FROM comind.flow_quarantine;

-- name: quarantine_key
SELECT public FROM comind.quarantine_key WHERE id = 1;

-- name: publish_quarantine_key
INSERT INTO comind.quarantine_key (id, public) VALUES (1, %(public)s)
ON CONFLICT (id) DO UPDATE SET public = EXCLUDED.public, updated_at = now()
WHERE comind.quarantine_key.public <> EXCLUDED.public;

-- name: start_run
INSERT INTO comind.flow_runs (flow, partition, status, worker)
VALUES (%(flow)s, %(partition)s, 'running', %(worker)s) RETURNING id;

-- name: claim_partition
-- through the platform's function: a flow's login may lock its own flow's partitions alone
SELECT comind.claim_partition(%(flow)s, %(partition)s)

-- name: release_partition
SELECT pg_advisory_unlock(hashtext(%(flow)s), hashtext(%(partition)s))

-- name: succeeded_since
SELECT EXISTS (SELECT 1 FROM comind.flow_runs WHERE flow = %(flow)s
               AND partition = %(partition)s AND status = 'succeeded'
               AND started_at >= %(since)s)

-- name: finish_run
UPDATE comind.flow_runs SET status = %(status)s, rows_in = %(rows_in)s, rows_out = %(rows_out)s,
       error = %(error)s, finished_at = now()
WHERE id = %(id)s;

-- name: runs
SELECT id, partition, status, rows_in, rows_out, started_at, finished_at, error
FROM comind.flow_runs WHERE flow = %(flow)s ORDER BY id DESC LIMIT %(limit)s;

-- name: partition_states
SELECT DISTINCT ON (partition) partition, status FROM comind.flow_runs
WHERE flow = %(flow)s ORDER BY partition, id DESC;

-- name: get_cursor
SELECT position FROM comind.flow_cursors WHERE flow = %(flow)s;

-- name: set_cursor
INSERT INTO comind.flow_cursors (flow, position) VALUES (%(flow)s, %(position)s)
ON CONFLICT (flow) DO UPDATE SET position = EXCLUDED.position, updated_at = now();

-- name: objects_done
SELECT key, etag FROM comind.flow_objects WHERE flow = %(flow)s AND key = ANY(%(keys)s);

-- name: mark_objects
INSERT INTO comind.flow_objects (flow, key, etag)
SELECT %(flow)s, * FROM unnest(%(keys)s::text[], %(etags)s::text[]) ON CONFLICT DO NOTHING;

-- name: add_windows
INSERT INTO comind.flow_windows AS w (flow, window_start, window_end, key, count, sums)
SELECT %(flow)s, * FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[],
                               %(keys)s::text[], %(counts)s::bigint[], %(sums)s::jsonb[])
ON CONFLICT (flow, window_start, key) DO UPDATE SET
    count = w.count + EXCLUDED.count,
    sums = (SELECT coalesce(jsonb_object_agg(k, coalesce((w.sums->>k)::numeric, 0)
                                               + coalesce((EXCLUDED.sums->>k)::numeric, 0)), '{}')
            FROM (SELECT jsonb_object_keys(w.sums) UNION SELECT jsonb_object_keys(EXCLUDED.sums)) AS u(k));

-- name: advance_watermark
INSERT INTO comind.flow_watermarks AS m (flow, watermark, seen_mark, seen_at)
VALUES (%(flow)s, %(watermark)s, %(watermark)s, now())
ON CONFLICT (flow) DO UPDATE SET watermark = greatest(m.watermark, EXCLUDED.watermark),
    seen_mark = greatest(m.watermark, EXCLUDED.watermark), seen_at = now()
RETURNING watermark;

-- name: idle_watermark
-- no event for idle seconds of the database's clock: the watermark moves on by the
-- processing time since the last one, so the last windows close without more traffic
UPDATE comind.flow_watermarks
SET watermark = greatest(watermark, seen_mark + (now() - seen_at))
WHERE flow = %(flow)s AND now() - seen_at >= make_interval(secs => %(idle)s)
RETURNING watermark;

-- name: ensure_watermark
INSERT INTO comind.flow_watermarks (flow) VALUES (%(flow)s) ON CONFLICT (flow) DO NOTHING;

-- name: lock_watermark
SELECT watermark FROM comind.flow_watermarks WHERE flow = %(flow)s FOR UPDATE;

-- name: watermark
SELECT watermark FROM comind.flow_watermarks WHERE flow = %(flow)s;

-- name: closed_windows
SELECT window_start, window_end, key, count, sums FROM comind.flow_windows
WHERE flow = %(flow)s AND NOT emitted AND window_end <= %(watermark)s
ORDER BY window_start, key LIMIT 1000;

-- name: mark_emitted
UPDATE comind.flow_windows SET emitted = true
WHERE flow = %(flow)s AND (window_start, key) IN (SELECT * FROM unnest(%(starts)s::timestamptz[], %(keys)s::text[]));

-- name: expire_windows
DELETE FROM comind.flow_windows WHERE flow = %(flow)s AND emitted AND window_end < %(before)s;
