"""GitOps reconcile time: a generated spec of N apps, from empty to Synced+Healthy, and a
no-op re-sync, against a baseline that creates the same things directly.

Each app has a database (with its role), a cache user, a bucket and 2 queues with DLQs
(7 resources). Baseline: the same roles, databases, ACL users, buckets and queues made by
one plain sequential script with no observing, diffing or recording. Comind: ``SyncService``
on a folder source (plan: observe all; apply: DAG on 4 threads; record inventory + history).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.settings import Settings
from comind.gitops.folder import FolderSource
from comind.gitops.plane import ControlPlane, Engines
from comind.gitops.records import SecretStore
from comind.governance.sealing import Sealer
from comind.queue.layer import MessageLayer
from comind.spec.names import owner_role
from comind.stores.objects import FileObjectStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.platform_db import prepare
from comind.stores.postgres import superuser
from comind.stores.redis import default_user
from comind.stores.redis_acl import RedisAcl

APP = """\
  {name}:
    run: python -m app
    database: {{name: {name}}}
    cache: {{}}
    bucket: {{name: {name}-files}}
    queues:
      jobs: {{dlq: {{max_receives: 5}}}}
      events: {{dlq: {{max_receives: 5}}}}
"""


def spec(prefix: str, apps: int) -> str:
    return "platform: {name: bench}\napps:\n" + "".join(
        APP.format(name=f"{prefix}{i:03d}") for i in range(apps)
    )


def baseline(engines: Engines, layer: MessageLayer, prefix: str, apps: int) -> float:
    pg, acl = PgAdmin(engines.postgres), RedisAcl(engines.redis)
    began = time.perf_counter()
    for i in range(apps):
        name = f"{prefix}{i:03d}"
        pg.ensure_role(f"app_{name}", "pw-" + name)
        pg.ensure_database(name, f"app_{name}", [], data_owner=owner_role(name))
        acl.ensure_user(f"app_{name}", name, "pw-" + name)
        engines.objects.create_bucket(f"{name}-files")
        for queue in ("jobs", "events"):
            layer.admin.create(f"{name}/{queue}-dlq")
            layer.admin.create(f"{name}/{queue}")
    took = time.perf_counter() - began
    pg.close()
    acl.close()
    return took


def measure(apps: int = 100) -> list[tuple[str, float]]:
    root = Path(tempfile.mkdtemp(prefix="comind-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    platform = EmbeddedPlatform(Settings(home=root / "home", api_port=0))
    platform.start()
    try:
        db = prepare(superuser(platform.postgres))
        layer = MessageLayer.open(db, max_connections=8)
        engines = Engines(superuser(platform.postgres), default_user(platform.redis),
                          FileObjectStore(root / "objects"))  # fmt: skip
        rows = [(f"baseline: direct sequential creation, {apps} apps",
                 baseline(engines, layer, "base", apps))]  # fmt: skip
        repo = root / "repo"
        repo.mkdir()
        (repo / "comind.yaml").write_text(spec("app", apps))
        plane = ControlPlane(FolderSource(repo), "bench", engines, layer,
                             SecretStore(layer.pool, Sealer(b"b" * 32)))  # fmt: skip
        for label in ("comind sync from empty", "comind no-op re-sync"):
            began = time.perf_counter()
            report = plane.service.sync(trigger="bench")
            took = time.perf_counter() - began
            if report.outcome != "Succeeded":
                raise RuntimeError(f"{label}: {report.outcome} {report.message}")
            rows.append((f"{label}, {apps} apps ({len(report.outcomes)} resources)", took))
        plane.close()
        layer.close()
    finally:
        platform.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def table(rows: list[tuple[str, float]]) -> str:
    lines = ["| measurement | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100)))
