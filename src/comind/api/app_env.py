"""An app's environment and key through the API (admin tokens only):

- ``GET  /api/v1/apps/{app}/env``: every variable the app is given, secrets included,
  audited as ``read-secrets``;
- ``POST /api/v1/apps/{app}/rotate-key``: issue the app a new access key; the old one stops
  working (the answer names the new key's id, never its secret).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from comind.api.guard import Answer, Call, Guard

ADMIN = "admin"


class AppEnvApi:
    def __init__(
        self, env_of: Callable[[str], dict[str, str]], rotate: Callable[[str], str], guard: Guard
    ) -> None:
        self.env_of, self.rotate_of, self.guard = env_of, rotate, guard

    def routes(self) -> list[Route]:
        g = self.guard.route
        return [
            g("/api/v1/apps/{app}/env", self.env, role=ADMIN, action="read-secrets"),
            g(
                "/api/v1/apps/{app}/rotate-key",
                self.rotate,
                method="POST",
                role=ADMIN,
                action="rotate-key",
            ),
        ]

    def env(self, call: Call) -> dict[str, Any]:
        app = call.params["app"]
        return {"app": app, "env": self.env_of(app)}

    def rotate(self, call: Call) -> Answer:
        app = call.params["app"]
        key_id = self.rotate_of(app)
        return Answer({"app": app, "access_key_id": key_id}, detail={"access_key_id": key_id})
