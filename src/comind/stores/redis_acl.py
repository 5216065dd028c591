"""Redis ACL users: each app gets a user limited to its own key prefix, each flow's workers
one limited to the keys the flow writes.

An app's user (``app_grant``) may run ordinary commands on keys matching ``APP:*`` (and
pub/sub channels of the same prefix) and nothing administrative. A flow's user
(``flow_grant``) may run only the few commands the flow engine sends (its redis sink and
its enrich cache), on the key patterns the spec gives it, and no channel. ``ensure_user``
resets the user each time, so a user changed behind the platform's back converges back to
exactly its grant.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
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
# these would list other apps' key and channel names; SELECT would reach other databases'
# keyspaces, where the platform keeps nothing for apps
COMMANDS = (*SCRIPTS, "-keys", "-scan", "-randomkey", "-pubsub", "-select")
# what flows/redissink.py (DEL, HSET, EXPIRE) and flows/rediscache.py (MGET, SET) send
FLOW_COMMANDS = ("+del", "+hset", "+expire", "+mget", "+set", "+ping")

REFERENCE = "comind-acl-reference"  # disabled: only holds the rules, as the server reads them


@dataclass(frozen=True)
class AclGrant:
    """What one user may do: key and channel patterns, categories and commands; its rules
    as the server lists them are read back from the disabled user ``reference``."""

    keys: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...]
    commands: tuple[str, ...]
    reference: str


def app_grant(app: str) -> AclGrant:
    own = (pattern(app),)
    return AclGrant(own, own, CATEGORIES, COMMANDS, REFERENCE)


def flow_grant(keys: tuple[str, ...]) -> AclGrant:
    return AclGrant(keys, (), ("-@all",), FLOW_COMMANDS, f"{REFERENCE}-flow")


@dataclass(frozen=True)
class AclUser:
    enabled: bool
    password_sha256: tuple[str, ...]
    keys: str
    channels: str
    rules: frozenset[str] = frozenset()  # commands and categories, as the server lists them


def pattern(app: str) -> str:
    return f"{app}:*"


def literal(text: str) -> str:
    """``text`` as a key pattern matching only itself (glob characters escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisAcl:
    """ACL administration over one admin connection pool."""

    def __init__(self, admin: RedisTarget) -> None:
        self.admin, self.conn = admin, client(admin)
        self._rules: dict[str, frozenset[str]] = {}

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

    def expected_rules(self, grant: AclGrant) -> frozenset[str]:
        """The rules of ``grant`` as this server lists them (they differ between Redis
        versions), read back from a disabled reference user made once per kind of grant."""
        if grant.reference not in self._rules:
            self.conn.acl_setuser(grant.reference, enabled=False, reset=True,
                                  categories=list(grant.categories),
                                  commands=list(grant.commands))  # fmt: skip
            self._rules[grant.reference] = _rules(self.conn.acl_getuser(grant.reference) or {})
        return self._rules[grant.reference]

    def ensure_user(self, user: str, password: str, grant: AclGrant) -> None:
        self.conn.acl_setuser(
            user, enabled=True, reset=True, reset_keys=True, reset_channels=True,
            passwords=[f"+{password}"], keys=list(grant.keys), channels=list(grant.channels),
            categories=list(grant.categories), commands=list(grant.commands),
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


def matches(user: AclUser, grant: AclGrant, password: str) -> bool:
    """The user has exactly the password, keys and channels ``ensure_user`` gives it (its
    commands: compare ``user.rules`` with ``RedisAcl.expected_rules``)."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return (
        user.enabled
        and user.password_sha256 == (digest,)
        and {k.removeprefix("~") for k in user.keys.split()} == set(grant.keys)
        and {c.removeprefix("&") for c in user.channels.split()} == set(grant.channels)
    )
