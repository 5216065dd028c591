"""A flow of the spec, assembled: its source, steps, sinks and dead-letter queue over the
platform's engines.

App databases are written as the flow's own writer role (``FlowEngines.postgres``), which
holds exactly what flows/access.py lists; never as a superuser, so code an app manages to
run inside a flow's statements (a trigger, a view's function) gains nothing beyond that.
An app's tables (a source, an enrich lookup) are read with the flow's reader role of that
database (``FlowEngines.readers``: SELECT on the declared tables, nothing else): planning a
query on a table runs the immutable functions its indexes call, as whoever plans (red team
21d F1), so the app's code runs with rights it has anyway, never the writer's (which may
``SET ROLE`` to the owner of the tables it writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from comind.errors import ComindError
from comind.flows.access import dataset_table, queue_of, table_ref
from comind.flows.enrich import Enrich
from comind.flows.gate import DatasetGate, DatasetRules
from comind.flows.limits import DATABASE_POOL
from comind.flows.partitions import Partitioning
from comind.flows.pgsink import PostgresSink
from comind.flows.pgsource import TableSource
from comind.flows.privacy import PiiGuard
from comind.flows.quarantine import pii_actions
from comind.flows.rediscache import RedisWindow
from comind.flows.redissink import RedisSink
from comind.flows.runner import FlowRunner, Policy
from comind.flows.sinks import ObjectsSink, QueueSink, Sink, TopicSink
from comind.flows.sources import ObjectSource, QueueSource, Source
from comind.flows.state import FlowState
from comind.flows.steps import Step, StepContext, build_steps
from comind.flows.windows import WindowAggregator
from comind.governance import quality
from comind.governance.lineage_emitter import LineageEmitter
from comind.governance.privacy import PiiKeys
from comind.governance.tokens import Tokenizer
from comind.queue.layer import MessageLayer
from comind.spec import Spec
from comind.spec import steps as declared
from comind.spec.model import Flow
from comind.spec.model import Sink as SinkSpec
from comind.spec.names import (
    flow_dead_letter_queue,
    flow_dedupe_prefix,
    flow_input_queue,
)
from comind.spec.pii import PiiHandling
from comind.spec.privacy import flow_pii
from comind.stores.objects import ObjectStore
from comind.stores.postgres import PgTarget, Pool, make_pool
from comind.stores.redis import RedisClient, RedisTarget, client


@dataclass
class FlowEngines:
    """The engines a flow runs on; app database pools are opened on first use."""

    layer: MessageLayer
    postgres: PgTarget  # app databases' server, as the flow's writer role
    objects: ObjectStore
    redis: RedisTarget | None = None
    lineage: LineageEmitter | None = None  # OpenLineage events of runs (flows/lineage_runs.py)
    # by flow, the PII handling its quarantined records carry (set by the FlowBuilder), so
    # every FlowState of these engines stores them masked, whichever code quarantines
    pii: dict[str, dict[str, str]] = field(default_factory=dict)
    pii_keys: PiiKeys | None = None  # what flows protect declared PII fields with
    readers: dict[str, PgTarget] = field(default_factory=dict)  # database -> the flow's reader
    _pools: dict[str, Pool] = field(default_factory=dict)
    _redis: RedisClient | None = None

    @property
    def state(self) -> FlowState:
        return FlowState(self.layer.pool, self.pii)

    def database(self, dbname: str) -> Pool:
        """The flow's writer in ``dbname``."""
        return self._pool(dbname, self.postgres.with_db(dbname))

    def reader(self, dbname: str) -> Pool:
        """Who reads the app tables of ``dbname``: the flow's reader there (the writer where
        the flow has none, as in tests)."""
        login = self.readers.get(dbname)
        return self._pool(f"{dbname} as the reader", login) if login else self.database(dbname)

    def _pool(self, key: str, target: PgTarget) -> Pool:
        if key not in self._pools:
            self._pools[key] = make_pool(target, max_size=DATABASE_POOL)
        return self._pools[key]

    def tokenizer(self) -> Tokenizer | None:
        """Tokens through the platform database's vault (as the workers' role)."""
        return Tokenizer(self.layer.pool, self.pii_keys.hmac) if self.pii_keys else None

    def cache(self) -> RedisClient | None:
        if self._redis is None and self.redis is not None:
            self._redis = client(self.redis)
        return self._redis

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._redis is not None:
            self._redis.close()
        if self.lineage is not None:
            self.lineage.close()  # its buffered events out while the platform pool is open


class FlowBuilder:
    def __init__(self, spec: Spec, root: Path, engines: FlowEngines) -> None:
        self.spec, self.root, self.engines = spec, root, engines
        engines.pii.update({name: pii_actions(spec, name) for name in spec.flows})

    def flow(self, name: str) -> Flow:
        if name not in self.spec.flows:
            known = ", ".join(sorted(self.spec.flows)) or "none"
            raise ComindError(f"no flow '{name}' in the spec (flows: {known})")
        return self.spec.flows[name]

    def runner(self, name: str) -> FlowRunner:
        flow = self.flow(name)
        batch = flow.batch
        policy = Policy(
            flow.errors.retries,
            flow.errors.backoff,
            flow.errors.dead_letter,
            batch.size if batch else 100,
            batch.max_wait.total_seconds() if batch else 1.0,
        )
        return FlowRunner(
            name,
            source=self.source(name),
            steps=self.steps(name),
            sinks=self.sinks(name),
            dead_letters=QueueSink(
                self.engines.layer.queues, flow_dead_letter_queue(name), name="dead-letters"
            ),
            state=self.engines.state,
            policy=policy,
            window=self._window(name, flow),
            gate=self.gate(name),
            privacy=self.privacy(name),
        )

    def privacy(self, name: str) -> PiiGuard:
        """The handling of the PII fields the flow's datasets declare, before every sink."""
        fields = {f: (f"dataset/{d.dataset}", d.handling)
                  for f, d in flow_pii(self.spec, name).items()}  # fmt: skip
        return self._guard(name, fields)

    def _guard(self, name: str, fields: dict[str, tuple[str, PiiHandling]]) -> PiiGuard:
        return PiiGuard(fields, self.engines.pii_keys, self.engines.tokenizer(), name)

    def gate(self, name: str) -> DatasetGate:
        """Per sink key, the per-record rules of the dataset a postgres sink writes."""
        flow = self.flow(name)
        declared = {"default": flow.sink} if flow.sink is not None else {}
        return DatasetGate({
            key: DatasetRules(s.postgres, quality.per_record(quality.checks(
                self.spec.datasets[s.postgres].quality)))
            for key, s in {**declared, **flow.sinks}.items() if s.postgres is not None
        })  # fmt: skip

    def steps(self, name: str) -> list[Step]:
        flow = self.flow(name)
        timeout = flow.errors.step_timeout.total_seconds()

        def guard(fields: dict[str, PiiHandling]) -> PiiGuard:
            return self._guard(name, {f: (f"flow/{name}", h) for f, h in fields.items()})

        pii = frozenset(f for d in flow.written_datasets for f in self.spec.datasets[d].pii)
        cache = self.engines.cache()
        window = RedisWindow(cache, flow_dedupe_prefix(name)) if cache is not None else None
        ctx = StepContext(
            name, self.root, timeout, lambda conf: self._enrich(name, conf), guard, pii, window
        )
        return build_steps(flow.steps, ctx)

    def partitioning(self, name: str) -> Partitioning | None:
        p = self.flow(name).partition
        return Partitioning(p.by, p.field, p.buckets, p.lookback) if p else None

    # -- sources

    def source(self, name: str) -> Source:
        flow = self.flow(name)
        source = flow.source_ref
        if source.scheme in ("topic", "http"):
            return QueueSource(self.engines.layer.queues, flow_input_queue(name))
        if source.scheme == "queue":
            return QueueSource(self.engines.layer.queues, self.queue(source.target))
        if source.scheme == "postgres":
            pool, table = self.table(source.target)
            cursor = flow.cursor or (flow.partition.field if flow.partition else "id")
            return TableSource(pool, table, cursor, self.engines.state, name)
        return ObjectSource(self.engines.objects, source.target, self.engines.state, name)

    def queue(self, ref: str) -> str:
        return queue_of(self.spec, ref)

    def table(self, ref: str) -> tuple[Pool, str]:
        """``APP/TABLE`` → the pool that reads the app database, and the table."""
        use = table_ref(self.spec, ref)
        return self.engines.reader(use.database), use.table

    # -- sinks

    def sinks(self, name: str) -> dict[str, Sink]:
        flow = self.flow(name)
        declared = {"default": flow.sink} if flow.sink is not None else {}
        return {key: self._sink(key, s) for key, s in {**declared, **flow.sinks}.items()}

    def _sink(self, key: str, s: SinkSpec) -> Sink:
        if s.postgres is not None:
            dataset, use = self.spec.datasets[s.postgres], dataset_table(self.spec, s.postgres)
            schema = self.root / dataset.schema_ if dataset.schema_ else None
            p = s.partition
            return PostgresSink(
                self.engines.database(use.database),
                use.table,
                upsert_on=s.upsert_on,
                schema_file=schema,
                name=key,
                owner=use.owner,
                readers=(use.app_role,),
                partitioning=Partitioning(p.by, p.field, p.buckets) if p else None,
            )
        if s.objects is not None:
            return ObjectsSink(self.engines.objects, s.objects, fmt=s.format, name=key)
        if s.queue is not None:
            return QueueSink(self.engines.layer.queues, self.queue(s.queue), name=key,
                             attributes=s.attributes)  # fmt: skip
        if s.topic is not None:
            return TopicSink(self.engines.layer.topics, s.topic, name=key, attributes=s.attributes)
        cache = self.engines.cache()
        if cache is None:
            raise ComindError("a redis sink needs the platform's Redis")
        ttl = int(s.ttl.total_seconds()) if s.ttl is not None else None
        return RedisSink(cache, str(s.redis), ttl=ttl, name=key)

    def _enrich(self, flow: str, conf: declared.Enrich) -> Step:
        pool, _ = self.table(conf.table)
        return Enrich(conf, flow, pool, self.engines.cache())

    def _window(self, name: str, flow: Flow) -> WindowAggregator | None:
        w = flow.window
        if w is None:
            return None
        return WindowAggregator(
            name,
            self.engines.state,
            field=w.field,
            size=w.size.total_seconds(),
            slide=w.slide.total_seconds() if w.slide else None,
            lateness=w.allowed_lateness.total_seconds(),
            idle=w.idle.total_seconds(),
            key=w.key,
            sums=tuple(w.sum),
        )
