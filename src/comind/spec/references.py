"""Rules that span sections of the spec, each reported at the offending key or value.

Checked after the model validates: names are DNS labels; queue/topic/dataset
references resolve; a dataset's store app has a database; schema files exist;
``depends_on`` names apps and has no cycle; flow kinds get what they need (a batch
flow a schedule, an event flow a topic source).
"""

from __future__ import annotations

import re
from pathlib import Path

from comind.spec.issues import SpecIssue
from comind.spec.model import QUALITY_RULES, STEP_KINDS, Spec
from comind.spec.positions import DocPath, Positions, dotted

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SOURCES = ("queue", "topic", "postgres", "objects", "http")


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
        self._apps()
        self._topics()
        self._datasets()
        for name in self.spec.flows:
            self._flow(name)
        self._alerts()
        return self.issues

    def _label(self, path: DocPath) -> None:
        if not _LABEL.match(str(path[-1])):
            self.error(
                path,
                f"name '{path[-1]}' must be a DNS label: lowercase letters, "
                "digits and '-', starting and ending with a letter or digit",
                at_key=True,
            )

    def _names(self) -> None:
        for section in ("environments", "apps", "topics", "flows"):
            for name in getattr(self.spec, section):
                self._label((section, name))
        for app, spec in self.spec.apps.items():
            for queue in spec.queues:
                self._label(("apps", app, "queues", queue))

    def queue_exists(self, ref: str) -> bool:
        app, _, queue = ref.partition("/")
        return app in self.spec.apps and queue in self.spec.apps[app].queues

    def _apps(self) -> None:
        for name, app in self.spec.apps.items():
            for i, dep in enumerate(app.depends_on):
                if dep not in self.spec.apps:
                    self.error(("apps", name, "depends_on", i), f"no app named '{dep}'")
        cycle = _find_cycle({n: a.depends_on for n, a in self.spec.apps.items()})
        if cycle:
            self.error(("apps", cycle[0], "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")

    def _topics(self) -> None:
        for name, topic in self.spec.topics.items():
            for i, sub in enumerate(topic.subscribers):
                if not self.queue_exists(sub.queue):
                    self.error(
                        ("topics", name, "subscribers", i),
                        f"no queue '{sub.queue}' (expected app/queue of a declared queue)",
                    )

    def _datasets(self) -> None:
        for name, ds in self.spec.datasets.items():
            path: DocPath = ("datasets", name)
            app, _, table = ds.store.removeprefix("postgres://").partition("/")
            if not ds.store.startswith("postgres://") or not table:
                self.error((*path, "store"), f"expected postgres://APP/TABLE, got '{ds.store}'")
            elif app not in self.spec.apps:
                self.error((*path, "store"), f"no app named '{app}'")
            elif self.spec.apps[app].database is None:
                self.error((*path, "store"), f"app '{app}' declares no database")
            if ds.schema_ and not (self.root / ds.schema_).is_file():
                self.error((*path, "schema"), f"schema file '{ds.schema_}' not found in the repo")
            for i, rule in enumerate(ds.quality):
                if len(rule) != 1 or next(iter(rule)) not in QUALITY_RULES:
                    self.error(
                        (*path, "quality", i), f"expected one rule of {', '.join(QUALITY_RULES)}"
                    )

    def _flow(self, name: str) -> None:
        flow, path = self.spec.flows[name], ("flows", name)
        self._source((*path, "source"), flow.source)
        for i, step in enumerate(flow.steps):
            if len(step) != 1 or next(iter(step)) not in STEP_KINDS:
                self.error((*path, "steps", i), f"expected one step of {', '.join(STEP_KINDS)}")
        sinks = {**({"sink": flow.sink} if flow.sink else {}), **flow.sinks}
        for key, sink in sinks.items():
            spath = (*path, "sink") if key == "sink" else (*path, "sinks", key)
            self._sink(spath, sink.postgres, sink.queue, sink.topic)
        if flow.kind == "batch" and not flow.schedule and not flow.on_demand:
            self.error(path, "a batch flow needs a schedule (or on_demand: true)")
        if flow.kind == "stream" and flow.schedule:
            self.error((*path, "schedule"), "a stream flow runs continuously; remove schedule")
        if flow.kind == "event" and not flow.source.startswith("topic://"):
            self.error((*path, "source"), "an event flow's source must be topic://NAME")
        if flow.partition and flow.partition.by == "hash" and not flow.partition.buckets:
            self.error((*path, "partition"), "hash partitions need buckets: N")

    def _source(self, path: DocPath, uri: str) -> None:
        scheme, sep, rest = uri.partition("://")
        if not sep or scheme not in _SOURCES:
            self.error(
                path,
                f"expected a source URI ({', '.join(s + '://' for s in _SOURCES)}), got '{uri}'",
            )
        elif scheme == "queue" and not self.queue_exists(rest):
            self.error(path, f"no queue '{rest}' (expected app/queue of a declared queue)")
        elif scheme == "topic" and rest not in self.spec.topics:
            self.error(path, f"no topic '{rest}'")
        elif scheme == "postgres":
            app = rest.partition("/")[0]
            if app not in self.spec.apps or self.spec.apps[app].database is None:
                self.error(path, f"no app '{app}' with a database")

    def _sink(
        self, path: DocPath, postgres: str | None, queue: str | None, topic: str | None
    ) -> None:
        if postgres is not None and postgres not in self.spec.datasets:
            self.error((*path, "postgres"), f"no dataset '{postgres}'")
        if queue is not None and not self.queue_exists(queue):
            self.error((*path, "queue"), f"no queue '{queue}'")
        if topic is not None and topic not in self.spec.topics:
            self.error((*path, "topic"), f"no topic '{topic}'")

    def _alerts(self) -> None:
        seen: set[str] = set()
        for i, alert in enumerate(self.spec.alerts):
            if alert.name in seen:
                self.error(("alerts", i, "name"), f"alert '{alert.name}' is declared twice")
            seen.add(alert.name)


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One dependency cycle as ``[a, b, a]``, or ``[]``."""
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


def check(spec: Spec, positions: Positions, root: Path) -> list[SpecIssue]:
    return Checker(spec, positions, root).run()
