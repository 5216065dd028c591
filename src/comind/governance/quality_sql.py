"""Quality checks in SQL: each rule of a dataset as a query over its table (or one
partition of it), run as a role that may only read the dataset tables, in a READ ONLY
transaction, rolled back. Before every statement of a check the transaction sets its own
``statement_timeout`` (what is left of the check's time) and ``search_path`` (pg_catalog
only; every table is schema-qualified), so a custom rule changing them with set_config
changes them for itself only, and no function or operator an app creates in its schemas
(an exact-type ``public.to_jsonb(text)``) is ever chosen over pg_catalog's.

A per-record rule becomes a condition on a row, matching what governance.quality decides
for a record (a null passes every rule but ``not_null``); ``unique`` holds over the table
or partition; ``freshness`` and ``row_count`` look at the whole; a custom ``sql`` query
runs wrapped as a subquery, its rows being the failing ones (over one partition,
``{table}`` names a CTE of the partition's rows). Each check counts the failing
rows and samples their keys, read from the dataset's own rows matching them (a custom
rule aliasing another column to a key name samples nothing), PII keys hidden by their
action. A failed check stores the error's class and SQLSTATE, never the engine's text
(which quotes values).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from comind.governance.masking import hidden
from comind.governance.quality import Check
from comind.governance.quality_store import SAMPLE, CheckResult
from comind.stores.postgres import Connection, DatabaseError, Json
from comind.stores.postgres import compose as sql

TIMEOUT_MS = 30_000
PARTITION_CTE = "comind_partition"  # what ``{table}`` names in a custom query per partition
_NUMBER = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"


@dataclass(frozen=True)
class Target:
    """The rows to check: ``table`` (an identifier) where ``where`` holds."""

    table: Any  # sql.Composable
    where: Any = None  # sql.Composable; None: every row
    args: dict[str, Any] | None = None
    keys: Sequence[str] = ("id",)
    pii: Mapping[str, str] = field(default_factory=dict)  # field → action, for key samples

    def rows(self) -> Any:
        where = sql.SQL("true") if self.where is None else self.where
        return sql.SQL("SELECT * FROM {} WHERE {}").format(self.table, where)


def run_checks(
    conn: Connection, target: Target, checks: Sequence[Check], timeout_ms: int = TIMEOUT_MS
) -> list[CheckResult]:
    """Every check over ``target``, each in its own READ ONLY transaction bounded by
    ``timeout_ms`` in all (one that fails, a missing column, a timeout, is a failed result
    saying so; the others still run). ``conn`` is in autocommit mode, so each check's
    transaction is its own; it may be a pool's, so no session advisory lock a custom rule
    took stays on it."""
    try:
        return [_one(conn, target, check, timeout_ms) for check in checks]
    finally:
        conn.execute("SELECT pg_advisory_unlock_all()")


class CheckTimeout(Exception):
    """A check's statements together took longer than its timeout."""


class _Statements:
    """One check's statements: each after resetting the transaction's timeout to what is
    left of the check's time and its search path to pg_catalog (a custom rule may have
    changed either with set_config for the rest of the transaction)."""

    def __init__(self, conn: Connection, timeout_ms: int) -> None:
        self.conn, self.deadline = conn, time.monotonic() + timeout_ms / 1000

    def run(self, query: Any, args: dict[str, Any]) -> list[Any]:
        left = int((self.deadline - time.monotonic()) * 1000)
        if left < 1:  # 0 would mean no timeout at all
            raise CheckTimeout("the check ran out of its time")
        self.conn.execute(_HARDEN, {"timeout": f"{left}ms"})
        return self.conn.execute(query, args).fetchall()

    def scalar(self, query: Any, args: dict[str, Any]) -> Any:
        return self.run(query, args)[0][0]


_HARDEN = (
    "SELECT pg_catalog.set_config('statement_timeout', %(timeout)s, true),"
    " pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)"
)


def _one(conn: Connection, target: Target, check: Check, timeout_ms: int) -> CheckResult:
    try:  # rolled back: a session-level set_config of a custom rule ends with its check
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            return _measure(_Statements(conn, timeout_ms), target, check)
    except (DatabaseError, CheckTimeout) as exc:
        return CheckResult(check.name, check.severity, False, error=_why(exc))


def _why(exc: Exception) -> str:
    """The error's class and SQLSTATE only: the engine's text quotes values (a failed
    cast, a regclass of a row's value) that would be copied into results and reasons."""
    state = getattr(exc, "sqlstate", None)
    if not state:  # no server error (a lost connection): its text holds no row values
        return (str(exc).splitlines() or [type(exc).__name__])[0][:500]
    return f"{type(exc).__name__} (SQLSTATE {state})"


def _measure(run: _Statements, target: Target, check: Check) -> CheckResult:
    args = dict(target.args or {})
    total = run.scalar(
        sql.SQL("SELECT pg_catalog.count(*) FROM ({}) AS r").format(target.rows()), args
    )
    if check.kind == "row_count":
        assert check.rule is not None and check.rule.row_count is not None
        low, high = check.rule.row_count.min, check.rule.row_count.max
        ok = (low is None or total >= low) and (high is None or total <= high)
        return CheckResult(check.name, check.severity, ok, 0 if ok else total, total)
    if check.kind == "freshness":
        assert check.rule is not None and check.rule.freshness is not None
        args["max_age"] = check.rule.freshness.max_age
        stale = sql.SQL(
            "SELECT coalesce(pg_catalog.max({}) < pg_catalog.now() - %(max_age)s, true)"
            " FROM ({}) AS r"
        ).format(sql.Identifier(check.rule.freshness.field), target.rows())
        fresh = not run.scalar(stale, args)
        return CheckResult(check.name, check.severity, fresh, 0 if fresh else 1, total)
    failing, fargs = _failing(target, check)
    args.update(fargs)
    count = run.scalar(sql.SQL("SELECT pg_catalog.count(*) FROM ({}) AS f").format(failing), args)
    sample = _sample(run, target, failing, args) if count else []
    return CheckResult(check.name, check.severity, count == 0, count, total, sample)


def _sample(run: _Statements, target: Target, failing: Any, args: dict[str, Any]) -> list[Any]:
    """Keys of failing rows, read from the dataset's rows whose keys the failing rows
    carry (a custom rule's output names columns as it likes), PII keys hidden."""
    query = sql.SQL(
        "SELECT {} FROM ({}) AS t WHERE {} IN (SELECT {} FROM ({}) AS f) LIMIT {}"
    ).format(_keys(target, "t"), target.rows(), _keys(target, "t"), _keys(target, "f"),
             failing, sql.Literal(SAMPLE))  # fmt: skip
    names = list(target.keys)
    return [
        [
            hidden(target.pii[k], v) if k in target.pii else v
            for k, v in zip(names, row[0], strict=True)
        ]
        for row in run.run(query, args)
    ]


def _keys(target: Target, alias: str) -> Any:
    """The key columns of ``alias`` as one jsonb array (null where a column is missing)."""
    picks = sql.SQL(", ").join(
        sql.SQL("pg_catalog.to_jsonb({}) OPERATOR(pg_catalog.->) {}").format(
            sql.Identifier(alias), sql.Literal(k)) for k in target.keys)  # fmt: skip
    return sql.SQL("pg_catalog.jsonb_build_array({})").format(picks)


def _failing(target: Target, check: Check) -> tuple[Any, dict[str, Any]]:
    """The failing rows of a row-level check, as a query, and its parameters."""
    rule = check.rule
    assert rule is not None
    if check.kind == "sql":
        return _custom(target, rule.sql or ""), {}
    if check.kind == "unique":
        cols = sql.SQL(", ").join(sql.Identifier(f) for f in check.fields)
        query = sql.SQL(
            "SELECT * FROM (SELECT *, pg_catalog.count(*) OVER (PARTITION BY {}) AS comind_n"
            " FROM ({}) AS r) AS d WHERE comind_n > 1"
        ).format(cols, target.rows())
        return query, {}
    condition, args = _condition(check)
    return sql.SQL("SELECT * FROM ({}) AS r WHERE {}").format(target.rows(), condition), args


def _custom(target: Target, query: str) -> Any:
    """A custom query; over one partition, ``{table}`` names a CTE of the partition's rows."""
    rows = target.table if target.where is None else sql.Identifier(PARTITION_CTE)
    parts = [sql.SQL(p.replace("%", "%%")) for p in query.split("{table}")]
    pieces: list[Any] = [parts[0]]
    for part in parts[1:]:
        pieces += [rows, part]
    if target.where is None:
        return sql.Composed(pieces)
    return sql.SQL("WITH {} AS ({}) {}").format(
        sql.Identifier(PARTITION_CTE), target.rows(), sql.Composed(pieces))  # fmt: skip


def _condition(check: Check) -> tuple[Any, dict[str, Any]]:
    """The SQL condition a row breaking ``check`` meets."""
    rule, (f,) = check.rule, check.fields
    assert rule is not None
    col, text = sql.Identifier(f), sql.SQL("{}::text").format(sql.Identifier(f))
    present = sql.SQL("{} IS NOT NULL AND ").format(col)
    if check.kind == "not_null":
        return sql.SQL("{} IS NULL").format(col), {}
    if check.kind == "range":
        lo, hi = (rule.range or {})[f]
        return present + sql.SQL(
            "CASE WHEN {} ~ %(number)s THEN {}::numeric NOT BETWEEN %(lo)s AND %(hi)s ELSE true END"
        ).format(text, text), {"number": _NUMBER, "lo": lo, "hi": hi}
    if check.kind == "accepted":
        allowed = [Json(v) for v in (rule.accepted or {})[f]]
        inside = sql.SQL("NOT (pg_catalog.to_jsonb({}) = ANY(%(allowed)s::jsonb[]))")
        return present + inside.format(col), {"allowed": allowed}
    if check.kind == "regex":
        pattern = f"^(?:{(rule.regex or {})[f]})$"
        return present + sql.SQL("{} !~ %(pattern)s").format(text), {"pattern": pattern}
    if check.kind == "max_length":
        n = (rule.max_length or {})[f]
        return present + sql.SQL("pg_catalog.length({}) > %(n)s").format(text), {"n": n}
    return present + _not_of_type(col, (rule.type or {})[f]), {"timestamp": _TIMESTAMP}


def _not_of_type(col: Any, kind: str) -> Any:
    json_type = sql.SQL("pg_catalog.jsonb_typeof(pg_catalog.to_jsonb({}))").format(col)
    match kind:
        case "integer":
            whole = "({} <> 'number' OR pg_catalog.to_jsonb({})::text !~ '^-?[0-9]+$')"
            return sql.SQL(whole).format(json_type, col)
        case "timestamp":
            return sql.SQL(
                "pg_catalog.pg_typeof({}) NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, "
                "'date'::regtype) AND {}::text !~ %(timestamp)s"
            ).format(col, col)
    return sql.SQL("{} <> {}").format(json_type, sql.Literal(kind))
