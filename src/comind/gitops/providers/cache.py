"""Provider ``cache``: a Redis ACL user for the app, limited to keys ``APP:*``."""

from __future__ import annotations

from comind.gitops.providers.base import MISSING, Observed
from comind.gitops.resources import Resource
from comind.stores import redis_acl
from comind.stores.gitops_db import SecretStore
from comind.stores.redis import RedisTarget


def password_name(app: str) -> str:
    return f"app/{app}/cache-password"


class CacheProvider:
    def __init__(self, admin: RedisTarget, secrets: SecretStore) -> None:
        self.admin, self.secrets = admin, secrets

    def target(self, res: Resource) -> RedisTarget:
        """How the app logs in to Redis (for its REDIS_URL)."""
        password = self.secrets.password(password_name(res.app))
        return RedisTarget(self.admin.host, self.admin.port, password, username=res.spec["user"])

    def observe(self, res: Resource) -> Observed:
        user = redis_acl.observe_user(self.admin, res.spec["user"])
        if user is None:
            return MISSING
        password = self.secrets.password(password_name(res.app))
        if not redis_acl.matches(user, res.app, password):
            return Observed(True, ("ACL user differs from the spec (password, keys or state)",))
        return Observed(True)

    def apply(self, res: Resource) -> None:
        password = self.secrets.password(password_name(res.app))
        redis_acl.ensure_user(self.admin, res.spec["user"], res.app, password)

    def delete(self, res: Resource) -> None:
        redis_acl.delete_user(self.admin, res.spec["user"])
