-- name: partitions
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = 'comind' AND p.relname = 'logs' ORDER BY 1;

-- name: write
INSERT INTO comind.logs (ts, source, level, message, fields)
SELECT * FROM unnest(%(ts)s::timestamptz[], %(sources)s::text[], %(levels)s::text[],
                     %(messages)s::text[], %(fields)s::jsonb[]);

-- name: search
SELECT ts, source, level, message, fields FROM comind.logs
WHERE ts >= %(since)s AND ts <= %(until)s
  AND (%(source)s::text IS NULL OR source = %(source)s)
  AND (%(prefix)s::text IS NULL OR starts_with(source, %(prefix)s))
  AND (%(levels)s::text[] IS NULL OR level = ANY(%(levels)s))
  AND (%(text)s::text IS NULL OR message ILIKE '%%' || %(text)s || '%%')
ORDER BY ts DESC LIMIT %(limit)s;
