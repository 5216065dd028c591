"""Quality checks in SQL: each rule of a dataset as a query over its table (or one
partition of it), run as a role that may only read the dataset tables, in a READ ONLY
transaction with a statement timeout.

A per-record rule becomes a condition on a row, matching what governance.quality decides
for a record (a null passes every rule but ``not_null``); ``unique`` holds over the table
or partition; ``freshness`` and ``row_count`` look at the whole; a custom ``sql`` query
runs wrapped as a subquery, its rows being the failing ones (over one partition,
``{table}`` names a CTE of the partition's rows). Each check counts the failing
rows and samples their key columns (never other values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

    def rows(self) -> Any:
        where = sql.SQL("true") if self.where is None else self.where
        return sql.SQL("SELECT * FROM {} WHERE {}").format(self.table, where)


def run_checks(
    conn: Connection, target: Target, checks: Sequence[Check], timeout_ms: int = TIMEOUT_MS
) -> list[CheckResult]:
    """Every check over ``target``, each in its own READ ONLY transaction (one that fails,
    a missing column, a timeout, is a failed result saying so; the others still run).
    ``conn`` is in autocommit mode, so each check's transaction is its own."""
    return [_one(conn, target, check, timeout_ms) for check in checks]


def _one(conn: Connection, target: Target, check: Check, timeout_ms: int) -> CheckResult:
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            limit = sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout_ms))
            conn.execute(limit)
            return _measure(conn, target, check)
    except DatabaseError as exc:
        return CheckResult(check.name, check.severity, False, error=_why(exc))


def _why(exc: Exception) -> str:
    """The error, without the values a data exception (SQLSTATE class 22) quotes: a custom
    query's failed cast would otherwise copy a row's value into results and reasons."""
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("22"):
        return f"{type(exc).__name__} (SQLSTATE {state})"
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return first[:500]


def _measure(conn: Connection, target: Target, check: Check) -> CheckResult:
    args = dict(target.args or {})
    total = _scalar(conn, sql.SQL("SELECT count(*) FROM ({}) AS r").format(target.rows()), args)
    if check.kind == "row_count":
        assert check.rule is not None and check.rule.row_count is not None
        low, high = check.rule.row_count.min, check.rule.row_count.max
        ok = (low is None or total >= low) and (high is None or total <= high)
        return CheckResult(check.name, check.severity, ok, 0 if ok else total, total)
    if check.kind == "freshness":
        assert check.rule is not None and check.rule.freshness is not None
        args["max_age"] = check.rule.freshness.max_age
        stale = sql.SQL(
            "SELECT coalesce(max({}) < now() - %(max_age)s, true) FROM ({}) AS r"
        ).format(sql.Identifier(check.rule.freshness.field), target.rows())
        fresh = not _scalar(conn, stale, args)
        return CheckResult(check.name, check.severity, fresh, 0 if fresh else 1, total)
    failing, fargs = _failing(target, check)
    args.update(fargs)
    count = _scalar(conn, sql.SQL("SELECT count(*) FROM ({}) AS f").format(failing), args)
    sample: list[Any] = []
    if count:
        picks = sql.SQL(", ").join(sql.SQL("to_jsonb(f) -> {}").format(sql.Literal(k))
                                   for k in target.keys)  # fmt: skip
        query = sql.SQL("SELECT jsonb_build_array({}) FROM ({}) AS f LIMIT {}").format(
            picks, failing, sql.Literal(SAMPLE)
        )
        sample = [row[0] for row in conn.execute(query, args).fetchall()]
    return CheckResult(check.name, check.severity, count == 0, count, total, sample)


def _scalar(conn: Connection, query: Any, args: dict[str, Any]) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def _failing(target: Target, check: Check) -> tuple[Any, dict[str, Any]]:
    """The failing rows of a row-level check, as a query, and its parameters."""
    rule = check.rule
    assert rule is not None
    if check.kind == "sql":
        return _custom(target, rule.sql or ""), {}
    if check.kind == "unique":
        cols = sql.SQL(", ").join(sql.Identifier(f) for f in check.fields)
        query = sql.SQL(
            "SELECT * FROM (SELECT *, count(*) OVER (PARTITION BY {}) AS comind_n FROM ({}) AS r) "
            "AS d WHERE comind_n > 1"
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
        return present + sql.SQL("NOT (to_jsonb({}) = ANY(%(allowed)s::jsonb[]))").format(
            col), {"allowed": allowed}  # fmt: skip
    if check.kind == "regex":
        pattern = f"^(?:{(rule.regex or {})[f]})$"
        return present + sql.SQL("{} !~ %(pattern)s").format(text), {"pattern": pattern}
    if check.kind == "max_length":
        n = (rule.max_length or {})[f]
        return present + sql.SQL("length({}) > %(n)s").format(text), {"n": n}
    return present + _not_of_type(col, (rule.type or {})[f]), {"timestamp": _TIMESTAMP}


def _not_of_type(col: Any, kind: str) -> Any:
    json_type = sql.SQL("jsonb_typeof(to_jsonb({}))").format(col)
    match kind:
        case "integer":
            return sql.SQL("({} <> 'number' OR to_jsonb({})::text !~ '^-?[0-9]+$')").format(
                json_type, col)  # fmt: skip
        case "timestamp":
            return sql.SQL(
                "pg_typeof({}) NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, "
                "'date'::regtype) AND {}::text !~ %(timestamp)s"
            ).format(col, col)
    return sql.SQL("{} <> {}").format(json_type, sql.Literal(kind))
