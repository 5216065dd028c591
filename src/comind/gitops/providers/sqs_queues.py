"""Provider ``queue`` with the apps' queues on SQS (``COMIND_QUEUE_BACKEND=sqs``).

An app's queue is made twice: on SQS with the spec's attributes and its dead-letter
redrive (what the app uses), and in PostgreSQL without a redrive, where the platform's
producers write inside their transactions and the forwarder takes from (no one else
receives there, so nothing there should ever be dead-lettered). The flows' own queues stay
in PostgreSQL only: their workers commit a sink and a lease together.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable

from comind.errors import ComindError
from comind.gitops.providers.base import MISSING, Kept, Observed
from comind.gitops.providers.queues import QueueProvider, waiting
from comind.gitops.resources import PLATFORM, Resource
from comind.queue import model
from comind.queue.errors import QueueDoesNotExist, QueueNameExists
from comind.queue.remote import OWNER_TAG, RemoteQueues
from comind.spec import Spec

REDRIVE = "RedrivePolicy"


class SqsQueueProvider:
    def __init__(self, local: QueueProvider, remote: RemoteQueues) -> None:
        self.local, self.remote = local, remote

    def observe(self, res: Resource) -> Observed:
        staged = self.local.observe(_staging(res))
        if res.app == PLATFORM or not staged.exists:
            return staged
        name = self.remote.name(res.spec["queue"])
        self.remote.queues.forget(name)
        try:
            live = self.remote.admin.attributes(name)
        except QueueDoesNotExist:
            return MISSING
        if not self.remote.ours(name):
            drift: tuple[str, ...] = (f"on SQS {name} is not this platform's queue (tag "
                                      f"{OWNER_TAG})",)  # fmt: skip
        else:
            drift = tuple(
                f"on SQS {key} is {live.get(key, '(unset)')}, spec says {want}"
                for key, want in self._attributes(res).items()
                if not _same(key, live.get(key), want)
            )
        held = staged.holds_data or waiting(live) > 0
        return Observed(True, staged.drift + drift, holds_data=held)

    def apply(self, res: Resource) -> None:
        self.local.apply(_staging(res))
        if res.app == PLATFORM:
            return
        name, attributes = self.remote.name(res.spec["queue"]), self._attributes(res)
        self.remote.queues.forget(name)
        if not self._exists(name):  # a create would (on some services) re-tag another's
            with contextlib.suppress(QueueNameExists):  # made meanwhile: checked below
                self.remote.admin.create(name, attributes, tags={OWNER_TAG: self.remote.owner})
        self._refuse_others(name)
        self.remote.admin.set_attributes(
            name, {k: v for k, v in attributes.items() if k != "FifoQueue"}
        )

    def delete(self, res: Resource) -> None:
        self.local.delete(_staging(res))  # Kept when the producers wrote to it meanwhile
        if res.app == PLATFORM:
            return
        name = self.remote.name(res.spec["queue"])
        try:
            live = self.remote.admin.attributes(name)
        except QueueDoesNotExist:
            return
        if not self.remote.ours(name):
            raise Kept(f"kept: {name} on SQS is not this platform's queue (tag {OWNER_TAG})")
        if waiting(live) and res.spec.get("deletion_policy") != "delete":
            raise Kept("kept: its queue on SQS holds messages")
        with contextlib.suppress(QueueDoesNotExist):
            self.remote.admin.delete(name)
        self.remote.known.discard(name)  # a queue made under the name later is asked again

    def _exists(self, name: str) -> bool:
        try:
            self.remote.queues.url(name)
        except QueueDoesNotExist:
            return False
        return True

    def _refuse_others(self, name: str) -> None:
        """Never change a queue another platform (or anyone) made under the same name: two
        platforms' prefixes may meet (``shop-`` + app ``eu-orders``, ``shop-eu-`` + app
        ``orders``), or no prefix reaches every ``x_y`` queue of the account."""
        if not self.remote.ours(name):
            raise ComindError(
                f"{name} on SQS was not made by this platform (tag {OWNER_TAG}): choose a "
                "COMIND_SQS_QUEUE_PREFIX no other platform or queue uses"
            )

    def _attributes(self, res: Resource) -> dict[str, str]:
        """The spec's attributes as SQS takes them: the redrive names the DLQ's SQS ARN."""
        attributes = dict(res.spec.get("attributes", {}))
        if REDRIVE in attributes:
            target, count = model.parse_redrive_policy(attributes[REDRIVE])
            arn = self.remote.admin.attributes(self.remote.name(target))["QueueArn"]
            attributes[REDRIVE] = model.redrive_policy(arn, count)
        return attributes


def unreadable_by_flows(spec: Spec) -> list[str]:
    """Flows that would read an app's queue, which lives on SQS: a flow reads its queue in
    PostgreSQL, where the forwarder takes every message away to SQS (and what the apps send
    to SQS never comes back), so such a spec is refused rather than half run."""
    return [f"flow {name} reads queue {flow.source_ref.target}, which lives on SQS "
            "(COMIND_QUEUE_BACKEND=sqs); flows read the apps' queues in PostgreSQL only: "
            "publish to a topic the flow reads instead"
            for name, flow in sorted(spec.flows.items())
            if flow.source_ref.scheme == "queue"]  # fmt: skip


def forwarded(resources: Iterable[Resource]) -> dict[str, str | None]:
    """The apps' queues the forwarder moves on to SQS, each with its dead-letter queue in
    PostgreSQL (not forwarded: only a message SQS keeps refusing is put there)."""
    out: dict[str, str | None] = {}
    for res in resources:
        if res.kind == "queue" and res.app != PLATFORM:
            policy = res.spec.get("attributes", {}).get(REDRIVE)
            out[res.spec["queue"]] = model.parse_redrive_policy(policy)[0] if policy else None
    for dead_letters in {d for d in out.values() if d is not None}:
        out.pop(dead_letters, None)
    return out


def _staging(res: Resource) -> Resource:
    """``res`` as the queue in PostgreSQL: an app's without its redrive."""
    attributes = res.spec.get("attributes")
    if res.app == PLATFORM or not attributes or REDRIVE not in attributes:
        return res
    kept = {k: v for k, v in attributes.items() if k != REDRIVE}
    return dataclasses.replace(res, spec={**res.spec, "attributes": kept})


def _same(key: str, live: str | None, want: str) -> bool:
    if key != REDRIVE or live is None:
        return live == want
    return model.parse_redrive_policy(live) == model.parse_redrive_policy(want)
