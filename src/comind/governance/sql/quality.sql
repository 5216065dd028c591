-- name: record
INSERT INTO comind.quality_results
    (dataset, partition, rule, severity, passed, failing, rows_checked, sample, run_id, error)
VALUES (%(dataset)s, %(partition)s, %(rule)s, %(severity)s, %(passed)s, %(failing)s,
        %(rows_checked)s, %(sample)s, %(run_id)s, %(error)s);

-- name: latest
-- the last result of every rule of every dataset partition
SELECT DISTINCT ON (dataset, partition, rule)
       dataset, partition, rule, severity, passed, failing, rows_checked, sample, run_id,
       error, checked_at
FROM comind.quality_results
WHERE %(dataset)s::text IS NULL OR dataset = %(dataset)s
ORDER BY dataset, partition, rule, id DESC;

-- name: history
SELECT dataset, partition, rule, severity, passed, failing, rows_checked, sample, run_id,
       error, checked_at
FROM comind.quality_results
WHERE dataset = %(dataset)s AND (%(partition)s::text IS NULL OR partition = %(partition)s)
ORDER BY id DESC LIMIT %(limit)s;

-- name: prune
-- keep the last results of each dataset partition and rule: a check every 5 minutes
-- would otherwise grow the table without end (the platform's housekeeping: the flows that
-- record results may only append them)
DELETE FROM comind.quality_results q USING (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY dataset, partition, rule ORDER BY id DESC) AS n
        FROM comind.quality_results) ranked
    WHERE n > %(keep)s) old
WHERE q.id = old.id;
