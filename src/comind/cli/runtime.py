"""What ``comind up`` runs in one process: the engines, the platform database and the API.

This is the composition root: each layer below knows nothing of the others' wiring.
"""

from __future__ import annotations

from typing import Any

from comind.api.app import create_app
from comind.api.server import ApiServer
from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.ports import free_port
from comind.embedded.settings import Settings
from comind.stores.platform_db import EventLog, prepare
from comind.stores.postgres import PgTarget, superuser


class Runtime:
    """The running platform of one state directory."""

    def __init__(self, settings: Settings, *, about: dict[str, Any]) -> None:
        self.events = EventLog()
        self.platform = EmbeddedPlatform(settings, on_event=self.events.record)
        self.about = about
        self.db: PgTarget | None = None
        port = settings.api_port or free_port(settings.host)
        self.server = ApiServer(create_app(self.platform), host=settings.host, port=port)

    def start(self) -> None:
        """Start everything; on failure stop what started and re-raise."""
        self.platform.start()
        try:
            self.db = prepare(superuser(self.platform.postgres))
            self.events.attach(self.db)
            self.server.start()
        except BaseException:
            self.platform.stop()
            raise
        url = self.server.url
        self.platform.extra.update(self.about, api_url=url, metrics_url=f"{url}/metrics")
        self.platform.write_state()

    def stop(self) -> None:
        self.server.stop()
        self.platform.stop()
