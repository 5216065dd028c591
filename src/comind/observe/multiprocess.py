"""Metrics of worker processes (flow workers) in the platform's ``/metrics``.

Workers run with ``PROMETHEUS_MULTIPROC_DIR`` set (a folder per flow under the platform's),
so prometheus_client writes their metrics to files there; the platform reads those files
on each scrape and merges them into its own families: one family per name, and samples
with the same labels summed (a counter the platform and a worker both increment is one
series, as Prometheus requires). Worker gauges carry a ``pid`` label or are reduced per their mode.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)


def reset(path: Path) -> None:
    """Empty the directory for a platform start (files of earlier runs would count twice);
    the directory itself stays as it is (its owner and mode say who may cross it)."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


# whether a flow (its folder's name) may report a sample with these labels
Owns = Callable[[str, Mapping[str, str]], bool]
MAX_FILE = 16 << 20  # bytes: a worker's metrics file larger than that is not read


def own_flow(flow: str, labels: Mapping[str, str]) -> bool:
    """The default: a flow reports its own series only (its ``flow`` label)."""
    return labels.get("flow") == flow


class Merged:
    """A collector: ``base``'s families merged with the worker files under ``path``.

    Each flow's folder is written by that flow's OS user, which runs app code: its files are
    read as data, never trusted (red team 21f H2). Only regular files, at most MAX_FILE
    bytes, opened without following links or blocking (a link to a secret, a FIFO), copied
    before they are parsed; a flow's files that do not parse are left out (logged), never
    the whole exposition; and of a flow's samples only those ``owns`` says are the flow's
    (its own series: a flow cannot raise or mute another's, or the platform's, alerts)."""

    def __init__(self, base: CollectorRegistry, path: Path, owns: Owns = own_flow) -> None:
        self.base, self.path, self.owns = base, path, owns

    def collect(self) -> Iterator[Metric]:
        workers = {m.name: m for m in self._workers()}
        for family in self.base.collect():
            other = workers.pop(family.name, None)
            yield family if other is None else _merge(family, other)
        yield from workers.values()

    def _workers(self) -> list[Metric]:
        if not self.path.is_dir():
            return []
        found: dict[str, Metric] = {}
        with tempfile.TemporaryDirectory(prefix="comind-metrics-") as scratch:
            for flow, folder in self._folders():
                copies = _copies(folder, Path(scratch) / (flow or "-"))
                for family in _parsed(flow, copies):
                    if flow is not None:
                        family.samples = [s for s in family.samples if self.owns(flow, s.labels)]
                    have = found.get(family.name)
                    found[family.name] = family if have is None else _merge(have, family)
        return [f for f in found.values() if f.samples]

    def _folders(self) -> Iterator[tuple[str | None, Path]]:
        """The platform's own folder (None) and each flow's."""
        yield None, self.path
        for entry in os.scandir(self.path):
            if entry.is_dir(follow_symlinks=False):
                yield entry.name, Path(entry.path)


def _copies(folder: Path, into: Path) -> list[str]:
    """The ``.db`` files of ``folder`` that are regular files of at most MAX_FILE bytes,
    copied into ``into`` (root's: nothing the flow does changes them while they are read)."""
    into.mkdir(mode=0o700)
    copies = [str(into / e.name) for e in os.scandir(folder)
              if e.name.endswith(".db") and _copy(e.path, into / e.name)]  # fmt: skip
    return sorted(copies)


def _copy(path: str, copy: Path) -> bool:
    """``path`` copied by the kernel (nothing held in memory: a scrape of many workers'
    files stays small), if it is a regular file of at most MAX_FILE bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            return False
        out = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            sent = 0
            while sent < info.st_size and (n := os.sendfile(out, fd, sent, info.st_size - sent)):
                sent += n
        finally:
            os.close(out)
        return True
    finally:
        os.close(fd)


def _parsed(flow: str | None, files: list[str]) -> list[Metric]:
    if not files:
        return []
    try:
        return list(MultiProcessCollector.merge(files, accumulate=True))  # type: ignore[no-untyped-call]
    except Exception as exc:  # what a worker wrote does not parse: its metrics only are lost
        log.warning("metrics of flow %s left out: %s", flow, type(exc).__name__)
        return []


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


def registry(base: CollectorRegistry, path: Path, owns: Owns = own_flow) -> CollectorRegistry:
    """A registry exposing ``base`` with the workers' metrics merged in."""
    out = CollectorRegistry(auto_describe=False)
    out.register(Merged(base, path, owns))
    return out
