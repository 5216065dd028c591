"""Batch partitions: time partitions (hour, day, month on a field) and hash partitions (N
buckets on a key), named by strings that sort in time order. The SQL selecting a
partition's rows is in :mod:`comind.flows.pgpartitions`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from comind.errors import ComindError, UsageError

MAX_RANGE = 1000  # partitions one backfill may span (about 3 years of days)
_FORMATS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True)
class Partitioning:
    by: str  # hour | day | month | hash
    field: str
    buckets: int | None = None
    lookback: int = 1

    def recent(self, t: datetime) -> list[str]:
        """The ``lookback`` complete partitions before ``t``, oldest first (hash: all)."""
        if self.by == "hash":
            return self.between("0", "0")
        names = [self.completed_before(t)]
        while len(names) < self.lookback:
            names.append(self.completed_before(self.bounds(names[-1])[0]))
        return names[::-1]

    def parse(self, name: str) -> str:
        """A partition name as given by a user, checked and normalized."""
        if self.by == "hash":
            if not name.isascii() or not name.isdigit() or not 0 <= int(name) < (self.buckets or 0):
                raise ComindError(
                    f"partition '{name}': expected a bucket 0..{(self.buckets or 1) - 1}"
                )
            return str(int(name))
        try:
            return self.name_of(datetime.strptime(name, _FORMATS[self.by]).replace(tzinfo=UTC))
        except ValueError:
            raise ComindError(
                f"partition '{name}': expected {self.by} as {_FORMATS[self.by]}"
            ) from None

    def name_of(self, t: datetime) -> str:
        return t.strftime(_FORMATS[self.by])

    def bounds(self, name: str) -> tuple[datetime, datetime]:
        start = datetime.strptime(name, _FORMATS[self.by]).replace(tzinfo=UTC)
        if self.by == "hour":
            return start, start + timedelta(hours=1)
        if self.by == "day":
            return start, start + timedelta(days=1)
        nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return start, nxt

    def between(self, first: str, last: str) -> list[str]:
        """Every partition from ``first`` to ``last``, both included (hash: every bucket)."""
        if self.by == "hash":
            return [str(b) for b in range(self.buckets or 0)]
        out, current = [], self.parse(first)
        end = self.parse(last)
        while current <= end:
            out.append(current)
            if len(out) > MAX_RANGE:  # counted as it goes: a huge range is never built
                raise UsageError(f"{first}..{last} spans more than {MAX_RANGE} partitions; "
                                 "backfill it in parts")  # fmt: skip
            current = self.name_of(self.bounds(current)[1])
        return out

    def completed_before(self, t: datetime) -> str:
        """The last partition wholly before ``t`` (what a schedule firing at ``t`` runs)."""
        current = self.name_of(t.astimezone(UTC))
        start, _ = self.bounds(current)
        return self.name_of(start - timedelta(seconds=1))

    def values(self, name: str) -> dict[str, str]:
        """Placeholders for sink paths: ``{date}``, ``{partition}`` and ``{field}``."""
        out = {"partition": name, self.field: name}
        if self.by != "hash":
            out["date"] = self.bounds(name)[0].date().isoformat()
        return out


def today() -> date:
    return datetime.now(UTC).date()
