"""What control-plane replicas keep in the platform database (comind.platform.replicas says
what they are): the leader's advisory lock, held on a session of the leader's own, the row
naming the leader, and the shared secrets, sealed by the replicas before they get here."""

from __future__ import annotations

from dataclasses import dataclass

from comind.stores.postgres import Connection, PgTarget, connect
from comind.stores.queries import named

_sql = named("comind.stores", "replicas")
KEEPALIVES = (
    ("tcp_keepalives_idle", 3),
    ("tcp_keepalives_interval", 1),
    ("tcp_keepalives_count", 3),
)
LOCK_KEY = 0x636F6D696E6401  # the leader's advisory lock (0x636F6D696E64 migrates)


@dataclass(frozen=True)
class Leader:
    replica: str
    api_url: str


class ReplicaState:
    def __init__(self, db: PgTarget) -> None:
        self.db = db
        self._session: Connection | None = None

    def try_lead(self, replica: str, api_url: str) -> bool:
        """Take the leader's lock if it is free, on a session kept while this process
        leads, and record who leads."""
        if self._session is None or self._session.closed:
            self._session = connect(self.db)
            # the server probes this session's peer every second after 3 s idle: a leader
            # whose machine is gone (no FIN sent) loses the lock in about 6 s, not TCP's hours
            for setting, value in KEEPALIVES:
                self._session.execute(f"SET {setting} = {value}")
        row = self._session.execute(_sql("lead"), {"key": LOCK_KEY}).fetchone()
        if not (row and row[0]):
            return False
        self._session.execute(_sql("record_leader"), {"replica": replica, "api_url": api_url})
        return True

    def still_leading(self) -> bool:
        """Whether the lock's session still answers (the lock lives as long as it does)."""
        if self._session is None or self._session.closed:
            return False
        self._session.execute("SELECT 1")
        return True

    def leader(self) -> Leader | None:
        with connect(self.db) as conn:
            row = conn.execute(_sql("leader")).fetchone()
        return None if row is None else Leader(row[0], row[1])

    def secrets(self) -> bytes | None:
        with connect(self.db) as conn:
            row = conn.execute(_sql("secrets")).fetchone()
        return None if row is None else bytes(row[0])

    def publish(self, sealed: bytes, digest: str) -> None:
        with connect(self.db) as conn:
            conn.execute(_sql("publish"), {"sealed": sealed, "digest": digest})

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
