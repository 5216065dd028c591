"""The queue factory on the embedded PostgreSQL: a new layer, or the platform's own."""

from __future__ import annotations

from comind.queue.config import queue_settings
from comind.queue.factory import open_queue_backend
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.stores.postgres import PgTarget


def test_the_postgres_backend_shares_the_platform_layer(pg: PgTarget) -> None:
    layer = MessageLayer.open(pg, max_connections=2)
    try:
        with open_queue_backend(queue_settings(), layer=layer) as backend:
            assert backend.queues is layer.queues
            backend.admin.create("shared")
            backend.queues.send("shared", [OutgoingMessage(body="one")])
        [got] = layer.queues.receive("shared")  # closing the backend left the pool open
        assert got.body == "one"
    finally:
        layer.close()


def test_the_postgres_backend_opens_its_own_layer(pg: PgTarget) -> None:
    with open_queue_backend(queue_settings(), postgres=pg, max_connections=2) as backend:
        assert backend.kind == "postgres"
        backend.admin.create("own")
        assert backend.admin.names() == ["own"]
