"""Provider ``database``: a PostgreSQL database and the app's login role owning it; its
schema public and the tables flows write belong to the platform's data owner role. The role
holds at most the spec's ``max_connections`` connections at once (its CONNECTION LIMIT), so
one app cannot take every connection of the server; the limit is watched like the other
role attributes and a changed one is drift, repaired by the next apply."""

from __future__ import annotations

from comind.gitops.providers.base import MISSING, Health, Observed
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource
from comind.queue import outbox
from comind.spec.names import is_platform_role, owner_role
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, connect


def password_name(app: str) -> str:
    return f"app/{app}/database-password"


def database_target(admin: PgTarget, secrets: SecretStore, res: Resource) -> PgTarget:
    """How the app of ``res`` logs in to its database (for its DATABASE_URL)."""
    password = secrets.password(password_name(res.app))
    return admin.login(res.spec["role"], password, res.name)


class DatabaseProvider:
    def __init__(self, pg: PgAdmin, secrets: SecretStore) -> None:
        self.pg, self.secrets = pg, secrets

    def target(self, res: Resource) -> PgTarget:
        return database_target(self.pg.admin, self.secrets, res)

    def observe(self, res: Resource) -> Observed:
        wanted = res.spec["extensions"]
        state = self.pg.observe_database(res.name)
        if state is None:
            return MISSING
        role = res.spec["role"]
        drift = []
        if state.owner != role:
            drift.append(f"owner is {state.owner}, not {role}")
        if state.schema_owner not in (None, owner_role(res.name)):
            drift.append(f"schema public is owned by {state.schema_owner}, "
                         f"not the platform's {owner_role(res.name)}")  # fmt: skip
        if state.public_connect:
            drift.append("every role may connect (only the app's role should)")
        strangers = [r for r in state.others_connect if r != role and not is_platform_role(r)]
        if strangers:
            drift.append(f"other roles may connect: {', '.join(strangers)}")
        missing = sorted(set(wanted) - set(state.extensions or ()))
        if missing:
            drift.append(f"extensions missing: {', '.join(missing)}")
        if state.backup_connect is False:
            drift.append("the backup role may not connect (backups of it would fail)")
        limit = self.pg.connection_limit(role)
        if limit is not None and limit != res.spec["max_connections"]:
            drift.append(f"role {role} may hold {'any number of' if limit < 0 else limit} "
                         f"connections, not {res.spec['max_connections']}")  # fmt: skip
        if not self.pg.password_matches(role, self.secrets.password(password_name(res.app))):
            drift.append(f"role {role} cannot log in with the password the app is given")
            return Observed(True, tuple(drift), Health.DEGRADED, drift[-1], holds_data=True)
        return Observed(True, tuple(drift), holds_data=True)

    def apply(self, res: Resource) -> None:
        role = res.spec["role"]
        password = self.secrets.password(password_name(res.app))
        self.pg.ensure_role(role, password, connection_limit=res.spec["max_connections"])
        self.pg.ensure_database(
            res.name, role, res.spec["extensions"], data_owner=owner_role(res.name)
        )
        with connect(self.target(res)) as conn:  # owned by the app's role: it may write to it
            outbox.install(conn)

    def delete(self, res: Resource) -> None:
        self.pg.drop_database(res.name)
        self.pg.drop_role(res.spec["role"])
        self.pg.drop_role(owner_role(res.name))
