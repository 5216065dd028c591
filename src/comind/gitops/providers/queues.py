"""Providers ``queue``, ``topic`` and ``subscription``, through the queue layer."""

from __future__ import annotations

import contextlib

from comind.gitops.providers.base import MISSING, Kept, Observed
from comind.gitops.resources import Resource
from comind.queue.errors import QueueDoesNotExist, QueueNameExists, ResourceNotFound
from comind.queue.layer import MessageLayer


class QueueProvider:
    def __init__(self, layer: MessageLayer) -> None:
        self.layer = layer

    def observe(self, res: Resource) -> Observed:
        name = res.spec["queue"]
        self.layer.queues.forget(name)
        try:
            live = self.layer.admin.attributes(name)
        except QueueDoesNotExist:
            return MISSING
        drift = tuple(
            f"{key} is {live.get(key, '(unset)')}, spec says {want}"
            for key, want in res.spec["attributes"].items()
            if live.get(key) != want
        )
        return Observed(True, drift, holds_data=waiting(live) > 0)

    def apply(self, res: Resource) -> None:
        name, attributes = res.spec["queue"], res.spec["attributes"]
        try:
            self.layer.admin.create(name, attributes)
        except QueueNameExists:
            changed = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            self.layer.admin.set_attributes(name, changed)

    def delete(self, res: Resource) -> None:
        name = res.spec["queue"]
        if res.spec.get("deletion_policy") == "delete":
            with contextlib.suppress(QueueDoesNotExist):
                self.layer.admin.delete(name)
        elif not self.layer.admin.delete_if_empty(name) and self._exists(name):
            raise Kept("kept: messages arrived before it could be deleted")

    def _exists(self, name: str) -> bool:
        try:
            self.layer.queues.queue(name)
        except QueueDoesNotExist:
            return False
        return True


def waiting(attributes: dict[str, str]) -> int:
    """How many messages a queue holds (visible, in flight, delayed) by its attributes."""
    return sum(int(v) for k, v in attributes.items() if k.startswith("ApproximateNumberOfMessages"))


class TopicProvider:
    def __init__(self, layer: MessageLayer) -> None:
        self.layer = layer

    def observe(self, res: Resource) -> Observed:
        return Observed(True) if res.name in self.layer.topics.names() else MISSING

    def apply(self, res: Resource) -> None:
        self.layer.topics.create(res.name)

    def delete(self, res: Resource) -> None:
        with contextlib.suppress(ResourceNotFound):
            self.layer.topics.delete(res.name)


class SubscriptionProvider:
    def __init__(self, layer: MessageLayer) -> None:
        self.layer = layer

    def observe(self, res: Resource) -> Observed:
        spec = res.spec
        try:
            subs = self.layer.topics.subscriptions(spec["topic"])
        except ResourceNotFound:
            return MISSING
        live = next((s for s in subs if s.queue == spec["queue"]), None)
        if live is None:
            return MISSING
        drift = []
        if live.filter_policy != spec["filter"]:
            drift.append("filter policy differs from the spec")
        if live.raw != spec["raw"]:
            drift.append(f"raw delivery is {live.raw}, spec says {spec['raw']}")
        return Observed(True, tuple(drift))

    def apply(self, res: Resource) -> None:
        spec = res.spec
        self.layer.topics.subscribe(
            spec["topic"], spec["queue"], filter_policy=spec["filter"], raw=spec["raw"]
        )

    def delete(self, res: Resource) -> None:
        self.layer.topics.unsubscribe(res.spec["topic"], res.spec["queue"])
