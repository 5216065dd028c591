"""The PromQL subset the embedded platform evaluates itself (the default rules and the docs
use only this): a selector with label matchers (``=``, ``!=``, ``=~``, ``!~``), optionally in
``rate(...[D])`` or ``increase(...[D])``, optionally aggregated by ``sum``, ``max``,
``min``, ``avg`` or ``count`` with ``by (...)``, optionally compared with a number. Anything
else is refused by :func:`parse` with its position, so a rule is either evaluated exactly or
said to be unsupported (a real Prometheus still evaluates it from the generated rules).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import NoReturn, Protocol

from comind.errors import UsageError

AGGREGATIONS = ("sum", "max", "min", "avg", "count")
FUNCTIONS = ("rate", "increase")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}  # fmt: skip
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)(?P<unit>[smhdw])?(?![\w])|(?P<name>[a-zA-Z_:][\w:]*)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<op>=~|!~|>=|<=|==|!=|[=<>(){}\[\],]))"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
Labels = dict[str, str]


class PromQLError(UsageError):
    def __init__(self, expr: str, pos: int, message: str) -> None:
        super().__init__(f"{message} at column {pos + 1} of {expr!r}")
        self.pos = pos


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Labels) -> bool:
        have = labels.get(self.label, "")
        if self.op in ("=~", "!~"):
            found = re.fullmatch(self.value, have) is not None
            return found if self.op == "=~" else not found
        return (have == self.value) == (self.op == "=")


@dataclass(frozen=True)
class Query:
    name: str
    matchers: tuple[Matcher, ...] = ()
    function: str | None = None
    range_seconds: int | None = None
    aggregation: str | None = None
    by: tuple[str, ...] = ()
    comparison: tuple[str, float] | None = None


class Source(Protocol):
    def instant(self, name: str) -> list[tuple[Labels, float]]: ...
    def window(self, name: str, seconds: int) -> list[tuple[Labels, list[tuple[float, float]]]]: ...


def parse(expr: str) -> Query:
    return _Parser(expr).query()


def evaluate(q: Query, source: Source) -> list[tuple[Labels, float]]:
    """The resulting vector (after a comparison: only the elements for which it holds)."""
    if q.function is None:
        vector = [(labels, v) for labels, v in source.instant(q.name) if _keep(q, labels)]
    else:
        assert q.range_seconds is not None
        vector = [(_drop_name(labels), _over_range(q.function, points, q.range_seconds))
                  for labels, points in source.window(q.name, q.range_seconds)
                  if _keep(q, labels) and len(points) >= 2]  # fmt: skip
    if q.aggregation is not None:
        vector = _aggregate(q.aggregation, q.by, vector)
    if q.comparison is not None:
        op, threshold = q.comparison
        vector = [(labels, v) for labels, v in vector if COMPARISONS[op](v, threshold)]
    return vector


def _keep(q: Query, labels: Labels) -> bool:
    return all(m.matches(labels) for m in q.matchers)


def _drop_name(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _over_range(function: str, points: list[tuple[float, float]], seconds: int) -> float:
    """increase/rate with counter resets, extrapolated to the range like Prometheus does."""
    increase = 0.0
    for (_, before), (_, after) in pairwise(points):
        increase += after - before if after >= before else after
    covered = points[-1][0] - points[0][0]
    if covered > 0:
        increase *= seconds / covered if covered < seconds else 1.0
    return increase / seconds if function == "rate" else increase


def _aggregate(
    op: str, by: tuple[str, ...], vector: list[tuple[Labels, float]]
) -> list[tuple[Labels, float]]:
    groups: dict[tuple[tuple[str, str], ...], list[float]] = defaultdict(list)
    for labels, v in vector:
        groups[tuple((k, labels.get(k, "")) for k in by)].append(v)
    combine: dict[str, Callable[[list[float]], float]] = {
        "sum": sum, "max": max, "min": min, "avg": lambda xs: sum(xs) / len(xs),
        "count": lambda xs: float(len(xs)),
    }  # fmt: skip
    return [(dict(key), combine[op](values)) for key, values in groups.items()]


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr, self.tokens = expr, self._tokenize(expr)
        self.i = 0

    def _tokenize(self, expr: str) -> list[tuple[str, str, int]]:
        tokens, pos = [], 0
        while pos < len(expr.rstrip()):
            match = _TOKEN.match(expr, pos)
            if not match or match.end() == pos:
                pos += len(expr[pos:]) - len(expr[pos:].lstrip())
                raise PromQLError(expr, pos, "unexpected character")
            kind = next(k for k in ("num", "name", "str", "op") if match.group(k) is not None)
            text = match.group(kind) + (match.group("unit") or "" if kind == "num" else "")
            tokens.append((kind, text, match.start(kind)))
            pos = match.end()
        return tokens

    def query(self) -> Query:
        q = self._aggregated()
        if self._peek() in COMPARISONS:
            op = self._take()[1]
            q = Query(**{**q.__dict__, "comparison": (op, self._number())})
        if self.i < len(self.tokens):
            self._fail("unsupported expression (the embedded evaluator knows a subset)")
        return q

    def _aggregated(self) -> Query:
        if self._peek() not in AGGREGATIONS:
            return self._inner()
        op = self._take()[1]
        by = self._by()
        self._expect("(")
        inner = self._inner()
        self._expect(")")
        by = by or self._by()
        return Query(**{**inner.__dict__, "aggregation": op, "by": by})

    def _by(self) -> tuple[str, ...]:
        if self._peek() != "by":
            return ()
        self._take()
        self._expect("(")
        labels = [self._name()]
        while self._peek() == ",":
            self._take()
            labels.append(self._name())
        self._expect(")")
        return tuple(labels)

    def _inner(self) -> Query:
        if self._peek() in FUNCTIONS:
            function = self._take()[1]
            self._expect("(")
            name, matchers = self._selector()
            self._expect("[")
            seconds = self._duration()
            self._expect("]")
            self._expect(")")
            return Query(name, matchers, function, seconds)
        name, matchers = self._selector()
        return Query(name, matchers)

    def _selector(self) -> tuple[str, tuple[Matcher, ...]]:
        name = self._name()
        matchers: list[Matcher] = []
        if self._peek() == "{":
            self._take()
            while self._peek() != "}":
                label = self._name()
                op = self._take()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    self._fail(f"expected a label matcher after {label}", back=1)
                matchers.append(Matcher(label, op, self._string()))
                if self._peek() == ",":
                    self._take()
            self._take()
        return name, tuple(matchers)

    def _duration(self) -> int:
        kind, text, _ = self._take()
        if kind != "num" or not text[-1].isalpha():
            self._fail("expected a duration like 5m", back=1)
        return int(float(text[:-1]) * _UNITS[text[-1]])

    def _number(self) -> float:
        kind, text, _ = self._take()
        if kind != "num" or text[-1].isalpha():
            self._fail("expected a number", back=1)
        return float(text)

    def _name(self) -> str:
        kind, text, _ = self._take()
        if kind != "name":
            self._fail("expected a name", back=1)
        return text

    def _string(self) -> str:
        kind, text, _ = self._take()
        if kind != "str":
            self._fail("expected a quoted string", back=1)
        return text[1:-1].encode().decode("unicode_escape")

    def _expect(self, op: str) -> None:
        if self._take()[1] != op:
            self._fail(f"expected '{op}'", back=1)

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise PromQLError(self.expr, len(self.expr), "unexpected end of expression")
        self.i += 1
        return self.tokens[self.i - 1]

    def _fail(self, message: str, back: int = 0) -> NoReturn:
        pos = self.tokens[self.i - back][2] if self.i - back < len(self.tokens) else len(self.expr)
        raise PromQLError(self.expr, pos, message)
