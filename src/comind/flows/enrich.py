"""The ``enrich`` step: join each record with a row of a PostgreSQL table, through a Redis
cache in front of it (cache-aside with a TTL). The table's statements are in
:mod:`comind.flows.pglookup`, the cache's commands in :mod:`comind.flows.rediscache`.

Invalidation is by version: a statement trigger on the lookup table bumps the table's
version in ``comind_flows.table_versions``, the step reads the version once per batch, and
the version is part of every cache key, so a change to the table is seen by the next batch
and stale entries simply expire. The keys are the flow's own (``flow_cache_prefix``): its
Redis user may touch no others (flows/redis_access.py).
"""

from __future__ import annotations

from typing import Any

from comind.flows import metrics
from comind.flows.pglookup import TableLookup
from comind.flows.records import Quarantined, Record, StepResult
from comind.flows.rediscache import LookupCache
from comind.spec import steps as declared
from comind.spec.names import flow_cache_prefix
from comind.stores.postgres import Pool
from comind.stores.redis import RedisClient


class Enrich:
    """``{table: APP/TABLE, by: FIELD, key: COLUMN, fields: [...], as: FIELD, ttl: 5m,
    required: BOOL}``: the row whose ``key`` (default ``id``) equals the record's ``by``
    field is merged in (or nested under ``as``)."""

    def __init__(
        self, conf: declared.Enrich, flow: str, pool: Pool, cache: RedisClient | None
    ) -> None:
        self.flow = flow
        self.cache = LookupCache(cache) if cache is not None else None
        self.table = conf.table.partition("/")[2]
        if "." not in self.table:
            self.table = f"public.{self.table}"
        self.by, self.key = conf.by, conf.key
        self.fields = conf.fields
        self.nest = conf.as_
        self.ttl, self.required = conf.ttl, conf.required
        self.name = f"enrich:{self.table}"
        self.lookup = TableLookup(pool, self.table, self.key)

    def apply(self, records: list[Record]) -> StepResult:
        wanted = sorted(
            {str(r.value[self.by]) for r in records if r.value.get(self.by) is not None}
        )
        rows = self._lookup(wanted)
        out = StepResult()
        for record in records:
            row = rows.get(str(record.value.get(self.by)))
            if row is None and self.required:
                out.quarantined.append(
                    Quarantined(
                        record,
                        self.name,
                        [f"{self.by}: no row in {self.table} with that {self.key}"],
                    )
                )
                continue
            picked = {
                k: v for k, v in (row or {}).items() if self.fields is None or k in self.fields
            }
            if self.nest:
                record.value[self.nest] = picked or None
            else:
                record.value.update({k: v for k, v in picked.items() if k != self.key})
            out.kept.append(record)
        return out

    def _lookup(self, values: list[str]) -> dict[str, dict[str, Any] | None]:
        if not values:
            return {}
        if self.cache is None or not self.ttl:  # ttl: 0 asks for no cache
            return self.lookup.rows(values)
        prefix = f"{flow_cache_prefix(self.flow)}{self.table}:v{self.lookup.version()}:"
        found = self.cache.get(prefix, values)
        missing = [v for v in values if v not in found]
        metrics.CACHE_REQUESTS.labels(self.flow, "hit").inc(len(found))
        if missing:
            metrics.CACHE_REQUESTS.labels(self.flow, "miss").inc(len(missing))
            fresh = self.lookup.rows(missing)
            self.cache.put(prefix, missing, fresh, self.ttl)
            found.update(fresh)
        return found
