"""A repo's app databases and flows provisioned on the session platform exactly as a sync
does it (the database provider, each flow's database access), and the logins the platform
hands a flow's workers; everything is taken back on exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from comind.gitops.providers.database import DatabaseProvider, database_target
from comind.gitops.providers.flow_access import FlowAccess
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource, render
from comind.platform import Platform
from comind.platform.secrets import platform_sealer
from comind.spec import load_spec
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, make_pool, superuser
from comind.stores.redis import default_user
from comind.stores.redis_acl import RedisAcl


@dataclass
class Provisioned:
    resources: list[Resource]
    databases: DatabaseProvider
    access: FlowAccess

    def app_db(self, app: str) -> PgTarget:
        """The app's own login (its DATABASE_URL)."""
        res = next(r for r in self.resources if r.kind == "database" and r.app == app)
        return database_target(self.databases.pg.admin, self.databases.secrets, res)

    def worker_env(self, flow: str) -> dict[str, str]:
        """What the platform puts in the environment of the flow's workers."""
        res = next(r for r in self.resources if r.kind == "flow" and r.name == flow)
        return self.access.env(res)


@contextmanager
def provisioned(runtime: Platform, root: Path) -> Iterator[Provisioned]:
    assert runtime.db is not None
    pool = make_pool(runtime.db, max_size=2)
    secrets = SecretStore(pool, platform_sealer(runtime.engines.home))
    admin = PgAdmin(superuser(runtime.engines.postgres))
    acl = RedisAcl(default_user(runtime.engines.redis))
    resources = render(load_spec(root), root)
    access = FlowAccess(admin, acl, secrets)
    found = Provisioned(resources, DatabaseProvider(admin, secrets), access)
    databases = [r for r in resources if r.kind == "database"]
    flows = [r for r in resources if r.kind == "flow"]
    try:
        for res in databases:
            found.databases.apply(res)
        for res in flows:
            found.access.apply(res)
        yield found
    finally:
        for res in flows:
            found.access.delete(res)
        for res in databases:
            found.databases.delete(res)
        admin.close()
        acl.close()
        pool.close()


@contextmanager
def worker_process(
    runtime: Platform, flow: str, root: Path, logins: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """``comind worker`` for ``flow`` as the platform starts it, with ``logins`` in its
    environment; killed if still running when the block ends."""
    env = {**os.environ, "COMIND_HOME": str(runtime.engines.home.root), **logins}
    worker = subprocess.Popen(
        [sys.executable, "-m", "comind.cli.main", "worker", "--flow", flow, "--root", str(root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stdout:
            worker.stdout.close()


def stop_cleanly(worker: subprocess.Popen[str]) -> None:
    """SIGTERM, and the worker exits 0 within 30 s (its output in the failure if not)."""
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stdout.read() if worker.stdout else ""
