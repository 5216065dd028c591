-- name: upsert_run
INSERT INTO comind.ci_runs AS r (commit, provider, pipeline, run_id, status, url, started_at,
                                 finished_at, tests)
VALUES (%(commit)s, %(provider)s, %(pipeline)s, %(run_id)s, %(status)s, %(url)s,
        %(started_at)s, %(finished_at)s, %(tests)s)
ON CONFLICT (provider, pipeline, run_id) DO UPDATE SET
    commit = EXCLUDED.commit, status = EXCLUDED.status,
    url = coalesce(EXCLUDED.url, r.url),
    started_at = coalesce(EXCLUDED.started_at, r.started_at),
    finished_at = coalesce(EXCLUDED.finished_at, r.finished_at),
    tests = coalesce(EXCLUDED.tests, r.tests), received_at = now()
RETURNING id;

-- name: clear_cases
DELETE FROM comind.ci_test_cases WHERE run = %(run)s;

-- name: add_case
INSERT INTO comind.ci_test_cases (run, suite, name, outcome, seconds, message)
VALUES (%(run)s, %(suite)s, %(name)s, %(outcome)s, %(seconds)s, %(message)s)
ON CONFLICT (run, suite, name) DO UPDATE SET outcome = EXCLUDED.outcome,
    seconds = EXCLUDED.seconds, message = EXCLUDED.message;

-- name: runs
-- every run of the commit, newest first
SELECT id, provider, pipeline, run_id, status, url, started_at, finished_at, received_at, tests
FROM comind.ci_runs WHERE commit = %(commit)s ORDER BY received_at DESC, id DESC;

-- name: failures
SELECT r.pipeline, r.run_id, c.suite, c.name, c.outcome, c.message
FROM comind.ci_test_cases c JOIN comind.ci_runs r ON r.id = c.run
WHERE r.commit = %(commit)s AND c.outcome IN ('failed', 'error')
ORDER BY r.received_at DESC, c.suite, c.name LIMIT %(limit)s;

-- name: flaky
-- a test of the commit that passed in one run and failed in another
SELECT c.suite, c.name, count(*) FILTER (WHERE c.outcome = 'passed') AS passed,
       count(*) FILTER (WHERE c.outcome IN ('failed', 'error')) AS failed
FROM comind.ci_test_cases c JOIN comind.ci_runs r ON r.id = c.run
WHERE r.commit = %(commit)s
GROUP BY c.suite, c.name
HAVING count(*) FILTER (WHERE c.outcome = 'passed') > 0
   AND count(*) FILTER (WHERE c.outcome IN ('failed', 'error')) > 0
ORDER BY c.suite, c.name;
