"""The app tables a flow touches, and how: what its PostgreSQL writer role is granted.

A flow's workers log in to app databases as the flow's own role (``spec/names.py``
``flow_role``), never as a superuser. This module says, from the spec alone, which tables
that role reads (a ``postgres://`` source, an ``enrich`` lookup) and which it writes (a
``postgres`` sink); the platform grants exactly these when it provisions the flow, and the
flow builder resolves its tables through the same functions, so the two cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from comind.errors import ComindError
from comind.spec import Spec
from comind.spec.names import (
    dead_letter_name,
    flow_dead_letter_queue,
    flow_input_queue,
    owner_role,
    queue_name,
    role_name,
)
from comind.spec.privacy import flow_datasets
from comind.spec.steps import EnrichStep
from comind.stores.platform_db import WorkerRows


@dataclass(frozen=True)
class TableUse:
    """One app table a flow reads (``write=False``) or writes; ``lookup``: an enrich table
    (it gets the version trigger that invalidates the flow's cache)."""

    app: str
    database: str
    table: str
    write: bool = False
    lookup: bool = False

    @property
    def app_role(self) -> str:
        return role_name(self.app)

    @property
    def owner(self) -> str:
        """The role owning the tables flows write in this database."""
        return owner_role(self.database)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> TableUse:
        return cls(**raw)


def database_of(spec: Spec, app: str) -> str:
    db = spec.apps[app].database
    if db is None:
        raise ComindError(f"app '{app}' has no database")
    return db.name or app


def table_ref(spec: Spec, ref: str, **how: bool) -> TableUse:
    """``APP/TABLE`` as a table use."""
    app, _, table = ref.partition("/")
    return TableUse(app, database_of(spec, app), table, **how)


def dataset_table(spec: Spec, dataset: str) -> TableUse:
    """The table a ``postgres`` sink writes: its dataset's ``postgres://APP/TABLE``."""
    app, _, table = spec.datasets[dataset].store.partition("://")[2].partition("/")
    return table_ref(spec, f"{app}/{table}", write=True)


def flow_buckets(spec: Spec, flow: str) -> dict[str, tuple[str, ...]]:
    """The buckets ``flow`` reads (its ``objects:`` source) or writes (its ``objects`` sinks),
    each with the key prefixes it reaches there ("": the whole bucket): a source's prefix as
    it lists it, a sink's folder (a template up to its first placeholder)."""
    declared = spec.flows[flow]
    found = [_sink_prefix(s.objects) for s in declared.every_sink if s.objects is not None]
    if declared.source_ref.scheme == "objects":
        found.append(declared.source_ref.target.partition("/")[::2])
    reach: dict[str, set[str]] = defaultdict(set)
    for bucket, prefix in found:
        reach[bucket].add(prefix)
    return {bucket: tuple(sorted(prefixes)) for bucket, prefixes in sorted(reach.items())}


def _sink_prefix(location: str) -> tuple[str, str]:
    """The bucket and key prefix an ``objects`` sink writes under (flows/sinks.py
    ``ObjectsSink.key_for``)."""
    bucket, _, template = location.partition("/")
    if "{" in template:
        return bucket, template[: template.index("{")]
    folder = template.strip("/")
    return bucket, folder + "/" if folder else ""


def platform_rows(spec: Spec, flow: str) -> WorkerRows:
    """What ``flow``'s workers may touch in the platform database: its own flow rows, the
    queues it receives from (its dead letters, its input queue, a ``queue://`` source and that
    queue's dead letters), the queues it sends to (its sinks' and its dead letters'), the
    topics its sinks name, the datasets whose quality it records and whose tokens it writes
    (its source's and the ones it writes)."""
    declared, source = spec.flows[flow], spec.flows[flow].source_ref
    receive = [flow_dead_letter_queue(flow)]
    if source.scheme in ("topic", "http"):
        receive.append(flow_input_queue(flow))
    if source.scheme == "queue":
        receive += _with_dead_letters(spec, source.target)
    # its own records' letters go to its dead-letter queue as sends (migration 0031)
    send = [flow_dead_letter_queue(flow)]
    send += [queue_of(spec, s.queue) for s in declared.every_sink if s.queue is not None]
    topics = [s.topic for s in declared.every_sink if s.topic is not None]
    return WorkerRows(flow=(flow,), receive=_names(receive), send=_names(send),
                      topic=_names(topics), dataset=_names(flow_datasets(spec, flow)))  # fmt: skip


def queue_of(spec: Spec, ref: str) -> str:
    """The queue name of ``APP/QUEUE`` (``.fifo`` for a FIFO queue)."""
    app, _, queue = ref.partition("/")
    return queue_name(app, queue, spec.apps[app].queues[queue].fifo)


def _with_dead_letters(spec: Spec, ref: str) -> list[str]:
    app, _, queue = ref.partition("/")
    name = queue_of(spec, ref)
    return [name, dead_letter_name(name)] if spec.apps[app].queues[queue].dlq else [name]


def _names(found: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(found)))


def source_dataset(spec: Spec, flow: str) -> str | None:
    """The dataset a flow's postgres source reads, if it is one."""
    ref = spec.flows[flow].source_ref
    if ref.scheme != "postgres":
        return None
    return next((n for n, d in spec.datasets.items() if d.store == f"postgres://{ref.target}"),
                None)  # fmt: skip


def table_uses(spec: Spec, flow: str) -> list[TableUse]:
    """Every app table ``flow`` reads or writes, each once (a write wins over a read)."""
    declared = spec.flows[flow]
    uses: list[TableUse] = []
    if declared.source_ref.scheme == "postgres":
        uses.append(table_ref(spec, declared.source_ref.target))
    uses += [
        table_ref(spec, s.enrich.table, lookup=True)
        for s in declared.steps
        if isinstance(s, EnrichStep)
    ]
    sinks = {"default": declared.sink} if declared.sink is not None else {}
    uses += [
        dataset_table(spec, s.postgres)
        for s in {**sinks, **declared.sinks}.values()
        if s.postgres is not None
    ]
    merged: dict[tuple[str, str], TableUse] = {}
    for use in uses:
        key = (use.database, use.table)
        if key in merged:
            old = merged[key]
            use = TableUse(use.app, use.database, use.table, use.write or old.write,
                           use.lookup or old.lookup)  # fmt: skip
        merged[key] = use
    return list(merged.values())
