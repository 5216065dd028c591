"""Dataset checks in SQL over a real app database: every rule per partition, the results
stored with key samples, and a batch partition blocked by its source's error rules until
the bad rows are fixed."""

from __future__ import annotations

import uuid
from contextlib import nullcontext

from flowkit import FlowKit

from comind.flows.batch import BatchRunner
from comind.flows.dataset_checks import DatasetChecker, export_scores
from comind.governance.quality_store import CheckResult, QualityResults
from comind.observe.metrics import REGISTRY
from comind.stores.postgres import connect

BATCH = """
daily:
  kind: batch
  on_demand: true
  source: postgres://shop/orders
  partition: {by: day, field: created_at}
  steps:
    - aggregate: {group_by: [email], count: orders, sum: [total]}
  sink: {objects: "lake/daily/{date}.parquet"}
"""


def _orders(kit: FlowKit) -> None:
    kit.execute(
        "CREATE TABLE orders"
        " (id text PRIMARY KEY, email text, total numeric, created_at timestamptz)"
    )
    kit.execute(
        "INSERT INTO orders VALUES ('o1', 'a@b.c', 10, '2026-11-25 10:00Z'),"
        " ('o2', 'someone-long@example.com', 200000, '2026-11-25 11:00Z'),"
        " ('o3', 'c@d.e', 300000, '2026-11-25 12:00Z'), ('o4', 'e@f.g', 5, '2026-11-26 09:00Z')"
    )


def test_a_partition_failing_an_error_rule_is_blocked_until_the_rows_are_fixed(
    kit: FlowKit,
) -> None:
    _orders(kit)
    kit.execute("INSERT INTO orders VALUES ('o5', 'x@y.z', 400000, '2026-11-27 10:00Z')")
    rules = (
        "[{range: {total: [0, 100000]}}, {max_length: {email: 12}, severity: warn},"
        " {sql: 'SELECT * FROM {table} o WHERE o.total > 100000', severity: warn}]"
    )
    runner = BatchRunner("daily", kit.builder(BATCH, quality=rules))
    blocked = runner.run("2026-11-25")
    reason = "waiting on shop.orders 2026-11-25: range total [0, 100000] failed for 2 rows"
    assert (blocked.status, blocked.error, blocked.rows_in) == ("blocked", reason, 0)
    assert runner.run("2026-11-26").status == "succeeded"  # its own partition is clean
    assert [(r["status"], r["error"]) for r in kit.engines.state.runs("daily")][1] == (
        "blocked",
        reason,
    )
    kit.execute("UPDATE orders SET total = 1 WHERE total > 100000")
    assert [r.status for r in runner.backfill("2026-11-25", "2026-11-26")] == ["succeeded"]
    history = QualityResults(kit.layer.pool).history("shop.orders", "2026-11-25")
    now, then = (
        {r["rule"]: (r["passed"], r["failing"], sorted(r["sample"])) for r in history[i : i + 3]}
        for i in (0, 3)  # newest first: the check after the fix, the one that blocked
    )
    custom = "sql SELECT * FROM {table} o WHERE o.total > 100000"  # over the partition only
    assert then == {
        "range total [0, 100000]": (False, 2, [["o2"], ["o3"]]),
        "max_length email 12": (False, 1, [["o2"]]),
        custom: (False, 2, [["o2"], ["o3"]]),
    }
    assert now == {
        "range total [0, 100000]": (True, 0, []),
        "max_length email 12": then["max_length email 12"],
        custom: (True, 0, []),
    }


def test_every_rule_in_sql_counts_its_failing_rows_read_only(kit: FlowKit) -> None:
    _orders(kit)
    kit.execute("INSERT INTO orders VALUES ('o1-dup', NULL, NULL, '2020-01-01Z')")
    kit.execute("CREATE SEQUENCE seq")
    rules = (
        "[{not_null: [email]}, {unique: [total]}, {accepted: {total: [5, 10]}},"
        " {regex: {id: 'o[0-9]'}}, {type: {total: integer}}, {max_length: {email: 5}},"
        " {row_count: {max: 3}}, {freshness: {field: created_at, max_age: 1d}},"
        " {sql: 'SELECT * FROM {table} WHERE total > 1000'},"
        " {sql: 'DELETE FROM {table} RETURNING *'},"
        " {sql: 'SELECT * FROM {table} WHERE nextval(''public.seq'') > 0'},"
        " {sql: 'SELECT * FROM {table} WHERE email::int > 0'}]"
    )
    spec = kit.builder(BATCH, quality=rules).spec
    checker = DatasetChecker(spec, lambda db: connect(kit.app_db), QualityResults(kit.layer.pool))
    results = {r.rule: r for r in checker.check("shop.orders")}
    assert {
        k: (r.passed, r.failing, r.rows_checked) for k, r in results.items() if r.error is None
    } == {
        "not_null email": (False, 1, 5),
        "unique total": (True, 0, 5),
        "accepted total [5, 10]": (False, 2, 5),
        "regex id o[0-9]": (False, 1, 5),
        "type total integer": (True, 0, 5),
        "max_length email 5": (False, 1, 5),
        "row_count [, 3]": (False, 5, 5),
        "freshness created_at 1d": (False, 1, 5),
        "sql SELECT * FROM {table} WHERE total > 1000": (False, 2, 5),
    }
    assert results["regex id o[0-9]"].sample == [["o1-dup"]]
    refused = results["sql DELETE FROM {table} RETURNING *"]  # not a query: no subquery
    assert (refused.passed, refused.error) == (False, "SyntaxError (SQLSTATE 42601)")
    writes = results["sql SELECT * FROM {table} WHERE nextval('public.seq') > 0"]
    assert (writes.passed, writes.error) == (False, "ReadOnlySqlTransaction (SQLSTATE 25006)")
    assert kit.rows("SELECT last_value, is_called FROM seq") == [(1, False)]
    cast = results["sql SELECT * FROM {table} WHERE email::int > 0"]  # a value in the error
    assert cast.error == "InvalidTextRepresentation (SQLSTATE 22P02)"
    assert kit.rows("SELECT count(*) FROM orders") == [(5,)]


WRITER = """
load:
  kind: batch
  on_demand: true
  source: postgres://shop/sales
  partition: {by: hash, field: id, buckets: 2}
  sink: {postgres: shop.orders, upsert_on: [id]}
"""


def test_a_partition_written_into_a_dataset_is_checked_after_the_write(kit: FlowKit) -> None:
    kit.execute(
        "CREATE TABLE sales (id text PRIMARY KEY, email text, total numeric, at timestamptz)"
    )
    kit.execute(
        "INSERT INTO sales VALUES ('s1', 'a@b.c', 1, '2026-11-25 10:00Z'),"
        " ('s2', 'a@b.c', 2, '2026-11-25 11:00Z')"
    )
    rules = "[{unique: [email], severity: warn}, {row_count: {min: 1}}]"
    runner = BatchRunner("load", kit.builder(WRITER, quality=rules))
    written = sum(r.rows_out for r in (runner.run("0"), runner.run("1")) if r.status == "succeeded")
    assert written == 2
    checked = QualityResults(kit.layer.pool).history("shop.orders")
    last = sorted((r["partition"], r["rule"], r["passed"], r["failing"]) for r in checked[:2])
    assert last == [
        ("", "row_count [1, ]", True, 0),
        ("", "unique email", False, 2),  # a warn rule: recorded, nothing blocked
    ]
    assert len(checked) == 4  # after each partition's write
    # the batch run (a flow's login) reads no result back: the platform's sweep exports
    export_scores(QualityResults(kit.layer.pool))
    gauge = REGISTRY.get_sample_value("comind_quality_checks_ratio", {"dataset": "shop.orders"})
    assert gauge == 0.5  # of the two rules, the warn rule failed


def _check(kit: FlowKit, rules: str, timeout_ms: int = 30_000) -> dict[str, CheckResult]:
    spec = kit.builder(BATCH, quality=rules).spec
    checker = DatasetChecker(
        spec, lambda db: connect(kit.app_db), QualityResults(kit.layer.pool), timeout_ms
    )
    return {r.rule: r for r in checker.check("shop.orders")}


def test_an_apps_own_overload_of_a_catalog_function_never_runs_in_a_check(kit: FlowKit) -> None:
    _orders(kit)
    app = f"app_{uuid.uuid4().hex[:8]}"
    kit.execute(
        f"CREATE ROLE {app}; GRANT CREATE ON SCHEMA public TO {app}; SET ROLE {app};"
        " CREATE FUNCTION public.to_jsonb(text) RETURNS jsonb LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'app code ran'; END $$; RESET ROLE"
    )  # an exact-type match beats pg_catalog's to_jsonb(anyelement) on a search path
    try:
        results = _check(
            kit,
            "[{accepted: {email: [a@b.c, c@d.e]}}, {type: {email: string}},"
            " {sql: 'SELECT * FROM {table} WHERE to_jsonb(email) IS NULL OR total > 1000'}]",
        )
    finally:
        kit.execute(f"DROP OWNED BY {app}; DROP ROLE {app}")
    assert {k: (r.passed, r.failing, r.error) for k, r in results.items()} == {
        "accepted email [a@b.c, c@d.e]": (False, 2, None),
        "type email string": (True, 0, None),
        "sql SELECT * FROM {table} WHERE to_jsonb(email) IS NULL OR total > 1000": (
            False,
            2,
            None,
        ),
    }


SLEEPER = (  # the first statement of the check lifts the timeout, every later one sleeps
    "SELECT * FROM {table} WHERE CASE WHEN coalesce(current_setting(''fixa.at'', true), '''')"
    " NOT IN ('''', statement_timestamp()::text) THEN (SELECT true FROM pg_sleep(1))"
    " ELSE set_config(''statement_timeout'', ''0'', true)"
    " || set_config(''fixa.at'', statement_timestamp()::text, true) <> '''' END"
)


def test_a_custom_rule_lifting_the_statement_timeout_is_still_cut_off(kit: FlowKit) -> None:
    _orders(kit)
    results = _check(kit, f"[{{sql: '{SLEEPER}'}}]", timeout_ms=300)
    (result,) = results.values()
    assert (result.passed, result.error) == (False, "QueryCanceled (SQLSTATE 57014)")


def test_samples_hold_only_real_keys_pii_hidden_and_errors_no_values(kit: FlowKit) -> None:
    _orders(kit)
    results = _check(
        kit,
        "[{max_length: {email: 5}}, {sql: 'SELECT email AS id FROM {table}'},"
        " {sql: 'SELECT * FROM {table} WHERE email::regclass IS NULL'}], pii: {id: mask}",
    )
    assert {k: (r.failing, r.sample, r.error) for k, r in results.items()} == {
        "max_length email 5": (1, [["**"]], None),  # o2, masked as the dataset's PII
        "sql SELECT email AS id FROM {table}": (4, [], None),  # emails are no keys
        "sql SELECT * FROM {table} WHERE email::regclass IS NULL": (
            0,
            [],
            "InvalidSchemaName (SQLSTATE 3F000)",
        ),
    }


SESSION = "SELECT * FROM {table} WHERE set_config(''work_mem'', ''64kB'', false) > ''''"


def test_a_custom_rules_session_settings_end_with_its_check(kit: FlowKit) -> None:
    _orders(kit)
    spec = kit.builder(BATCH, quality=f"[{{sql: '{SESSION}'}}]").spec
    with connect(kit.app_db) as conn:
        before = conn.execute("SHOW work_mem").fetchall()
        checker = DatasetChecker(spec, lambda db: nullcontext(conn), QualityResults(kit.layer.pool))
        (result,) = checker.check("shop.orders")
        assert (result.failing, conn.execute("SHOW work_mem").fetchall()) == (4, before)


LOCKING = "SELECT * FROM {table} WHERE pg_try_advisory_lock(42)"


def test_a_custom_rules_advisory_locks_end_with_its_check(kit: FlowKit) -> None:
    """A check may run on a pooled connection (a batch run's writer pool): a session lock
    its rule took would stay there, with whoever gets the connection next."""
    _orders(kit)
    spec = kit.builder(BATCH, quality=f"[{{sql: '{LOCKING}'}}]").spec
    with connect(kit.app_db) as conn:
        checker = DatasetChecker(spec, lambda db: nullcontext(conn), QualityResults(kit.layer.pool))
        (result,) = checker.check("shop.orders")
        held = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert (result.failing, conn.execute(held).fetchone()) == (4, (0,))
