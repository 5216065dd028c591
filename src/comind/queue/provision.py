"""Creating the queues and topics a spec declares (at ``comind up``).

Names: queue ``Q`` of app ``A`` is ``A/Q`` (``A/Q.fifo`` when FIFO); its dead-letter
queue is ``A/Q-dlq`` (``.fifo`` likewise) and is created first so the redrive policy
can name it. Creating is idempotent; a queue whose attributes changed in the spec is
updated in place.
"""

from __future__ import annotations

from comind.queue import model
from comind.queue.errors import QueueNameExists
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.queue.topics import PostgresTopics
from comind.spec import Spec
from comind.spec.model import Queue


def queue_name(spec: Spec, ref: str) -> str:
    """The queue layer's name for the spec reference ``app/queue``."""
    app, _, queue = ref.partition("/")
    fifo = spec.apps[app].queues[queue].fifo
    return f"{app}/{queue}.fifo" if fifo else f"{app}/{queue}"


def dlq_name(name: str) -> str:
    return name[:-5] + "-dlq.fifo" if name.endswith(".fifo") else name + "-dlq"


def provision(spec: Spec, admin: PostgresQueueAdmin, topics: PostgresTopics) -> list[str]:
    """Create every declared queue (DLQs first) and topic; return the queue names."""
    created = []
    for app, declared in spec.apps.items():
        for queue, conf in declared.queues.items():
            name = queue_name(spec, f"{app}/{queue}")
            attributes = _attributes(conf)
            if conf.dlq:
                dlq = dlq_name(name)
                _upsert(
                    admin, dlq, {**_fifo(conf), "MessageRetentionPeriod": str(conf.dlq.retention)}
                )
                attributes["RedrivePolicy"] = model.redrive_policy(
                    model.queue_arn(dlq), conf.dlq.max_receives
                )
                created.append(dlq)
            _upsert(admin, name, attributes)
            created.append(name)
    for topic, declared_topic in spec.topics.items():
        topics.create(topic)
        for sub in declared_topic.subscribers:
            topics.subscribe(
                topic, queue_name(spec, sub.queue), filter_policy=sub.filter, raw=sub.raw
            )
    return created


def _fifo(conf: Queue) -> dict[str, str]:
    if not conf.fifo:
        return {}
    return {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "true" if conf.content_based_dedup else "false",
    }


def _attributes(conf: Queue) -> dict[str, str]:
    return {
        **_fifo(conf),
        "VisibilityTimeout": str(conf.visibility_timeout),
        "DelaySeconds": str(conf.delay),
        "MessageRetentionPeriod": str(conf.retention),
        "MaximumMessageSize": str(conf.max_message_size),
    }


def _upsert(admin: PostgresQueueAdmin, name: str, attributes: dict[str, str]) -> None:
    try:
        admin.create(name, attributes)
    except QueueNameExists:
        admin.set_attributes(name, {k: v for k, v in attributes.items() if k != "FifoQueue"})
