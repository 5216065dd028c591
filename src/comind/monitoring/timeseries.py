"""The built-in time series in the platform database: write samples, downsample, query.

Resolutions and how long each is kept: raw 24 h, 1-minute averages 7 days, 1-hour averages
90 days. A query picks the finest resolution that still holds the start of its range and
averages into at most ``MAX_POINTS`` buckets per series, so even a 90-day chart answers a
bounded number of points.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from comind.observe.sampling import Sample, snapshot
from comind.stores.postgres import ForeignKeyViolation, Json, Pool
from comind.stores.queries import named

_sql = named("comind.monitoring", "timeseries")

RAW, MINUTE, HOUR = 0, 60, 3600
KEEP = {RAW: 24 * 3600, MINUTE: 7 * 86400, HOUR: 90 * 86400}
MAX_POINTS = 500


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[datetime, float]]


class TimeSeries:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._ids: dict[tuple[str, str], int] = {}  # series are few and never renamed

    def write(self, samples: Sequence[Sample], at: datetime) -> int:
        """Store one scrape of ``samples`` taken at ``at``; the number of points."""
        kept = [s for s in samples if math.isfinite(s.value)]
        if not kept:
            return 0
        try:
            return self._write(kept, at)
        except ForeignKeyViolation:
            # the database went back to an earlier point (a restore switched it): the series
            # ids remembered here may be gone, so learn them again
            self._ids.clear()
            return self._write(kept, at)

    def _write(self, kept: list[Sample], at: datetime) -> int:
        keys = [(s.name, json.dumps(s.labels, sort_keys=True)) for s in kept]
        with self.pool.connection() as conn, conn.transaction():
            new = [(s, k) for s, k in zip(kept, keys, strict=True) if k not in self._ids]
            if new:  # only series not seen before cost a round trip
                self._register(conn, [s for s, _ in new])
            conn.execute(_sql("write_points"), {
                "ts": at, "ids": [self._ids[k] for k in keys], "values": [s.value for s in kept],
            })  # fmt: skip
        return len(kept)

    def _register(self, conn: Any, samples: Sequence[Sample]) -> None:
        args = {"names": [s.name for s in samples], "labels": [Json(s.labels) for s in samples]}
        conn.execute(_sql("upsert_series"), args)
        for sid, name, labels in conn.execute(_sql("series_ids"), args).fetchall():
            self._ids[(name, json.dumps(labels, sort_keys=True))] = sid

    def compact(self, now: datetime) -> None:
        """Downsample what is past each resolution's keep time; expire the oldest."""
        with self.pool.connection() as conn, conn.transaction():
            for src, dst in ((RAW, MINUTE), (MINUTE, HOUR)):
                conn.execute(_sql("downsample"),
                             {"from": src, "to": dst, "keep": KEEP[src], "now": now})  # fmt: skip
            conn.execute(_sql("expire"),
                         {"resolution": HOUR, "keep": KEEP[HOUR], "now": now})  # fmt: skip

    def window(
        self, name: str, seconds: int, now: datetime
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Raw points of every series ``name`` over the last ``seconds`` (for rate/increase)."""
        since = now - timedelta(seconds=seconds)
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("window"), {"name": name, "since": since})
            grouped: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for labels, ts, value in rows.fetchall():
                grouped[json.dumps(labels, sort_keys=True)].append((float(ts), float(value)))
        return [(json.loads(k), points) for k, points in grouped.items()]

    def query(
        self, name: str, match: dict[str, str], start: datetime, end: datetime, *, now: datetime
    ) -> list[Series]:
        resolution = next(r for r in (RAW, MINUTE, HOUR)
                          if start >= now - timedelta(seconds=KEEP[r]) or r == HOUR)  # fmt: skip
        span = max((end - start).total_seconds(), 1.0)
        step = max(resolution or 1, math.ceil(span / MAX_POINTS))
        args: dict[str, Any] = {"name": name, "match": Json(match), "resolution": resolution,
                                "start": start, "end": end, "step": step}  # fmt: skip
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("query"), args).fetchall()
        grouped: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for labels, bucket, value in rows:
            grouped[json.dumps(labels, sort_keys=True)].append((bucket, float(value)))
        return [Series(json.loads(k), points) for k, points in grouped.items()]


class MetricSource:
    """What alert rules read: the registry's latest scrape, and the time series for ranges.

    One scrape serves every rule of a round (and the time series): collecting the registry
    runs collectors that query the database."""

    def __init__(self, registry: CollectorRegistry, series: TimeSeries) -> None:
        self.registry, self.series = registry, series
        self.samples: list[Sample] | None = None

    def scrape(self) -> list[Sample]:
        """Collect the registry once; rules read this scrape until the next one."""
        self.samples = snapshot(self.registry)
        return self.samples

    def instant(self, name: str) -> list[tuple[dict[str, str], float]]:
        samples = self.samples if self.samples is not None else self.scrape()
        return [(s.labels, s.value) for s in samples if s.name == name]

    def window(
        self, name: str, seconds: int
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        return self.series.window(name, seconds, datetime.now(UTC))
