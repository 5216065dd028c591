"""Switching the running platform to a point in time from the CLI: refused without a yes
(nothing changes), then done after one: the mistake is gone, the platform serves, new
backups work on the new timeline, and the old data waits for --discard-old. Then one app's
database alone is replaced by its state before a second mistake, the live one kept aside;
and Redis is restored from a snapshot, beside the platform and then in place."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from tests.waiting import moment_between, wait_until

pytestmark = pytest.mark.slow
Run = Callable[..., Any]
SPEC = (
    "platform: {name: vault}\napps:\n  ledger:\n    run: sleep 3600\n    database: {name: ledger}\n"
)
ARCHIVING = {"COMIND_WAL_ARCHIVE": "true"}


def test_the_platform_switches_to_a_moment_before_a_mistake(
    comind: Run, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    comind("up", "--repo", str(tmp_path), "--detach", "--api-port", "0", timeout=300,
           check=True, extra_env=ARCHIVING)  # fmt: skip
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    password = (home / "secrets" / "postgres-password").read_text().strip()
    dsn = f"host={host} port={port} user=postgres password={password} dbname=ledger"

    def rows() -> list[Any]:
        with psycopg.connect(dsn) as conn:
            return conn.execute("SELECT count(*), max(note) FROM entries").fetchall()

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE entries (n int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO entries SELECT i, 'good' FROM generate_series(1, 100) i")
    comind("backup", "run", "--json", check=True, extra_env=ARCHIVING)
    moment = moment_between().isoformat()
    with psycopg.connect(dsn, autocommit=True) as conn:  # the mistake
        conn.execute("DELETE FROM entries WHERE n > 10")
        conn.execute("INSERT INTO entries VALUES (1000, 'zz after')")

    unanswered = comind("restore", "--to-time", moment, timeout=300, extra_env=ARCHIVING)
    assert unanswered.returncode == 1 and rows() == [(11, "zz after")]  # nothing changed
    assert not list((home / "postgres").glob("data.old-*"))

    done = json.loads(comind("restore", "--to-time", moment, "--yes", "--json", timeout=300,
                             check=True, extra_env=ARCHIVING).stdout)  # fmt: skip
    assert Path(done["old_data_dir"]).is_dir()
    assert rows() == [(100, "good")]
    status = json.loads(comind("status", "--json", check=True).stdout)
    assert status["engines"]["postgres"]["state"] == "healthy"
    after = json.loads(comind("backup", "run", "--json", check=True, extra_env=ARCHIVING).stdout)
    listed = json.loads(comind("backup", "ls", "--json", check=True).stdout)
    assert after["id"] in {b["id"] for b in listed}

    gone = json.loads(comind("restore", "--discard-old", "--yes", "--json", check=True).stdout)
    assert gone["deleted"] == [done["old_data_dir"]] and not Path(done["old_data_dir"]).exists()

    second = moment_between().isoformat()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE entries SET note = 'wrong'")
    swapped = json.loads(comind("restore", "--app", "ledger", "--to-time", second, "--replace",
                                "--yes", "--json", timeout=300, check=True,
                                extra_env=ARCHIVING).stdout)  # fmt: skip
    assert swapped["database"] == "ledger" and rows() == [(100, "good")]
    kept = dsn.replace("dbname=ledger", f"dbname={swapped['old']}")
    with psycopg.connect(kept) as conn:
        assert conn.execute("SELECT DISTINCT note FROM entries").fetchall() == [("wrong",)]

    # Redis: a snapshot served beside the platform, then put in place of its data
    rhost, rport = state["engines"]["redis"]["address"].rsplit(":", 1)
    secret = (home / "secrets" / "redis-password").read_text().strip()
    cache = redis.Redis(rhost, int(rport), password=secret, decode_responses=True)
    cache.set("greeting", "before")
    comind("backup", "run", "--type", "redis", "--json", check=True)
    cache.set("greeting", "after")
    side = json.loads(comind("restore", "--redis", "--side", "--json", check=True).stdout)
    try:
        assert redis.Redis.from_url(side["url"], decode_responses=True).get("greeting") == "before"
    finally:
        os.kill(side["pid"], signal.SIGTERM)
    swapped_cache = json.loads(comind("restore", "--redis", "--yes", "--json", timeout=120,
                                      check=True).stdout)  # fmt: skip
    assert swapped_cache["keys"] >= 1 and Path(swapped_cache["old_data_dir"]).is_dir()
    assert wait_until(lambda: _get(cache, "greeting") == "before", timeout=30)
    gone = json.loads(comind("restore", "--discard-old", "--yes", "--json", check=True).stdout)
    assert gone["deleted"] == [swapped_cache["old_data_dir"]]


def _get(cache: redis.Redis, key: str) -> str | None:
    try:
        return cache.get(key)  # type: ignore[return-value]
    except redis.ConnectionError:
        return None  # Redis is starting again
