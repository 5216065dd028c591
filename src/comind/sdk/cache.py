"""Cache-aside over the app's Redis keys, with stampede protection.

``get_or_set`` computes a missing value once however many callers miss at the same moment:
the first takes a short lock (``SET NX PX``) and computes, the others wait for the value to
appear (and compute themselves only if the holder died). Values are JSON, or msgpack
(``values="msgpack"``: smaller and faster for big values, binary, so read with a client that
does not decode responses, as ``AppEnv.redis()``); the TTL is the spec's ``cache.ttl``
(``COMIND_CACHE_TTL``) unless given. Hits, misses, sets and invalidations are counted in
the app's own hash ``<prefix>__comind:cache``, which the platform exports
as ``comind_app_cache_*_total{app}``.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgpack
import redis

from comind.sdk.env import AppEnv
from comind.sdk.keys import stats_key

T = TypeVar("T")
POLL = 0.01


@dataclass(frozen=True)
class Codec:
    """How values are stored: what does not encode natively (dates, decimals) as a string."""

    dumps: Callable[[Any], bytes | str]
    loads: Callable[[Any], Any]


CODECS = {
    "json": Codec(lambda v: json.dumps(v, default=str), json.loads),
    "msgpack": Codec(lambda v: msgpack.packb(v, default=str), msgpack.unpackb),
}


class Cache:
    def __init__(self, client: redis.Redis, prefix: str = "", ttl: float = 300.0,
                 values: Literal["json", "msgpack"] = "json") -> None:  # fmt: skip
        self.client, self.prefix, self.ttl = client, prefix, ttl
        self.codec = CODECS[values]
        self._lookup = client.register_script(LOOKUP)  # one round trip: read and count

    @classmethod
    def of(cls, env: AppEnv, values: Literal["json", "msgpack"] = "json") -> Cache:
        return cls(env.redis(), env.key_prefix, env.cache_ttl, values)

    def get(self, name: str, default: Any = None) -> Any:
        raw = self.read(self.prefix + name)
        return default if raw is None else self.codec.loads(raw)

    def read(self, key: str) -> Any:
        """The raw value at ``key`` (None: a miss), counted as a hit or a miss."""
        return self._lookup(keys=[key, stats_key(self.prefix)])

    def set(self, name: str, value: Any, ttl: float | None = None) -> bytes | str:
        """Cache ``value``; what was stored (decimals and dates are strings in it)."""
        seconds = self.ttl if ttl is None else ttl
        encoded = self.codec.dumps(value)
        self.client.set(self.prefix + name, encoded, px=max(1, int(seconds * 1000)))
        self._count("sets")
        return encoded

    def delete(self, *names: str) -> int:
        """Invalidate ``names``; how many were cached."""
        gone = int(self.client.delete(*(self.prefix + n for n in names))) if names else 0
        self._count("invalidations", gone)
        return gone

    def get_or_set(self, name: str, compute: Callable[[], T], ttl: float | None = None,
                   wait: float = 5.0) -> T:  # fmt: skip
        """The cached value of ``name``, else ``compute()`` cached, computed once for all
        the callers that miss together."""
        key = self.prefix + name
        raw = self.read(key)
        if raw is not None:
            value: T = self.codec.loads(raw)
            return value
        token, guard = secrets.token_hex(8), f"{key}:computing"
        if self.client.set(guard, token, nx=True, px=max(1, int(wait * 1000))):
            try:  # the value as a hit will read it, so a miss and a hit answer alike
                fresh: T = self.codec.loads(self.set(name, compute(), ttl))
                return fresh
            finally:
                _release(self.client, guard, token)
        return self._awaited(key, compute, wait)

    def cached(self, name: Callable[..., str], ttl: float | None = None
               ) -> Callable[[Callable[..., T]], Callable[..., T]]:  # fmt: skip
        """A decorator: the function's result cached under ``name(*args, **kwargs)``."""

        def wrap(function: Callable[..., T]) -> Callable[..., T]:
            @functools.wraps(function)
            def inner(*args: Any, **kwargs: Any) -> T:
                return self.get_or_set(name(*args, **kwargs),
                                       lambda: function(*args, **kwargs), ttl)  # fmt: skip

            return inner

        return wrap

    def _awaited(self, key: str, compute: Callable[[], T], wait: float) -> T:
        """The value another caller is computing; computed here if it never comes."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            raw = self.client.get(key)
            if raw is not None:
                value: T = self.codec.loads(raw)
                return value
            time.sleep(POLL)
        late: T = self.codec.loads(self.codec.dumps(compute()))  # as a hit would read it
        return late

    def _count(self, what: str, n: int = 1) -> None:
        if n:
            self.client.hincrby(stats_key(self.prefix), what, n)


def _release(client: redis.Redis, key: str, token: str) -> None:
    """Delete ``key`` if it still holds ``token`` (a lease that ran out is someone else's)."""
    client.eval(RELEASE, 1, key, token)


LOOKUP = """
local value = redis.call('GET', KEYS[1])
redis.call('HINCRBY', KEYS[2], value and 'hits' or 'misses', 1)
return value
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
