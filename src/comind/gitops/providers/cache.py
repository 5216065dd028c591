"""Provider ``cache``: a Redis ACL user for the app, limited to keys ``APP:*``."""

from __future__ import annotations

from comind.gitops.providers.base import MISSING, Observed
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource
from comind.stores.redis import RedisTarget
from comind.stores.redis_acl import RedisAcl, app_grant, matches


def password_name(app: str) -> str:
    return f"app/{app}/cache-password"


def cache_target(admin: RedisTarget, secrets: SecretStore, res: Resource) -> RedisTarget:
    """How the app of ``res`` logs in to Redis (for its REDIS_URL)."""
    password = secrets.password(password_name(res.app))
    return admin.login(res.spec["user"], password)


class CacheProvider:
    def __init__(self, acl: RedisAcl, secrets: SecretStore) -> None:
        self.acl, self.secrets = acl, secrets

    def observe(self, res: Resource) -> Observed:
        user = self.acl.observe_user(res.spec["user"])
        if user is None:
            return MISSING
        password = self.secrets.password(password_name(res.app))
        if not matches(user, app_grant(res.app), password):
            return Observed(True, ("ACL user differs from the spec (password, keys or state)",))
        if user.rules != self.acl.expected_rules(app_grant(res.app)):
            return Observed(True, ("ACL user may run other commands than an app may",))
        return Observed(True)

    def apply(self, res: Resource) -> None:
        password = self.secrets.password(password_name(res.app))
        self.acl.ensure_user(res.spec["user"], password, app_grant(res.app))

    def delete(self, res: Resource) -> None:
        self.acl.delete_user(res.spec["user"])
