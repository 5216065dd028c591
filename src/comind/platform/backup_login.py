"""The live cluster as the backups see it: they log in as the backup role, which the
platform makes (or resets) here with the superuser at start, its password generated once and
kept sealed in the platform database like the flow workers' (stores/platform_db.py says what
the role may do). Restores, the switch and disaster recovery keep the superuser: they rebuild
clusters and create databases, which is provisioning."""

from __future__ import annotations

from comind.backup.cluster import Cluster
from comind.embedded.platform import EmbeddedPlatform
from comind.gitops.records import SecretStore
from comind.platform.secrets import platform_sealer
from comind.stores.pg_admin import PgAdmin
from comind.stores.platform_db import ensure_backup_role
from comind.stores.postgres import Pool, superuser

BACKUP_PASSWORD = "platform/backup-database-password"


def live_cluster(engines: EmbeddedPlatform, pool: Pool) -> Cluster:
    """The embedded cluster, its backup role made ready (idempotent); ``pool`` reaches the
    platform database, where the role's password is kept."""
    engine = engines.postgres
    password = SecretStore(pool, platform_sealer(engines.home)).password(BACKUP_PASSWORD)
    admin = PgAdmin(superuser(engine), max_connections=1)
    try:
        login = ensure_backup_role(admin, password)
    finally:
        admin.close()
    return Cluster(superuser(engine), engine.bin_dir, engine.run_as, backup=login)
