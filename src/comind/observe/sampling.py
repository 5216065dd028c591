"""What the registry says right now, as flat samples for the built-in time series.

Counters, gauges and info metrics are kept as they are; a histogram or summary keeps only
its ``_count`` and ``_sum`` (enough for rates and averages), not every bucket, so the
number of stored series stays proportional to the number of label sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

KEPT_SUFFIXES = ("_count", "_sum")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def snapshot(registry: CollectorRegistry) -> list[Sample]:
    out = []
    for family in registry.collect():
        aggregate = family.type in ("histogram", "summary")
        for s in family.samples:
            if s.name.endswith("_created") or (aggregate and not s.name.endswith(KEPT_SUFFIXES)):
                continue
            out.append(Sample(s.name, dict(s.labels), float(s.value)))
    return out
