"""Redis ACL users for apps: each app gets a user limited to its own key prefix.

The user may run ordinary commands on keys matching ``APP:*`` (and pub/sub channels of the
same prefix) and nothing administrative; ``ensure_user`` resets the user each time, so a
user changed behind the platform's back converges back to exactly this.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

import redis

from comind.stores.redis import RedisTarget, client

CATEGORIES = ("+@all", "-@admin", "-@dangerous")
# these would list other apps' key and channel names
COMMANDS = ("-keys", "-scan", "-randomkey", "-pubsub")


@dataclass(frozen=True)
class AclUser:
    enabled: bool
    password_sha256: tuple[str, ...]
    keys: str
    channels: str


def pattern(app: str) -> str:
    return f"{app}:*"


class RedisAcl:
    """ACL administration over one admin connection pool."""

    def __init__(self, admin: RedisTarget) -> None:
        self.conn = client(admin)

    def close(self) -> None:
        self.conn.close()

    def observe_user(self, user: str) -> AclUser | None:
        info: dict[str, Any] = self.conn.acl_getuser(user) or {}
        if not info:
            return None
        return AclUser(
            enabled="on" in info.get("flags", []),
            password_sha256=tuple(_strings(info.get("passwords", []))),
            keys=" ".join(_strings(info.get("keys", ""))),
            channels=" ".join(_strings(info.get("channels", ""))),
        )

    def ensure_user(self, user: str, app: str, password: str) -> None:
        self.conn.acl_setuser(
            user, enabled=True, reset=True, reset_channels=True, passwords=[f"+{password}"],
            keys=[pattern(app)], channels=[pattern(app)], categories=list(CATEGORIES),
            commands=list(COMMANDS),
        )  # fmt: skip
        self._save()

    def delete_user(self, user: str) -> None:
        self.conn.acl_deluser(user)
        self._save()

    def _save(self) -> None:
        """Persist ACLs when the server has an ACL file; without one, users live until a
        restart and the next reconcile recreates them."""
        with contextlib.suppress(redis.ResponseError):
            self.conn.acl_save()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def matches(user: AclUser, app: str, password: str) -> bool:
    """The user is exactly what ``ensure_user`` makes it."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return (
        user.enabled
        and user.password_sha256 == (digest,)
        and user.keys.lstrip("~") == pattern(app)
        and user.channels.lstrip("&") == pattern(app)
    )
