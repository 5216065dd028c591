"""Rules that span sections of the spec, each reported at the offending key or value.

Checked after the model validates, so every rule sees well-typed data; all rules run
and every violation is reported. The rules: names are DNS labels; every reference
resolves (flow sources including ``http://APP``, sinks, topic subscribers, enrich tables'
apps, dataset stores, secrets, ``depends_on``, a route's sinks); a dataset's store app has a
database and its schema is a JSON Schema; ``depends_on`` has no cycle; flow kinds get what
they need and no flow word is silently ignored; the files and ``module:function`` names
steps use exist; names that share a namespace (buckets, databases, a queue and a
dead-letter queue, alerts) do not clash. The aim: a spec that validates is one every
worker can build and run.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import promql_parser

from comind.spec import reserved
from comind.spec.issues import SpecIssue
from comind.spec.model import Flow, Sink, SourceRef, Spec
from comind.spec.positions import DocPath, Positions, dotted
from comind.spec.privacy import conflicts
from comind.spec.redis_keys import key_problem
from comind.spec.repofiles import callable_problem, schema_problem
from comind.spec.steps import (
    EncryptStep,
    Enrich,
    EnrichStep,
    FilterStep,
    MapStep,
    PythonStep,
    RouteStep,
    StepSpec,
    ValidateStep,
)
from comind.spec.topic_filters import unmatched_filters

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_PLACEHOLDER = re.compile(r"^[A-Za-z_][\w-]*\Z")
SECRETS_DIR = "secrets"
SECRET_SUFFIX = ".sealed.yaml"
DLQ_SUFFIX = "-dlq"
_NO_QUEUE = "no queue '{}' (expected app/queue of a declared queue)"
_ENCRYPT = "encrypt fields with the anonymize step: anonymize: {FIELD: encrypt}"


def check(spec: Spec, positions: Positions, root: Path) -> list[SpecIssue]:
    """Every cross-reference problem of ``spec`` (a repo rooted at ``root``)."""
    return Checker(spec, positions, root).run()


def secret_file(root: Path, app: str, name: str) -> Path:
    """Where app ``app``'s sealed secret ``name`` lives in the repo at ``root``."""
    return root / SECRETS_DIR / app / f"{name}{SECRET_SUFFIX}"


class Checker:
    """Collects positioned issues for one spec."""

    def __init__(self, spec: Spec, positions: Positions, root: Path) -> None:
        self.spec, self.positions, self.root = spec, positions, root
        self.issues: list[SpecIssue] = []

    def error(self, path: DocPath, message: str, *, at_key: bool = False) -> None:
        pos = self.positions.key(path) if at_key else self.positions.value(path)
        self.issues.append(SpecIssue(pos.file, pos.line, pos.column, dotted(path), message))

    def run(self) -> list[SpecIssue]:
        self._names()
        for name in self.spec.apps:
            self._app(name)
        self._dependencies()
        self._unique_services()
        self._topics()
        for name in self.spec.datasets:
            self._dataset(name)
        for name in self.spec.flows:
            self._flow(name)
        self._alerts()
        return self.issues

    # -- lookups

    def queue_exists(self, ref: str) -> bool:
        app, _, queue = ref.partition("/")
        return app in self.spec.apps and queue in self.spec.apps[app].queues

    def is_fifo(self, ref: str) -> bool:
        app, _, queue = ref.partition("/")
        return self.spec.apps[app].queues[queue].fifo

    def has_database(self, app: str) -> bool:
        return app in self.spec.apps and self.spec.apps[app].database is not None

    def buckets(self) -> set[str]:
        return {a.bucket.name for a in self.spec.apps.values() if a.bucket is not None}

    # -- names

    def _label(self, path: DocPath, name: str, *, at_key: bool = True) -> None:
        if not _LABEL.match(name):
            why = f"name '{name}' must be a DNS label: lowercase letters, digits and '-', "
            self.error(path, why + "starting and ending with a letter or digit", at_key=at_key)

    def _names(self) -> None:
        self._label(("platform", "name"), self.spec.platform.name, at_key=False)
        for section in ("environments", "apps", "topics", "flows"):
            for name in getattr(self.spec, section):
                self._label((section, name), name)
        for name in self.spec.apps:
            if problem := reserved.app_name(name):
                self.error(("apps", name), problem, at_key=True)
        for app, spec in self.spec.apps.items():
            for queue in spec.queues:
                self._label(("apps", app, "queues", queue), queue)

    # -- apps

    def _app(self, name: str) -> None:
        app, path = self.spec.apps[name], ("apps", name)
        for i, secret in enumerate(app.secrets):
            self._secret((*path, "secrets", i), name, secret)
        for i, topic in enumerate(app.publishes):
            if topic not in self.spec.topics:
                self.error((*path, "publishes", i), f"no topic named '{topic}'")
        for queue, conf in app.queues.items():
            qpath = (*path, "queues", queue)
            if conf.content_based_dedup and not conf.fifo:
                self.error((*qpath, "content_based_dedup"), "content_based_dedup needs fifo: true")
            owner = queue.removesuffix(DLQ_SUFFIX)
            if owner != queue and owner in app.queues and app.queues[owner].dlq is not None:
                message = f"queue '{queue}' clashes with the dead-letter queue of '{owner}'"
                self.error(qpath, message, at_key=True)

    def _secret(self, path: DocPath, app: str, name: str) -> None:
        if not _LABEL.match(name):
            self._label(path, name, at_key=False)
        elif not secret_file(self.root, app, name).is_file():
            where = f"{SECRETS_DIR}/{app}/{name}{SECRET_SUFFIX}"
            self.error(path, f"no sealed secret '{name}' (expected {where} in the repo)")

    def _dependencies(self) -> None:
        for name, app in self.spec.apps.items():
            for i, dep in enumerate(app.depends_on):
                if dep not in self.spec.apps:
                    self.error(("apps", name, "depends_on", i), f"no app named '{dep}'")
        cycle = find_cycle({n: a.depends_on for n, a in self.spec.apps.items()})
        if cycle:
            self.error(("apps", cycle[0], "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")

    def _unique_services(self) -> None:
        buckets: dict[str, str] = {}
        databases: dict[str, str] = {}
        for name, app in self.spec.apps.items():
            if app.bucket is not None:
                self._service_name(name, "bucket", app.bucket.name)
                self._unique(buckets, app.bucket.name, name, "bucket")
            if app.database is not None:
                if app.database.name is not None:
                    self._service_name(name, "database", app.database.name)
                elif problem := reserved.default_database(name):
                    self.error(("apps", name, "database"), problem)
                self._unique(databases, app.database.name or name, name, "database")

    def _service_name(self, app: str, kind: str, value: str) -> None:
        path = ("apps", app, kind, "name")
        if not _LABEL.match(value) or len(value) < 3:
            self.error(path, f"{kind} name '{value}' must be a DNS label of 3 to 63 characters: "
                             "lowercase letters, digits and '-'")  # fmt: skip
        elif problem := reserved.service_name(kind, value):
            self.error(path, problem)  # the platform's own (spec/reserved.py says why)

    def _unique(self, seen: dict[str, str], value: str, app: str, kind: str) -> None:
        if value in seen:
            message = f"{kind} '{value}' is already declared by app '{seen[value]}'"
            self.error(("apps", app, kind, "name"), message)
        seen.setdefault(value, app)

    # -- topics and datasets

    def _topics(self) -> None:
        for name, topic in self.spec.topics.items():
            for i, sub in enumerate(topic.subscribers):
                if not self.queue_exists(sub.queue):
                    self.error(("topics", name, "subscribers", i), _NO_QUEUE.format(sub.queue))
        for path, why in unmatched_filters(self.spec):
            self.error(path, why, at_key=True)

    def _dataset(self, name: str) -> None:
        ds, path = self.spec.datasets[name], ("datasets", name)
        scheme, _, rest = ds.store.partition("://")
        app, _, table = rest.partition("/")
        if scheme != "postgres" or not app or not table or "/" in table:
            self.error((*path, "store"), f"expected postgres://APP/TABLE, got '{ds.store}'")
        elif app not in self.spec.apps:
            self.error((*path, "store"), f"no app named '{app}'")
        elif not self.has_database(app):
            self.error((*path, "store"), f"app '{app}' declares no database")
        elif name != f"{app}.{table}":
            self.error(
                path, f"dataset name must be APP.TABLE of its store ('{app}.{table}')", at_key=True
            )
        if ds.schema_ and not (self.root / ds.schema_).is_file():
            self.error((*path, "schema"), f"schema file '{ds.schema_}' not found in the repo")
        elif ds.schema_:
            self._schema_file((*path, "schema"), ds.schema_)

    # -- flows

    def _flow(self, name: str) -> None:
        flow, path = self.spec.flows[name], ("flows", name)
        self._source((*path, "source"), flow.source_ref)
        for i, step in enumerate(flow.steps):
            self._step((*path, "steps", i, step.kind), step)
        if flow.sink is not None:
            self._sink((*path, "sink"), flow.sink)
        for key, sink in flow.sinks.items():
            self._sink((*path, "sinks", key), sink)
        self._flow_kind(path, flow)
        for clash in conflicts(self.spec, name):
            self.error(path, f"one PII field, two handlings: {clash}", at_key=True)

    def _step(self, where: DocPath, step: StepSpec) -> None:
        match step:
            case MapStep(map=ref) | FilterStep(filter=ref) | PythonStep(python=ref):
                self._module(where, ref)
            case ValidateStep():
                self._schema_file(where, step.validate_)
            case EncryptStep():
                self.error(where, _ENCRYPT)
            case RouteStep(route=route) if route.by is not None:
                self._module((*where, "by"), route.by)
            case EnrichStep(enrich=enrich):
                self._enrich(where, enrich)

    def _enrich(self, where: DocPath, enrich: Enrich) -> None:
        if enrich.app not in self.spec.apps:
            self.error((*where, "table"), f"no app named '{enrich.app}'")
        elif not self.has_database(enrich.app):
            self.error((*where, "table"), f"app '{enrich.app}' declares no database")

    def _module(self, path: DocPath, ref: str) -> None:
        if (why := callable_problem(self.root, ref)) is not None:
            self.error(path, why)

    def _schema_file(self, path: DocPath, ref: str) -> None:
        file = self.root / str(ref)
        try:
            schema = json.loads(file.read_text())
        except OSError:
            self.error(path, f"no JSON Schema file {ref} in the repo")
        except ValueError as exc:
            self.error(path, f"{ref} is not JSON: {exc}")
        else:
            if (why := schema_problem(schema)) is not None:
                self.error(path, f"{ref} is not a JSON Schema: {why}")

    def _flow_kind(self, path: DocPath, flow: Flow) -> None:
        if flow.kind == "batch" and not flow.schedule and not flow.on_demand:
            self.error(path, "a batch flow needs a schedule (or on_demand: true)", at_key=True)
        if flow.kind != "batch" and flow.schedule:
            article = "an" if flow.kind == "event" else "a"
            self.error((*path, "schedule"), f"{article} {flow.kind} flow runs continuously; "
                                            "remove schedule")  # fmt: skip
        if flow.cursor is not None and flow.source_ref.scheme != "postgres":
            self.error((*path, "cursor"), "cursor applies to a postgres:// source only")
        if flow.window is not None and flow.partition is not None and flow.kind == "batch":
            self.error((*path, "window"), "a partitioned batch run reads its partition whole; "
                                          "aggregate it with an aggregate step")  # fmt: skip
        if flow.kind == "event" and flow.source_ref.scheme != "topic":
            self.error((*path, "source"), "an event flow's source must be topic://NAME")
        if flow.partition and flow.partition.by == "hash" and not flow.partition.buckets:
            self.error((*path, "partition"), "hash partitions need buckets: N")
        if flow.partition and flow.source_ref.scheme != "postgres":
            self.error((*path, "partition"), "partitioned runs read a postgres:// source")
        self._routes(path, flow)

    def _routes(self, path: DocPath, flow: Flow) -> None:
        """A route names one of the flow's sinks (``default`` for a lone ``sink:``)."""
        sinks = set(flow.sinks) | ({"default"} if flow.sink is not None else set())
        for i, step in enumerate(flow.steps):
            if not isinstance(step, RouteStep):
                continue
            where = (*path, "steps", i, "route")
            targets: list[tuple[DocPath, str]] = [
                (("map", k), v) for k, v in step.route.map.items()
            ]
            if step.route.default is not None:
                targets.append((("default",), step.route.default))
            for at, target in targets:
                if target not in sinks:
                    known = ", ".join(sorted(sinks)) or "none"
                    self.error((*where, *at), f"no sink '{target}' in this flow (sinks: {known})")

    def _source(self, path: DocPath, source: SourceRef) -> None:
        target = source.target
        if source.scheme == "queue" and not self.queue_exists(target):
            self.error(path, _NO_QUEUE.format(target))
        elif source.scheme == "topic" and target not in self.spec.topics:
            self.error(path, f"no topic '{target}'")
        elif source.scheme == "postgres" and (not source.name or "/" in source.name):
            self.error(path, f"expected postgres://APP/TABLE, got 'postgres://{target}'")
        elif source.scheme == "postgres" and not self.has_database(source.app):
            self.error(path, f"no app '{source.app}' with a database")
        elif source.scheme == "objects":
            self._bucket(path, target)
        elif source.scheme == "http" and target not in self.spec.apps:
            self.error(path, f"no app named '{target}' (expected http://APP, the app the records "
                             "are posted for)")  # fmt: skip

    def _bucket(self, path: DocPath, location: str) -> None:
        bucket = location.partition("/")[0]
        if bucket not in self.buckets():
            self.error(path, f"no bucket '{bucket}' (declare it under an app's bucket: name)")

    def _sink(self, path: DocPath, sink: Sink) -> None:
        if sink.partition is not None:
            self._sink_partition((*path, "partition"), sink)
        if sink.postgres is not None and sink.postgres not in self.spec.datasets:
            self.error((*path, "postgres"), f"no dataset '{sink.postgres}'")
        if sink.queue is not None and not self.queue_exists(sink.queue):
            self.error((*path, "queue"), _NO_QUEUE.format(sink.queue))
        elif sink.queue is not None and self.is_fifo(sink.queue):
            standard = "a flow writes standard queues only (its messages carry no group id)"
            self.error((*path, "queue"), f"queue '{sink.queue}' is FIFO; {standard}")
        if sink.topic is not None and sink.topic not in self.spec.topics:
            self.error((*path, "topic"), f"no topic '{sink.topic}'")
        if sink.objects is not None:
            self._bucket((*path, "objects"), sink.objects)
        for kind, text in (("objects", sink.objects), ("redis", sink.redis)):
            if text is not None and (why := template_problem(text)) is not None:
                self.error((*path, kind), why)
            elif kind == "redis" and text and (why := key_problem(text, self.spec)):
                self.error((*path, kind), why)  # a flow writes an app's keys only

    def _sink_partition(self, path: DocPath, sink: Sink) -> None:
        p = sink.partition
        assert p is not None
        if sink.postgres is None:
            self.error(path, "only a postgres sink's table can be partitioned")
        elif sink.upsert_on and p.field not in sink.upsert_on:
            self.error(path, f"the partition field '{p.field}' must be one of upsert_on "
                             "(PostgreSQL keys of a partitioned table include it)")  # fmt: skip
        elif p.by == "hash" and not p.buckets:
            self.error(path, "hash partitions need buckets: N")

    # -- alerts

    def _alerts(self) -> None:
        seen: set[str] = set()
        for i, alert in enumerate(self.spec.alerts):
            if alert.name in seen:
                self.error(("alerts", i, "name"), f"alert '{alert.name}' is declared twice")
            seen.add(alert.name)
            try:
                promql_parser.parse(alert.expr)
            except ValueError as exc:  # the whole PromQL grammar, as Prometheus parses it
                self.error(("alerts", i, "expr"), f"invalid PromQL: {exc}: {alert.expr!r}")


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a template of plain ``{field}`` placeholders, or None (a sink
    fills it per record or partition; anything else would fail there, not here)."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"not a template: {exc} in {text!r} (write {{{{ and }}}} for literal braces)"
    for _, name, spec, conversion in parts:
        if name is not None and (not _PLACEHOLDER.match(name) or spec or conversion):
            return f"placeholder {{{name}}} in {text!r}: expected a plain {{field}}"
    return None


def find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One dependency cycle as ``[a, b, a]`` (first in name order), or ``[]``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep in graph and dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []
