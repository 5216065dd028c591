"""Metrics of worker processes (flow workers) in the platform's ``/metrics``.

Workers run with ``PROMETHEUS_MULTIPROC_DIR`` set (a folder per flow under the platform's),
so prometheus_client writes their metrics to files there; the platform reads those files
on each scrape and merges them into its own families: one family per name, and samples
with the same labels summed (a counter the platform and a worker both increment is one
series, as Prometheus requires). Worker gauges carry a ``pid`` label or are reduced per their mode.
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
    """Empty the directory for a platform start (files of earlier runs would count twice);
    the directory itself stays as it is (its owner and mode say who may cross it)."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


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
        """The files of every worker: in ``path``, or in its folder per flow (each flow's
        workers write only their own: they run as the flow's OS user)."""
        files = sorted(str(f) for f in [*self.path.glob("*.db"), *self.path.glob("*/*.db")])
        if not files:
            return []
        return list(MultiProcessCollector.merge(files, accumulate=True))  # type: ignore[no-untyped-call]


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
