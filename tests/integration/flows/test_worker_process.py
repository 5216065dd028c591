"""`comind worker --flow NAME` as a process against the running (session) platform: it
processes the flow, and SIGTERM makes it finish the batch in hand and exit cleanly."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from provisioned import provisioned, stop_cleanly, worker_process
from tests.dba import dba

from comind.platform import Platform
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.stores.postgres import PgTarget, connect, superuser
from waiting import wait_until

BATCH = 50


@pytest.fixture
def repo(runtime: Platform, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], PgTarget]]:
    """A spec whose app database and queue are unique to this test, on the session
    platform, provisioned as a sync does; and the environment its workers get."""
    app = f"w{uuid.uuid4().hex[:8]}"
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef step(r):\n    time.sleep(0.02)\n    return r\n"
    )
    (tmp_path / "comind.yaml").write_text(
        textwrap.dedent(f"""
        platform: {{name: w}}
        apps:
          {app}:
            run: "true"
            database: {{name: {app}}}
            queues: {{jobs: {{}}}}
        datasets:
          {app}.done: {{store: postgres://{app}/done}}
        flows:
          drain:
            kind: stream
            source: queue://{app}/jobs
            batch: {{size: {BATCH}, max_wait: 0}}
            steps: [{{map: slow:step}}]
            sink: {{postgres: {app}.done, upsert_on: [id]}}
        """)
    )
    assert runtime.db is not None
    layer = MessageLayer.open(runtime.db, max_connections=2)
    for name in (f"{app}/jobs", "_flows/drain-dlq"):
        if name not in layer.admin.names():
            layer.admin.create(name, {"VisibilityTimeout": "60"})
    for start in range(0, 300, 10):
        body = [OutgoingMessage(json.dumps({"id": i})) for i in range(start, start + 10)]
        layer.queues.send(f"{app}/jobs", body)
    with provisioned(runtime, tmp_path) as found:
        yield tmp_path, found.worker_env("drain"), superuser(runtime.engines.postgres).with_db(app)
    layer.admin.purge(f"{app}/jobs")
    layer.close()


def done(db: PgTarget) -> int:
    with dba(db) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM done").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return int(row[0]) if row else 0


def test_sigterm_finishes_the_batch_in_hand_then_exits(
    runtime: Platform, repo: tuple[Path, dict[str, str], PgTarget]
) -> None:
    root, logins, db = repo
    app = db.dbname
    with worker_process(runtime, "drain", root, logins) as worker:
        assert wait_until(lambda: done(db) >= BATCH, 60)
        stop_cleanly(worker)
    written = done(db)
    assert 0 < written < 300 and written % BATCH == 0  # whole batches only
    layer = MessageLayer.open(runtime.db, max_connections=1)  # type: ignore[arg-type]
    try:
        stats = layer.queues.stats(f"{app}/jobs")
    finally:
        layer.close()
    assert stats.in_flight == 0  # nothing leased and left behind
    assert stats.visible == 300 - written
    # the worker's lifetime was one OpenLineage run, stored through its comind_worker login
    runs = lineage_runs(runtime.db, f"{app}.done")  # type: ignore[arg-type]
    assert [[e["eventType"] for e in run] for run in runs.values()] == [["START", "COMPLETE"]]
    (complete,) = [e for run in runs.values() for e in run if e["eventType"] == "COMPLETE"]
    assert complete["outputs"][0]["facets"]["dataQualityMetrics"]["rowCount"] == written


def lineage_runs(db: PgTarget, output: str) -> dict[str, list[dict[str, Any]]]:
    """The stored events of runs writing ``output``, by run, oldest first."""
    with connect(db) as conn:
        rows = conn.execute("SELECT payload FROM comind.lineage_events WHERE job = 'drain' "
                            "ORDER BY event_time, id").fetchall()  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {}
    for (event,) in rows:
        if any(o["name"] == output for o in event["outputs"]):
            runs.setdefault(event["run"]["runId"], []).append(event)
    return runs
