-- name: record_event
INSERT INTO comind.platform_events (source, kind, message, detail)
VALUES (%(source)s, %(kind)s, %(message)s, %(detail)s);

-- name: recent_events
SELECT at, source, kind, message FROM comind.platform_events
ORDER BY at DESC, id DESC LIMIT %(limit)s;
