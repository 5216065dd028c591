"""Names the platform derives from the spec: queues, roles and the flows' own queues."""

from __future__ import annotations

import hashlib

FLOW_NAMESPACE = "_flows"  # the "app" part of the queues a flow owns
BACKUP_BUCKET = "comind-backups"  # the platform's backup store and WAL archive
PLATFORM_PREFIX = "comind-"  # bucket names the platform keeps for itself


def queue_name(app: str, queue: str, fifo: bool) -> str:
    return f"{app}/{queue}.fifo" if fifo else f"{app}/{queue}"


def dead_letter_name(name: str) -> str:
    return name[:-5] + "-dlq.fifo" if name.endswith(".fifo") else name + "-dlq"


def flow_input_queue(flow: str) -> str:
    """Where a flow's topic subscription or HTTP ingest delivers."""
    return f"{FLOW_NAMESPACE}/{flow}"


def flow_dead_letter_queue(flow: str) -> str:
    return dead_letter_name(flow_input_queue(flow))


def role_name(app: str) -> str:
    """The PostgreSQL role (and Redis user) of ``app``: at most 63 bytes, PostgreSQL's limit
    (a long app name is shortened and made unique by a digest)."""
    name = f"app_{app.replace('-', '_')}"
    if len(name) <= 63:
        return name
    return f"{name[:54]}_{hashlib.sha256(app.encode()).hexdigest()[:8]}"
