"""A subscription's filter matches message attributes; a filter on an attribute no
publisher of the topic ever sets never matches, and its subscriber would silently get
nothing. An app publishes through its outbox with attributes of its choosing, so a topic an
app publishes to is taken at its word; a topic only flows feed carries exactly the
attributes their sinks declare (``attributes:``), so a filter on any other is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from comind.spec.model import Spec
from comind.spec.positions import DocPath


def unmatched_filters(spec: Spec) -> Iterator[tuple[DocPath, str]]:
    """(where, why) for each filter key of a subscription no publisher of its topic sets."""
    for name, topic in spec.topics.items():
        if any(name in app.publishes for app in spec.apps.values()):
            continue
        feeds = dict(_flows_feeding(spec, name))
        if not feeds:
            continue  # nothing publishes yet: nothing to hold the filter to
        sent = set().union(*feeds.values())
        for i, sub in enumerate(topic.subscribers):
            for key, conditions in (sub.filter or {}).items():
                if key not in sent and not _matches_absent(conditions):
                    flows = ", ".join(sorted(feeds))
                    yield (("topics", name, "subscribers", i, "filter", key),
                           f"never matches: topic '{name}' is fed by flow(s) {flows}, whose "
                           f"sinks send no attribute '{key}' (add it to a sink's attributes: "
                           "list)")  # fmt: skip


def _flows_feeding(spec: Spec, topic: str) -> Iterator[tuple[str, set[str]]]:
    for name, flow in spec.flows.items():
        sinks = [*([flow.sink] if flow.sink is not None else []), *flow.sinks.values()]
        fed = [s for s in sinks if s.topic == topic]
        if fed:
            yield name, {a for s in fed for a in s.attributes}


def _matches_absent(conditions: Any) -> bool:
    """An ``{"exists": false}`` condition matches a message without the attribute."""
    listed = conditions if isinstance(conditions, list) else [conditions]
    return any(isinstance(c, dict) and c.get("exists") is False for c in listed)
