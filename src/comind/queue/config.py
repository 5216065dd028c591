"""Which queue backend the platform uses, as typed configuration.

``COMIND_QUEUE_BACKEND`` is ``postgres`` (the default: the platform database, SKIP LOCKED)
or ``sqs`` (any SQS API: AWS SQS, ElasticMQ, a moto server), with ``COMIND_SQS_ENDPOINT``,
``COMIND_SQS_REGION`` and, optionally, ``COMIND_SQS_ACCESS_KEY_ID`` /
``COMIND_SQS_SECRET_ACCESS_KEY`` (else boto3's own credential chain). With ``sqs`` the apps'
queues live on that service, named ``COMIND_SQS_QUEUE_PREFIX`` + ``app_queue``; the apps are
given ``COMIND_SQS_APP_ACCESS_KEY_ID`` / ``COMIND_SQS_APP_SECRET_ACCESS_KEY`` (a key meant for
the apps only), never the platform's. A combination that cannot work is refused in one line
before any backend is opened; the secrets never appear in a message or a repr.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from comind.errors import UsageError

Backend = Literal["postgres", "sqs"]
_SQS_FIELDS = (
    "sqs_endpoint", "sqs_region", "sqs_access_key_id", "sqs_secret_access_key",
    "sqs_queue_prefix", "sqs_app_access_key_id", "sqs_app_secret_access_key",
)  # fmt: skip


class QueueConfigError(UsageError):
    """The queue configuration names a backend, or a combination, that cannot work."""


class QueueSettings(BaseSettings):
    """Where the platform's queues live (embedded in PostgreSQL, or an SQS service)."""

    model_config = SettingsConfigDict(env_prefix="COMIND_", extra="ignore", frozen=True)

    queue_backend: Backend = Field(default="postgres", description="postgres | sqs")
    sqs_endpoint: str | None = Field(default=None, description="SQS URL; none: AWS's own.")
    sqs_region: str | None = Field(default=None, description="SQS region (AWS).")
    sqs_access_key_id: str | None = Field(default=None, description="SQS key id.")
    sqs_secret_access_key: SecretStr | None = Field(default=None, description="SQS secret.")
    sqs_queue_prefix: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{0,40}$", description="Before every queue name."
    )
    sqs_app_access_key_id: str | None = Field(default=None, description="The apps' key id.")
    sqs_app_secret_access_key: SecretStr | None = Field(default=None, description="Its secret.")


def queue_settings(**given: Any) -> QueueSettings:
    """The settings from ``COMIND_*`` (``given`` overrides them), checked: a bad value or
    combination raises :class:`QueueConfigError` in one line."""
    try:
        settings = QueueSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "COMIND_" + str(first["loc"][0]).upper() if first["loc"] else "COMIND_QUEUE_*"
        raise QueueConfigError(f"{name}: {_said(first)}") from None
    check(settings)
    return settings


def check(settings: QueueSettings) -> None:
    """Refuse a combination of settings no backend can work with."""
    sqs_set = [n for n in _SQS_FIELDS if getattr(settings, n) is not None]
    if settings.queue_backend == "postgres" and sqs_set:
        raise QueueConfigError(
            f"COMIND_{sqs_set[0].upper()} is set but COMIND_QUEUE_BACKEND is postgres: "
            "set COMIND_QUEUE_BACKEND=sqs, or unset it"
        )
    if settings.queue_backend != "sqs":
        return
    if settings.sqs_endpoint is None and settings.sqs_region is None:
        raise QueueConfigError(
            "COMIND_QUEUE_BACKEND=sqs needs COMIND_SQS_ENDPOINT or COMIND_SQS_REGION"
        )
    if settings.sqs_endpoint is not None and not _is_url(settings.sqs_endpoint):
        raise QueueConfigError(
            "COMIND_SQS_ENDPOINT: expected an http(s):// URL without a user or password "
            "(the apps are given it)"
        )
    for key, secret in (("sqs_access_key_id", "sqs_secret_access_key"),
                        ("sqs_app_access_key_id", "sqs_app_secret_access_key")):  # fmt: skip
        if (getattr(settings, key) is None) != (getattr(settings, secret) is None):
            raise QueueConfigError(
                f"set both COMIND_{key.upper()} and COMIND_{secret.upper()}, or neither"
            )


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    plain = parts.username is None and parts.password is None
    return parts.scheme in ("http", "https") and bool(parts.hostname) and plain


def _said(error: Any) -> str:
    """Pydantic's message without the input echoed back (it may be a secret)."""
    if error["type"] == "literal_error":
        return "use postgres or sqs"
    if error["type"] == "string_pattern_mismatch":
        return "use at most 40 letters, digits, '-' and '_'"
    return str(error["msg"])
