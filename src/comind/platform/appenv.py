"""What an app is given by the running platform, in one place: its service variables at the
applied revision (``DATABASE_URL``, ``REDIS_URL``, bucket, secrets — from the control plane),
its own access key for the SQS and S3 endpoints, and the CA bundle its SDKs trust.

The app runtime starts apps with it and ``GET /api/v1/apps/{app}/env`` answers it, so
``comind app env`` shows exactly what a supervised app gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from comind.api.errors import Problem
from comind.apps.credentials import Credentials
from comind.gitops.plane import ControlPlane, aws_env
from comind.gitops.records import SecretStore
from comind.gitops.resources import PLATFORM
from comind.queue.remote import RemoteQueues
from comind.spec import Spec


@dataclass(frozen=True)
class AppEnvironments:
    """Apps' environments over one pool's stores (the API's waits briefly for a connection)."""

    credentials: Credentials
    secrets: SecretStore
    plane: Callable[[], ControlPlane | None]
    spec: Spec | None
    sqs_url: str
    s3_url: str | None
    ca_env: Callable[[], dict[str, str]]
    remote: RemoteQueues | None = None  # the apps' queues on an SQS service

    def endpoints(self, app: str) -> dict[str, str]:
        """The platform's SQS and S3 endpoints with ``app``'s own key (issued on first use,
        reaching only what ``app`` may: a flow's workers get this), and the CA bundle."""
        return {**aws_env(self.sqs_url, self.s3_url, self.credentials.ensure(app)),
                **self.ca_env()}  # fmt: skip

    def base(self, app: str) -> dict[str, str]:
        """The endpoints and the app's own key; with the apps' queues on SQS, how it
        reaches them there instead (an app's only: the key is the apps')."""
        env = self.endpoints(app)
        if self.remote is not None:
            del env["AWS_ENDPOINT_URL_SQS"]
            env |= self.remote.app_env(app)
        return env

    def full(self, app: str) -> dict[str, str]:
        """Everything ``app`` is given, secrets included; 404 for an app the platform does
        not know."""
        self.check(app)
        plane = self.plane()
        services = plane.app_env(app, self.secrets) if plane else {}
        return {**services, **self.base(app)}

    def rotate(self, app: str) -> str:
        """Issue ``app`` a new key (the old one stops working); the new key's id."""
        self.check(app)
        return self.credentials.rotate(app).access_key_id

    def known(self) -> list[str]:
        """The apps of the applied revision's spec and resources (else of the started spec)."""
        plane = self.plane()
        current = plane.service.current if plane else None
        spec = current.spec if current else self.spec
        applied = {r.app for r in current.resources} if current else set()
        return sorted((set(spec.apps if spec else ()) | applied) - {PLATFORM})

    def check(self, app: str) -> None:
        known = self.known()
        if app not in known:
            listed = f" (apps: {', '.join(known)})" if known else ""
            raise Problem(f"no app '{app}' in the running platform{listed}", 404)
