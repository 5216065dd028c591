"""Locks over Redis with fencing tokens.

A lock is a lease (``SET NX PX``): a holder that stalls past it loses the lock without
knowing. So each acquisition also takes a fencing token, a number that only grows
(``INCR``); whatever the lock protects checks the token with a :class:`Fence`, which takes
a token only if no newer one was seen. A stale holder's write is refused there, even after
its lease ran out and another holder went ahead.
"""

from __future__ import annotations

import secrets
import time
from types import TracebackType

import redis

from comind.sdk.cache import RELEASE

POLL = 0.02


class LockTimeout(TimeoutError):
    """The lock stayed held by another for the whole wait."""


class Lock:
    def __init__(self, client: redis.Redis, name: str, *, lease: float = 10.0,
                 wait: float = 10.0) -> None:  # fmt: skip
        self.client, self.name, self.lease, self.wait = client, name, lease, wait
        self._held: str | None = None
        self.token = 0

    def acquire(self) -> int:
        """Hold the lock; its fencing token."""
        mine, deadline = secrets.token_hex(8), time.monotonic() + self.wait
        while not self.client.set(f"{self.name}:lock", mine, nx=True,
                                  px=max(1, int(self.lease * 1000))):  # fmt: skip
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock {self.name} held by another for {self.wait} s")
            time.sleep(POLL)
        self._held, self.token = mine, int(self.client.incr(f"{self.name}:fence"))
        return self.token

    def release(self) -> None:
        if self._held is not None:
            self.client.eval(RELEASE, 1, f"{self.name}:lock", self._held)
            self._held = None

    def __enter__(self) -> int:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.release()


class Fence:
    """The guard of a protected resource: ``admit(token)`` is True only for a token at least
    as new as every token admitted before."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client, self.key = client, f"{name}:fenced"

    def admit(self, token: int) -> bool:
        return bool(self.client.eval(ADMIT, 1, self.key, token))


ADMIT = """
local newest = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < newest then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
