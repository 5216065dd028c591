"""The apps' queues on an SQS service (``COMIND_QUEUE_BACKEND=sqs``): their names there, the
check that the service answers, and what an app is told to reach them.

A platform queue ``orders/fulfilment`` is ``PREFIX`` + ``orders_fulfilment`` on SQS (spec
names never hold ``_``, so no two platform queues meet on one SQS name). The apps talk to
SQS directly; the platform's own producers (topics, outboxes, flow sinks) write to the
queue of the same name in PostgreSQL, inside their transactions, and the forwarder
(:mod:`comind.queue.forwarder`) moves what they wrote on to SQS.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from comind.errors import ComindError
from comind.queue.config import QueueConfigError, QueueSettings
from comind.queue.errors import QueueError
from comind.queue.sqs import SqsQueueAdmin, SqsQueues, sqs_client

SQS_NAME_LIMIT = 80
OWNER_TAG = "comind-platform"  # on every queue the platform made on SQS: which platform


class SqsUnavailable(ComindError):
    """The configured SQS service does not answer, or refuses the platform's key."""


@dataclass(frozen=True)
class RemoteQueues:
    """The SQS service the apps' queues live on, and the platform's client of it."""

    settings: QueueSettings
    queues: SqsQueues
    admin: SqsQueueAdmin
    owner: str = ""  # the tag value of the queues this platform made (OWNER_TAG)
    known: set[str] = dataclasses.field(default_factory=set, compare=False)  # ours, seen

    @classmethod
    def open(cls, settings: QueueSettings) -> RemoteQueues | None:
        """The service ``settings`` name (None with the ``postgres`` backend), checked to
        answer the platform's key: one line (:class:`SqsUnavailable`) when it does not."""
        if settings.queue_backend != "sqs":
            return None
        queues = SqsQueues(sqs_client(settings))
        remote = cls(settings, queues, SqsQueueAdmin(queues))
        try:
            remote.admin.names(limit=1)
        except QueueError as exc:
            queues.client.close()
            raise SqsUnavailable(f"SQS at {remote.where} does not answer: {exc}") from None
        return remote

    def owned_by(self, key: bytes) -> RemoteQueues:
        """This service, tagging and recognising its queues with an id derived from the
        platform's ``key`` (which replicas share and a recovery brings back)."""
        owner = hashlib.sha256(b"comind sqs owner\0" + key).hexdigest()[:24]
        return dataclasses.replace(self, owner=owner, known=set())

    def ours(self, name: str) -> bool:
        """Whether SQS queue ``name`` was made by this platform (its owner tag; asked once
        per queue found ours, for the provider's every sync and the forwarder alike)."""
        if name in self.known:
            return True
        if not self.owner or self.admin.tags(name).get(OWNER_TAG) != self.owner:
            return False
        self.known.add(name)
        return True

    @property
    def where(self) -> str:
        return self.settings.sqs_endpoint or f"AWS {self.settings.sqs_region}"

    @property
    def prefix(self) -> str:
        return self.settings.sqs_queue_prefix or ""

    def name(self, queue: str) -> str:
        """The SQS name of platform queue ``queue`` (``app/name`` → ``PREFIXapp_name``)."""
        found = self.prefix + queue.replace("/", "_", 1)
        if len(found) > SQS_NAME_LIMIT:
            raise ComindError(
                f"queue {queue}: its SQS name {found} is longer than {SQS_NAME_LIMIT} "
                "characters; use a shorter COMIND_SQS_QUEUE_PREFIX or queue name"
            )
        return found

    def app_env(self, app: str) -> dict[str, str]:
        """How ``app`` reaches its queues on SQS: the endpoint, its names' prefix and, when
        the platform was given one, the apps' own key (never the platform's)."""
        env = {"COMIND_SQS_QUEUE_PREFIX": f"{self.prefix}{app}_"}
        if self.settings.sqs_endpoint:
            env["AWS_ENDPOINT_URL_SQS"] = self.settings.sqs_endpoint
        secret = self.settings.sqs_app_secret_access_key
        if self.settings.sqs_app_access_key_id and secret is not None:
            env["COMIND_SQS_ACCESS_KEY_ID"] = self.settings.sqs_app_access_key_id
            env["COMIND_SQS_SECRET_ACCESS_KEY"] = secret.get_secret_value()
        if self.settings.sqs_region:
            env["COMIND_SQS_REGION"] = self.settings.sqs_region
        return env

    @property
    def choice(self) -> str:
        """What a later start must be given again (kept by the platform; no secret in it)."""
        return f"SQS at {self.where} with queue prefix {self.prefix!r}"

    def close(self) -> None:
        self.queues.client.close()


def check_choice(kept: str | None, remote: RemoteQueues | None) -> None:
    """Refuse a start whose queues are elsewhere than a former start kept them: the apps'
    messages would stay behind. (From PostgreSQL to SQS is a move: the forwarder takes
    what waits in PostgreSQL there.)"""
    given = remote.choice if remote is not None else None
    if kept is not None and given != kept:
        raise QueueConfigError(
            f"this platform keeps its apps' queues on {kept}; start it with the same "
            "COMIND_QUEUE_BACKEND and COMIND_SQS_* settings"
        )
