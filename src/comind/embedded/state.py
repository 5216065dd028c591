"""state.json as a typed document: what the running platform reports of itself.

The embedded platform writes it from the first engine start on; the layers above add the
addresses clients use once the API serves, and the API's TLS when it has some. A field is
in the JSON exactly when the platform set it (``env: null`` says "the default
environment"), so a state written before the API is up has no addresses at all, and a
document read back dumps to the same JSON. ``extra="forbid"``: a misspelt key is refused
rather than silently carried along.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from comind.errors import ComindError


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngineStatus(_Closed):
    """One engine as the supervisor last saw it."""

    state: str = Field(description="healthy, starting, restarting, failed, stopped")
    pid: int | None
    address: str
    version: str
    restarts: int
    uptime_seconds: float
    last_error: str | None
    tls_ca: str | None = Field(
        default=None,
        description="the engine takes TLS only, "
        "verified against this CA certificate (absent: plain TCP)",
    )

    def stopped(self) -> EngineStatus:
        """This engine as a stopped platform shows it."""
        return self.model_copy(update={"state": "stopped", "pid": None, "uptime_seconds": 0})


class About(_Closed):
    """What the platform was started with and where clients reach it (set once the API
    serves)."""

    platform: str | None = None
    repo: str | None = None
    env: str | None = None
    api_url: str
    metrics_url: str
    sqs_url: str
    s3_url: str
    apps: list[str]
    api_listen: str | None = None  # with TLS only, as the three below
    tls_cert: str | None = None
    tls_self_signed: bool | None = None
    app_users: bool | None = Field(
        default=None, description="each app runs as an OS user of its own (false: as the "
        "platform's user, which is not root); absent without apps")  # fmt: skip


class PlatformState(_Closed):
    """The document behind state.json, ``comind status --json`` and ``/api/v1/status``."""

    running: bool
    version: str
    pid: int
    home: str
    started_at: float = Field(description="Unix time the engines started")
    engines: dict[str, EngineStatus]
    platform: str | None = None
    repo: str | None = None
    env: str | None = None
    api_url: str | None = None
    metrics_url: str | None = None
    sqs_url: str | None = None
    s3_url: str | None = None
    apps: list[str] | None = None
    api_listen: str | None = None
    tls_cert: str | None = None
    tls_self_signed: bool | None = None
    app_users: bool | None = None

    @classmethod
    def parse(cls, data: Any, *, origin: str) -> PlatformState:
        """``data`` (decoded JSON) as a state; anything else is one line naming ``origin``."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the document"
            raise ComindError(f"{origin} is malformed: {where}: {first['msg']}") from None

    @classmethod
    def of(cls, *, about: About | None, **fields: Any) -> PlatformState:
        """The state from the engines' ``fields`` and, once the API serves, ``about``
        (only what it set, so absent TLS stays absent)."""
        extra = about.model_dump(exclude_unset=True) if about is not None else {}
        return cls(**fields, **extra)

    def dump(self) -> dict[str, Any]:
        """The JSON document: every field set, nothing else."""
        return self.model_dump(mode="json", exclude_unset=True)

    def with_updates(self, **changes: Any) -> PlatformState:
        """A copy with ``changes`` (validated: a wrong key or type is refused)."""
        return PlatformState.model_validate({**self.dump(), **changes})

    def stopped(self, home: Path) -> PlatformState:
        """This last state as a stopped platform of ``home`` shows it."""
        engines = {name: engine.stopped() for name, engine in self.engines.items()}
        return self.with_updates(running=False, home=str(home), engines=engines)

    def healthy(self) -> bool:
        """The API serves and every engine is healthy."""
        return bool(self.api_url) and all(e.state == "healthy" for e in self.engines.values())

    def address(self, engine: str) -> tuple[str, int]:
        """Host and port of ``engine``; a one-line error when the platform has no such one."""
        found = self.engines.get(engine)
        if found is None:
            raise ComindError(f"the platform reports no {engine} engine")
        host, _, port = found.address.rpartition(":")
        return host, int(port)

    def engine_ca(self, engine: str) -> Path | None:
        """The CA certificate ``engine`` is verified against when it takes TLS only."""
        found = self.engines.get(engine)
        return Path(found.tls_ca) if found is not None and found.tls_ca else None
