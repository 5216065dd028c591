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

# nothing administrative or server-wide (CONFIG, DEBUG, SHUTDOWN, ACL, MODULE, REPLICAOF,
# MONITOR, CLIENT KILL, FLUSHALL/FLUSHDB: @admin and @dangerous), and of the scripting
# commands only running scripts: SCRIPT FLUSH/KILL and FUNCTION act on every app's scripts.
# Redis checks a script's commands against the user's rules too, so EVAL stays in its keys.
CATEGORIES = ("+@all", "-@admin", "-@dangerous", "-@scripting")
SCRIPTS = ("+eval", "+evalsha", "+script|load", "+script|exists")  # Redis 6.2 and 7 alike
# these would list other apps' key and channel names
COMMANDS = (*SCRIPTS, "-keys", "-scan", "-randomkey", "-pubsub")


REFERENCE = "comind-acl-reference"  # disabled: only holds the rules, as the server reads them


@dataclass(frozen=True)
class AclUser:
    enabled: bool
    password_sha256: tuple[str, ...]
    keys: str
    channels: str
    rules: frozenset[str] = frozenset()  # commands and categories, as the server lists them


def pattern(app: str) -> str:
    return f"{app}:*"


class RedisAcl:
    """ACL administration over one admin connection pool."""

    def __init__(self, admin: RedisTarget) -> None:
        self.conn = client(admin)
        self._rules: frozenset[str] | None = None

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
            rules=_rules(info),
        )

    def expected_rules(self) -> frozenset[str]:
        """The rules of an app user as this server lists them (they differ between Redis
        versions), read back from a disabled reference user made once."""
        if self._rules is None:
            self.conn.acl_setuser(REFERENCE, enabled=False, reset=True,
                                  categories=list(CATEGORIES), commands=list(COMMANDS))  # fmt: skip
            self._rules = _rules(self.conn.acl_getuser(REFERENCE) or {})
        return self._rules

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


def _rules(info: dict[str, Any]) -> frozenset[str]:
    return frozenset(_strings(info.get("commands", ""))) | frozenset(
        _strings(info.get("categories", ""))
    )


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
