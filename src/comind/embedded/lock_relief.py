"""Relief for a PostgreSQL whose shared lock table is full.

Session advisory locks outlive their session's errors and count against the cluster-wide
lock table, as do a transaction's temporary tables; once the table is full, every session
that needs an entry fails with "out of shared memory", new logins included, and the health
check with them (red team 21g F5: a flow's code did this in one statement; 21h H1: from
fourteen sessions of one login, none holding many). Restarting the server would drop every
app's connections and their work in flight, and the holder would log in again and fill the
table again. So the engine keeps one superuser session open while the server answers
(PostgreSQL reserves connection slots for superusers) and, when a login fails for that
reason (and no other: a slow answer on a loaded machine ends no one), asks through it which
login that is not a superuser (nor the backups') holds the most locks, over all its sessions;
when that is more than :data:`MANY`, each of its sessions is ended with SIGTERM, which is what
``pg_terminate_backend`` sends. (That function checks the caller's role in a shared
catalog, whose lock would need an entry of the full table; the statement that finds the
login reads only functions and views of its own database, which take none.) A server whose
held session answers is running, whether or not anyone was ended: restarting it would not
help whoever cannot log in.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import psycopg

from comind.embedded.process import pid_alive
from comind.observe.metrics import LOCK_HOLDERS_ENDED
from comind.spec.names import BACKUP_ROLE

log = logging.getLogger("comind.supervisor")

MANY = 1000  # locks no platform or app login holds at once in normal work
LOCK_TABLE_FULL = "out of shared memory"  # PostgreSQL's message (SQLSTATE 53200)

# pg_stat_get_activity, not pg_stat_activity: that view joins pg_authid and pg_database,
# shared catalogs, whose locks would need the full table
_HOLDER = """
SELECT h.login, h.locks, h.pids FROM (
    SELECT a.usesysid::bigint AS login, count(*) AS locks, array_agg(DISTINCT l.pid) AS pids
    FROM pg_locks l JOIN pg_stat_get_activity(NULL) a ON a.pid = l.pid
    WHERE l.pid <> pg_backend_pid() AND a.usesysid::bigint <> ALL(%(spared)s::bigint[])
    GROUP BY a.usesysid ORDER BY locks DESC LIMIT 1) h
WHERE h.locks > %(many)s
"""


class LockRelief:
    """The superuser session held for relief (``conninfo`` gives its connection string)."""

    def __init__(self, conninfo: Callable[[], str]) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None
        # the superusers, and the backups' login: a dump of a database of many tables holds
        # many locks for good reason (red team 21i L4)
        self._spared: list[int] = []

    def ready(self) -> None:
        """Hold the session (opened again after a restart) and note who is spared (the
        backups' login may be made after the engine starts); called while the server answers."""
        for _ in range(2):  # the held session, or a new one if the server restarted
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self._conninfo(), autocommit=True,
                                                 connect_timeout=2)  # fmt: skip
                rows = self._conn.execute("SELECT oid FROM pg_roles WHERE rolsuper OR "
                                          "rolname = %s", (BACKUP_ROLE,)).fetchall()  # fmt: skip
                self._spared = [int(r[0]) for r in rows]
                return
            except psycopg.Error as exc:
                log.debug("relief session not open: %s", exc)
                self.close()

    def relieve(self) -> bool:
        """Whether the server still answers the held session; when it does, the login
        holding the most locks is ended if it holds more than MANY."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            args = {"spared": self._spared, "many": MANY}
            row = self._conn.execute(_HOLDER, args).fetchone()
        except psycopg.Error as exc:
            log.debug("relief failed: %s", exc)
            self.close()
            return False
        if row is None:
            log.warning("postgres refuses new logins; no login holds more than %d locks", MANY)
            return True
        pids = [int(p) for p in row[2]]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError as exc:  # gone meanwhile, or not ours to signal
                log.debug("relief could not end %d: %s", pid, exc)
        LOCK_HOLDERS_ENDED.inc(len(pids))
        log.warning("postgres lock table full: ended %d session(s) of %s holding %d locks",
                    len(pids), self._login(pids, int(row[0])), row[1])  # fmt: skip
        return True

    def _login(self, pids: list[int], oid: int) -> str:
        """The ended login's name, once its sessions and their locks are gone (a second at
        most: until then the look-up, in a shared catalog, needs the full table)."""
        assert self._conn is not None
        deadline = time.monotonic() + 1.0
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            row = self._conn.execute("SELECT rolname FROM pg_roles WHERE oid = %s", (oid,))
            found = row.fetchone()
        except psycopg.Error:
            return f"role {oid}"
        return str(found[0]) if found else f"role {oid}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
