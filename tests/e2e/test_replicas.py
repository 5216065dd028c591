"""Two control-plane replicas (issue 19): platform processes with state directories of their
own, sharing nothing but the engines' URLs and the replica key. The first leads (it syncs and
runs the app); the second follows, serving the API and refusing changes with the leader's
name, with the leader's secrets installed. Killed with SIGKILL in the middle of a backfill,
the leader's lock goes with its PostgreSQL session, and its app and the backfill's job with
it; the follower leads: it runs the app and takes changes, and the backfill run again there
runs each partition the first did not finish, once (the partitions table says so)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
SPEC = """
platform: {name: ha}
apps:
  ledger:
    run: sleep 3600
    database: {name: ledger}
datasets:
  ledger.totals: {store: postgres://ledger/totals}
flows:
  totals:
    kind: batch
    on_demand: true
    source: postgres://ledger/entries
    partition: {by: day, field: at}
    steps:
      - map: pace:slow
      - aggregate: {group_by: [day], count: n, sum: [amount]}
    sink: {postgres: ledger.totals, upsert_on: [day]}
"""
PACE = "import time\n\ndef slow(r):\n    time.sleep(0.15)\n    return r\n"
DAYS, ROWS = [f"2026-11-{d:02d}" for d in range(1, 7)], 10  # 1.5 s a partition
KEY = "replica-key-of-the-test-0123456789abcdef"


def _leader(pg_url: str) -> str | None:
    with psycopg.connect(make_conninfo(pg_url, dbname="comind")) as conn:
        row = conn.execute("SELECT replica FROM comind.replica_leader").fetchone()
    return None if row is None else str(row[0])


def _rows(pg_url: str, dbname: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(make_conninfo(pg_url, dbname=dbname)) as conn:
        return conn.execute(query).fetchall()


def _succeeded(pg_url: str) -> dict[str, int]:
    """Runs of each partition of the batch flow that succeeded."""
    return dict(_rows(pg_url, "comind", "SELECT partition, count(*) FROM comind.flow_runs "
                      "WHERE flow = 'totals' AND status = 'succeeded' GROUP BY 1"))  # fmt: skip


def _entries(pg_url: str) -> None:
    with psycopg.connect(make_conninfo(pg_url, dbname="ledger")) as conn:
        conn.execute("CREATE TABLE entries (id int, at timestamptz, day text, amount int)")
        for day in DAYS:
            conn.execute("INSERT INTO entries SELECT g, %s::date + interval '1 hour', %s, g "
                         "FROM generate_series(1, %s) g", (day, day, ROWS))  # fmt: skip


def _pid(home: Path) -> int:
    return int(json.loads((home / "state.json").read_text())["pid"])


def test_a_follower_leads_once_the_leader_is_killed(
    comind: Any, launch: Any, home: Path, engine_root: Path, tmp_path: Path,
    managed: tuple[str, str],
) -> None:  # fmt: skip
    pg_url, redis_url = managed
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "comind.yaml").write_text(SPEC)
    (repo / "pace.py").write_text(PACE)
    shared = {"COMIND_POSTGRES_URL": pg_url, "COMIND_REDIS_URL": redis_url,
              "COMIND_REPLICA_KEY": KEY}  # fmt: skip
    other = engine_root / f"{home.name}-second"

    def up(where: Path) -> None:
        comind("--home", str(where), "up", "--repo", str(repo), "--detach", "--api-port", "0",
               timeout=300, check=True, extra_env=shared)  # fmt: skip

    def runs_ledger(where: Path) -> list[psutil.Process]:
        """The app's processes the replica of ``where`` started (only a leader starts any)."""
        children = psutil.Process(_pid(where)).children(recursive=True)
        return [p for p in children if p.cmdline()[-2:] == ["sleep", "3600"]]

    orphans: list[psutil.Process] = []
    up(home)
    first = _leader(pg_url)
    assert first is not None and first.endswith(f":{_pid(home)}")
    try:
        up(other)
        assert _leader(pg_url) == first  # the second follows
        shared_files = ("platform-key", "api-admin-token", "kek.json")
        for name in shared_files:  # the leader's secrets, installed
            assert (other / "secrets" / name).read_bytes() == (home / "secrets" / name).read_bytes()
        third = engine_root / f"{home.name}-third"  # a follower that stops while following
        up(third)
        stopped = comind("--home", str(third), "down", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert "Traceback" not in (third / "logs" / "up.out").read_text()
        refused = comind("--home", str(other), "backup", "run", "--kind", "logical", "--app",
                         "ledger")  # fmt: skip
        assert refused.returncode != 0 and f"send changes to the leader, {first}" in refused.stderr
        assert wait_until(lambda: runs_ledger(home), timeout=120, interval=0.2)
        orphans += runs_ledger(home)
        assert not runs_ledger(other)

        _entries(pg_url)
        synced = comind("--home", str(home), "sync", timeout=300)  # grants the new source table
        assert synced.returncode == 0, synced.stderr
        backfill = ("flow", "backfill", "totals", "--from", DAYS[0], "--to", DAYS[-1],
                    "--parallel", "1", "--json")  # fmt: skip
        cut = launch("--home", str(home), *backfill)  # cut short by the kill below
        assert wait_until(lambda: len(_succeeded(pg_url)) >= 2, timeout=120, interval=0.1)
        os.kill(_pid(home), signal.SIGKILL)  # the leader, as a crash would
        killed = time.monotonic()
        assert wait_until(lambda: _leader(pg_url) not in (None, first), timeout=60, interval=0.2)
        print(f"failover: the follower led {time.monotonic() - killed:.1f} s after the kill")
        # the killed leader's app dies with it (it is leashed to its supervising thread)
        assert wait_until(lambda: not any(p.is_running() for p in orphans), timeout=10)
        assert str(_leader(pg_url)).endswith(f":{_pid(other)}")
        assert wait_until(lambda: runs_ledger(other), timeout=120, interval=0.2)
        taken: list[str] = []

        def backed_up() -> bool:  # once its first sync has applied the revision
            run = comind("--home", str(other), "backup", "run", "--kind", "logical", "--app",
                         "ledger", "--json", timeout=300)  # fmt: skip
            taken.extend([json.loads(run.stdout)["id"]] if run.returncode == 0 else [])
            return bool(taken)

        assert wait_until(backed_up, timeout=120, interval=1)
        assert taken[0].startswith("logical-")
        cut.communicate(timeout=60)  # ended with its platform; its pipe closed
        done_first = set(_succeeded(pg_url))  # read once the killed leader's job is gone too
        assert len(done_first) < len(DAYS)  # the kill landed in the middle of the backfill
        rest = comind("--home", str(other), *backfill, timeout=300)
        assert rest.returncode == 0, rest.stderr
        ran = {r["partition"] for r in json.loads(rest.stdout) if r["status"] == "succeeded"}
        assert ran == set(DAYS) - done_first  # what the first did not finish, and no more
        assert _succeeded(pg_url) == dict.fromkeys(DAYS, 1)  # each partition once
        totals = _rows(pg_url, "ledger", "SELECT day, n FROM totals ORDER BY day")
        assert totals == [(day, ROWS) for day in DAYS]
    finally:
        comind("--home", str(other), "down")
        for orphan in orphans:  # the killed leader's app, if the test failed before it died
            if orphan.is_running():
                orphan.kill()
