"""Provider ``database``: a PostgreSQL database and the app's login role owning it."""

from __future__ import annotations

from comind.gitops.providers.base import MISSING, Health, Observed
from comind.gitops.resources import Resource
from comind.stores import pg_admin
from comind.stores.gitops_db import SecretStore
from comind.stores.postgres import PgTarget


def password_name(app: str) -> str:
    return f"app/{app}/database-password"


class DatabaseProvider:
    def __init__(self, admin: PgTarget, secrets: SecretStore) -> None:
        self.admin, self.secrets = admin, secrets

    def target(self, res: Resource) -> PgTarget:
        """How the app logs in to its database (for its DATABASE_URL)."""
        password = self.secrets.password(password_name(res.app))
        return PgTarget(self.admin.host, self.admin.port, res.spec["role"], password, res.name)

    def observe(self, res: Resource) -> Observed:
        state = pg_admin.observe_database(self.admin, res.name)
        if state is None:
            return MISSING
        role = res.spec["role"]
        drift = []
        if state.owner != role:
            drift.append(f"owner is {state.owner}, not {role}")
        if state.public_connect:
            drift.append("every role may connect (only the app's role should)")
        missing = sorted(set(res.spec["extensions"]) - set(state.extensions))
        if missing:
            drift.append(f"extensions missing: {', '.join(missing)}")
        if not pg_admin.can_login(self.target(res)):
            drift.append(f"role {role} cannot log in with its password")
            return Observed(True, tuple(drift), Health.DEGRADED, drift[-1], holds_data=True)
        return Observed(True, tuple(drift), holds_data=True)

    def apply(self, res: Resource) -> None:
        role = res.spec["role"]
        pg_admin.ensure_role(self.admin, role, self.secrets.password(password_name(res.app)))
        pg_admin.ensure_database(self.admin, res.name, role, res.spec["extensions"])

    def delete(self, res: Resource) -> None:
        pg_admin.drop_database(self.admin, res.name)
        pg_admin.drop_role(self.admin, res.spec["role"])
