"""Metrics of worker processes (flow workers) in the platform's ``/metrics``.

Workers run with ``PROMETHEUS_MULTIPROC_DIR`` set, so prometheus_client writes their
metrics to files there; the platform reads those files on each scrape and merges them
into its own families: one family per name, and samples with the same labels summed
(a counter the platform and a worker both increment is one series, as Prometheus
requires). Worker gauges carry a ``pid`` label or are reduced per their mode.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

ENV = "PROMETHEUS_MULTIPROC_DIR"


def reset(path: Path) -> None:
    """An empty directory for a platform start (files of earlier runs would count twice)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


class Merged:
    """A collector: ``base``'s families merged with the worker files under ``path``."""

    def __init__(self, base: CollectorRegistry, path: Path) -> None:
        self.base, self.path = base, path

    def collect(self) -> Iterator[Metric]:
        workers = {m.name: m for m in self._workers()}
        for family in self.base.collect():
            other = workers.pop(family.name, None)
            yield family if other is None else _merge(family, other)
        yield from workers.values()

    def _workers(self) -> list[Metric]:
        if not self.path.is_dir() or not any(self.path.glob("*.db")):
            return []
        collector = MultiProcessCollector(None, path=str(self.path))  # type: ignore[no-untyped-call]
        return list(collector.collect())  # type: ignore[no-untyped-call]


def _merge(mine: Metric, theirs: Metric) -> Metric:
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for sample in [*mine.samples, *theirs.samples]:
        if sample.name.endswith("_created"):
            continue  # a creation time does not add up
        key = (sample.name, tuple(sorted(sample.labels.items())))
        totals[key] = totals.get(key, 0.0) + sample.value
    merged = Metric(mine.name, mine.documentation, mine.type, mine.unit)
    merged.samples = [Sample(name, dict(labels), value) for (name, labels), value in totals.items()]
    return merged


def registry(base: CollectorRegistry, path: Path) -> CollectorRegistry:
    """A registry exposing ``base`` with the workers' metrics merged in."""
    out = CollectorRegistry(auto_describe=False)
    out.register(Merged(base, path))
    return out
