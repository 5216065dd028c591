"""Redis persistence as backups use it: a ``BGSAVE`` of our own (after any save already
running) and where its RDB file is; whether a server finished loading; turning a loaded
snapshot into an append-only file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from comind.errors import ComindError
from comind.stores.redis import RedisTarget, client

SAVE_TIMEOUT = 600.0


class RedisPersistenceError(ComindError):
    """A save or rewrite that failed or did not finish."""


class Persistence:
    def __init__(self, target: RedisTarget, *, timeout: float = 30.0) -> None:
        self.conn = client(target, timeout=timeout)

    def snapshot(self) -> Path:
        """Run a BGSAVE and wait for it; returns the RDB file it wrote."""
        self._wait(lambda s: not s.get("rdb_bgsave_in_progress"), "a running BGSAVE")
        before = int(self.conn.lastsave().timestamp())
        while int(time.time()) <= before:  # LASTSAVE counts seconds: ours must be later
            time.sleep(0.05)
        self.conn.bgsave()
        self._wait(lambda s: not s.get("rdb_bgsave_in_progress"), "the BGSAVE")
        state = self._state()
        if state.get("rdb_last_bgsave_status") != "ok":
            raise RedisPersistenceError("Redis BGSAVE failed (see the Redis log)")
        if int(self.conn.lastsave().timestamp()) <= before:
            raise RedisPersistenceError("Redis did not record the BGSAVE")
        directory = self.conn.config_get("dir")["dir"]
        rdb = Path(str(directory)) / str(self.conn.config_get("dbfilename")["dbfilename"])
        if not rdb.is_file():
            raise RedisPersistenceError(f"Redis saved its snapshot to {rdb}, which this machine "
                                        "cannot read (a Redis on another host: back it up with "
                                        "its own tools)")  # fmt: skip
        return rdb

    def facts(self) -> dict[str, Any]:
        """The key count, and whether it is the last snapshot's (no write since it began:
        Redis counts the changes made while a BGSAVE ran as changes since the save)."""
        before = self._state().get("rdb_changes_since_last_save")
        keys = int(self.conn.dbsize())
        unchanged = before == 0 and self._state().get("rdb_changes_since_last_save") == 0
        return {"keys": keys, "unchanged": unchanged,
                "redis_version": self.conn.info("server")["redis_version"]}  # fmt: skip

    def loaded(self) -> bool:
        return not self._state().get("loading")

    def write_aof(self) -> int:
        """Make the server write its data as an append-only file; returns the key count."""
        self.conn.config_set("appendonly", "yes")
        self._wait(_rewritten, "the AOF rewrite")
        if self._state().get("aof_last_bgrewrite_status") != "ok":
            raise RedisPersistenceError("Redis failed to write its append-only file")
        return int(self.conn.dbsize())

    def _state(self) -> dict[str, Any]:  # INFO persistence
        return dict(self.conn.info("persistence"))

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + SAVE_TIMEOUT
        while not done(self._state()):
            if time.monotonic() > deadline:
                raise RedisPersistenceError(f"{what} did not finish within {SAVE_TIMEOUT:.0f} s")
            time.sleep(0.1)


def _rewritten(state: dict[str, Any]) -> bool:
    return not (state.get("aof_rewrite_in_progress") or state.get("aof_rewrite_scheduled"))
