"""A flow's data access: its own PostgreSQL writer role and its own Redis user,
provisioned by the platform (the only place the superuser and Redis's default user are
used for it) before the flow's workers start.

The role (``comind_flow_NAME``, LOGIN, NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT, a
generated password kept sealed like every platform secret) gets exactly the tables
flows/access.py lists for the flow (stores/pg_grants.py says what each use grants); an
enrich table also gets its version trigger here, because the writer may not create one.
An app's tables the flow reads (a source, an enrich lookup) are read with a reader role of
the flow's per database (``comind_fr_FLOW.DB``: CONNECT on that database, SELECT on those
tables, nothing else; BYPASSRLS, so it reads them whole as their app does and no policy,
which is app code, runs as it): planning a query on a table runs the immutable functions its indexes
call as whoever plans (red team 21d F1), so the app's code runs with rights it has anyway,
never the writer's; and never with the app's own login, which a flow running another
app's code must not hold (red team 21e G2).
The Redis user (named like the role) may run only the flow engine's few commands on the
keys flows/redis_access.py lists (its redis sinks' prefixes, its enrich cache), with a
generated password kept sealed the same way. The flow's login to the platform database
(``comind_fw_FLOW``, a member of the workers' group) may touch only the rows the flow's
resource names (stores/platform_db.py ``WorkerRows``, row security of migration 0028): its
own flow state, the queues it receives from and sends to, the topics it publishes to. The
workers get these credentials through their environment (``env``), never the superuser's
or Redis's default password.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict

from comind.flows.access import TableUse
from comind.flows.limits import DATABASE_POOL, MAX_PARALLEL
from comind.flows.pglookup import install_versioning
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource
from comind.spec.names import flow_reader_role, flow_role, flow_worker_role
from comind.stores.pg_admin import PgAdmin
from comind.stores.pg_grants import (
    TableGrant,
    grant_connect,
    grant_database,
    grant_select,
    grant_table,
    mark_role,
    marked_roles,
    may_read,
    quoted,
    readable_tables,
    revoke_all,
    revoke_select,
    strange_owners,
    table_exists,
)
from comind.stores.platform_db import (
    PLATFORM_DB,
    WorkerRows,
    drop_worker_login,
    ensure_worker_group,
    ensure_worker_login,
    worker_rows,
)
from comind.stores.postgres import Connection, PgTarget, connect
from comind.stores.redis import RedisTarget
from comind.stores.redis_acl import AclGrant, RedisAcl, flow_grant, matches

FLOW_DB_USER = "COMIND_FLOW_DB_USER"
FLOW_DB_READERS = "COMIND_FLOW_DB_READERS"  # JSON: database -> [user, password] of its reader
FLOW_DB_PASSWORD = "COMIND_FLOW_DB_PASSWORD"
WORKER_DB_USER = "COMIND_WORKER_DB_USER"
WORKER_DB_PASSWORD = "COMIND_WORKER_DB_PASSWORD"
FLOW_REDIS_USER = "COMIND_FLOW_REDIS_USER"
FLOW_REDIS_PASSWORD = "COMIND_FLOW_REDIS_PASSWORD"
WORKER_POOL = 8  # a worker's connections to the platform database (platform/worker.py)
OLD_WORKER_PASSWORD = "platform/worker-database-password"  # one login for every flow, before 0028


def password_name(flow: str) -> str:
    return f"flow/{flow}/database-password"


def worker_password_name(flow: str) -> str:
    return f"flow/{flow}/worker-database-password"


def reader_password_name(flow: str, database: str) -> str:
    return f"flow/{flow}/reader/{database}/database-password"


def redis_password_name(flow: str) -> str:
    return f"flow/{flow}/redis-password"


def uses(res: Resource) -> dict[str, list[TableUse]]:
    """The flow's table uses by database."""
    found: dict[str, list[TableUse]] = defaultdict(list)
    for raw in res.spec.get("tables", []):
        use = TableUse.of(raw)
        found[use.database].append(use)
    return dict(found)


_GRANTING = threading.Lock()


class FlowAccess:
    def __init__(self, pg: PgAdmin, acl: RedisAcl, secrets: SecretStore) -> None:
        self.pg, self.acl, self.secrets = pg, acl, secrets
        self._group_ready = False

    def target(self, flow: str) -> PgTarget:
        """How ``flow`` logs in to the app databases (the database is set per use)."""
        password = self.secrets.password(password_name(flow))
        return self.pg.admin.login(flow_role(flow), password, "postgres")

    def worker_target(self, flow: str) -> PgTarget:
        """How ``flow``'s workers log in to the platform database."""
        password = self.secrets.password(worker_password_name(flow))
        return self.pg.admin.login(flow_worker_role(flow), password, PLATFORM_DB)

    def redis_target(self, flow: str) -> RedisTarget:
        """How ``flow`` logs in to Redis."""
        password = self.secrets.password(redis_password_name(flow))
        return self.acl.admin.login(flow_role(flow), password)

    def env(self, res: Resource) -> dict[str, str]:
        """What a worker of the flow ``res`` logs in with."""
        writer, worker = self.target(res.name), self.worker_target(res.name)
        cache = self.redis_target(res.name)
        readers = {db: [t.user, t.password] for db, t in self.readers(res).items()}
        return {FLOW_DB_USER: writer.user, FLOW_DB_PASSWORD: writer.password,
                WORKER_DB_USER: worker.user, WORKER_DB_PASSWORD: worker.password,
                FLOW_REDIS_USER: cache.username, FLOW_REDIS_PASSWORD: cache.password,
                FLOW_DB_READERS: json.dumps(readers)}  # fmt: skip

    def readers(self, res: Resource) -> dict[str, PgTarget]:
        """The flow's reader login of each database whose app tables it reads."""
        flow = res.name
        return {db: self.pg.admin.login(flow_reader_role(flow, db), self.secrets.password(
                    reader_password_name(flow, db)), db)
                for db in _read_tables(res)}  # fmt: skip

    def observe(self, res: Resource) -> tuple[str, ...]:
        """How the flow's access differs from what it should be."""
        role = flow_role(res.name)
        if not self.pg.password_matches(role, self.target(res.name).password):
            return (f"role {role} is missing or does not log in with the flow's password",)
        drift = [*self._redis_drift(res), *self._worker_drift(res)]
        for dbname, found in uses(res).items():
            if self.pg.observe_database(dbname, extensions=False) is None:
                continue  # its database provider reports that
            with connect(self.pg.admin.with_db(dbname)) as conn:
                drift += [f"{dbname}/{u.table}: {why}" for u in found
                          if (why := _table_drift(conn, role, u))]  # fmt: skip
        return tuple(drift + self._reader_drift(res))

    def _worker_drift(self, res: Resource) -> tuple[str, ...]:
        login = self.worker_target(res.name)
        if not self.pg.password_matches(login.user, login.password):
            return (f"role {login.user} is missing or does not log in with its password",)
        if worker_rows(self.pg, login.user) != _rows(res).rows():
            return (f"role {login.user} may touch other platform rows than the flow declares",)
        return ()

    def _reader_drift(self, res: Resource) -> list[str]:
        drift, readers = [], self.readers(res)
        for dbname, tables in _read_tables(res).items():
            reader = readers[dbname]
            if not self.pg.password_matches(reader.user, reader.password):
                drift.append(f"role {reader.user} is missing or does not log in with its password")
            elif self.pg.observe_database(dbname, extensions=False) is not None:
                with connect(self.pg.admin.with_db(dbname)) as conn:
                    drift += [f"{dbname}/{t}: {reader.user} may not read it"
                              for t in tables if not may_read(conn, reader.user, t)]  # fmt: skip
        return drift

    def _redis_drift(self, res: Resource) -> tuple[str, ...]:
        user, grant = flow_role(res.name), _redis_grant(res)
        found = self.acl.observe_user(user)
        if found is None or not matches(found, grant, self.redis_target(res.name).password):
            return (f"Redis user {user} is missing or differs (password, keys or state)",)
        if found.rules != self.acl.expected_rules(grant):
            return (f"Redis user {user} may run other commands than a flow's workers may",)
        return ()

    def apply(self, res: Resource) -> None:
        # flows are applied on several threads and share grants on the same catalog rows (the
        # workers' role, a database's ACL): PostgreSQL refuses concurrent updates of one
        # ("tuple concurrently updated"), so one flow's grants at a time
        with _GRANTING:
            self._apply(res)

    def _apply(self, res: Resource) -> None:
        role = flow_role(res.name)
        self.acl.ensure_user(role, self.redis_target(res.name).password, _redis_grant(res))
        self.pg.ensure_role(role, self.target(res.name).password, inherit=False,
                            connection_limit=writer_connections(res))  # fmt: skip
        if not self._group_ready:  # one group for every flow: made ready once a process
            ensure_worker_group(self.pg)
            self.secrets.delete(OLD_WORKER_PASSWORD)
            self._group_ready = True
        login = self.worker_target(res.name)
        ensure_worker_login(self.pg, login.user, login.password, _rows(res),
                            connections=worker_connections(res))  # fmt: skip
        for dbname, found in uses(res).items():
            with self.pg.pool.connection() as conn:
                grant_database(conn, dbname, role)
            with connect(self.pg.admin.with_db(dbname)) as conn:
                for use in found:
                    grant_table(conn, role, _grant(use))
                    if use.lookup and table_exists(conn, use.table):
                        install_versioning(conn, use.table, use.owner)
        self._apply_readers(res)

    def _apply_readers(self, res: Resource) -> None:
        """Each reader as the spec says, and no more: SELECT on a table the flow no longer
        reads is taken back, a reader of a database it no longer reads is dropped."""
        tables, readers = _read_tables(res), self.readers(res)
        for dbname, reader in readers.items():
            self.pg.ensure_role(reader.user, reader.password, inherit=False, bypass_rls=True,
                                connection_limit=reader_connections(res))  # fmt: skip
            with self.pg.pool.connection() as conn:
                mark_role(conn, reader.user, {"reader_of": res.name, "database": dbname})
                grant_connect(conn, dbname, reader.user)
            with connect(self.pg.admin.with_db(dbname)) as conn:
                wanted = {quoted(t) for t in tables[dbname]}
                for table in tables[dbname]:
                    grant_select(conn, reader.user, table)
                for table in readable_tables(conn, reader.user):
                    if quoted(table) not in wanted:
                        revoke_select(conn, reader.user, table)
        self._drop_readers(res.name, keep={t.user for t in readers.values()})

    def _drop_readers(self, flow: str, keep: set[str]) -> None:
        with self.pg.pool.connection() as conn:
            stale = marked_roles(conn, reader_of=flow)
        for role, mark in stale.items():
            if role not in keep:
                self._drop(role, [mark["database"]])
                self.secrets.delete(reader_password_name(flow, mark["database"]))

    def delete(self, res: Resource) -> None:
        self._drop(flow_role(res.name), list(uses(res)))
        self._drop_readers(res.name, keep=set())
        drop_worker_login(self.pg, flow_worker_role(res.name))
        self.secrets.delete(worker_password_name(res.name))
        self.secrets.delete(password_name(res.name))
        self.acl.delete_user(flow_role(res.name))
        self.secrets.delete(redis_password_name(res.name))

    def _drop(self, role: str, databases: list[str]) -> None:
        for dbname in databases:
            if self.pg.observe_database(dbname, extensions=False) is not None:
                with connect(self.pg.admin.with_db(dbname)) as conn:
                    revoke_all(conn, role)
        with self.pg.pool.connection() as conn:
            revoke_all(conn, role)  # CONNECT on databases dropped meanwhile, memberships
        self.pg.drop_role(role)


def _read_tables(res: Resource) -> dict[str, list[str]]:
    """By database, the app tables the flow reads."""
    found: dict[str, list[str]] = defaultdict(list)
    for use in (u for us in uses(res).values() for u in us if not u.write):
        found[use.database].append(use.table)
    return dict(found)


def _table_drift(conn: Connection, role: str, use: TableUse) -> str:
    """Why ``use`` is not as provisioned ("" when it is)."""
    if not may_read(conn, role, use.table):
        return f"{role} may not read it"
    others = strange_owners(conn, use.table, use.owner) if use.write else []
    return f"owned by {', '.join(others)}, not {use.owner}" if others else ""


def _processes(res: Resource) -> int:
    """The flow's instances and two jobs besides (a scheduled run and an operator's)."""
    return int(res.spec.get("parallelism", 1)) + 2


def worker_connections(res: Resource) -> int:
    """What the flow's platform-database login may hold at once: each process's queue pool
    (platform/worker.py ``flow_engines``), a backfill's partition claims (a session each),
    and two to spare (red team 21g F2: without a limit a flow took every connection of the
    cluster, and the apps could not log in)."""
    return WORKER_POOL * _processes(res) + MAX_PARALLEL + 2


def writer_connections(res: Resource) -> int:
    """What the flow's writer may hold at once: each process's pool in each app database
    the flow uses (flows/build.py), and two to spare."""
    return DATABASE_POOL * len(uses(res)) * _processes(res) + 2


def reader_connections(res: Resource) -> int:
    """What one of the flow's readers (one per database it reads) may hold at once."""
    return DATABASE_POOL * _processes(res) + 2


def _rows(res: Resource) -> WorkerRows:
    declared = res.spec.get("platform_rows", {})
    return WorkerRows(**{kind: tuple(names) for kind, names in declared.items()})


def _redis_grant(res: Resource) -> AclGrant:
    return flow_grant(tuple(res.spec.get("redis_keys", ())))


def _grant(use: TableUse) -> TableGrant:
    return TableGrant(use.table, use.owner, use.app_role, use.write)
