"""Per-app access keys: issued once per app, rotatable, secrets sealed at rest.

``ensure`` gives an app its key (creating one the first time); ``rotate`` issues a
new key and revokes the old ones; ``lookup`` resolves an access key id to its app and
secret for request authentication. Every SQS request needs a lookup, so lookups are
cached for one second: a key revoked by another process stops working within a second
(a rotation in this process clears the cache at once).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from comind.governance.sealing import Sealer
from comind.stores.postgres import Pool
from comind.stores.queries import named

_sql = named("comind.apps", "credentials")

CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class AppKey:
    app: str
    access_key_id: str
    secret: str = field(repr=False)


class Credentials:
    """The credential store over the platform database."""

    def __init__(self, pool: Pool, sealer: Sealer) -> None:
        self.pool, self.sealer = pool, sealer
        self._cache: dict[str, tuple[float, AppKey | None]] = {}
        self._lock = threading.Lock()

    def ensure(self, app: str) -> AppKey:
        """The app's active key, issued now if it has none."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("active_for_app"), {"app": app}).fetchone()
        if row is None:
            return self.rotate(app)
        key_id, sealed = row
        return AppKey(app, key_id, self.sealer.open(bytes(sealed), context=key_id))

    def rotate(self, app: str) -> AppKey:
        """Issue a new key for ``app`` and revoke every older one."""
        key = AppKey(app, "AKCM" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        sealed = self.sealer.seal(key.secret, context=key.access_key_id)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                _sql("issue"),
                {"access_key_id": key.access_key_id, "app": app, "secret": sealed},
            )
            conn.execute(_sql("revoke_app"), {"app": app, "keep": key.access_key_id})
        with self._lock:
            self._cache.clear()
        return key

    def lookup(self, access_key_id: str) -> AppKey | None:
        """The active key ``access_key_id`` names, or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(access_key_id)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self.pool.connection() as conn:
            row = conn.execute(_sql("by_key"), {"access_key_id": access_key_id}).fetchone()
        key = None
        if row is not None:
            app, sealed = row
            key = AppKey(app, access_key_id, self.sealer.open(bytes(sealed), context=access_key_id))
        with self._lock:
            self._cache[access_key_id] = (now, key)
        return key
