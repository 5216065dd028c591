"""A blank PostgreSQL server for one logical restore test: made by ``initdb`` in a scratch
directory, run as the live server's OS user with no TCP port (a socket in a directory of that
user's alone, an hba of its own), and removed with everything in it afterwards.

A dump holds code the app wrote, which runs as it is restored. Restored into a scratch
database of the live cluster, the test's roles were the live cluster's, where the app's own
sessions could see them, grant them something, hold that open and lock them (issue 21's
third red team: a stranded login with a password the app chose, restore tests stalled, a
platform that would not start). Here no session of an app's can reach anything, and nothing
the app's code does outlives the test.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from comind.backup.cluster import Cluster
from comind.backup.restore import SideCopy, start_side
from comind.embedded.postgres import SUPERUSER, init_cluster


@contextmanager
def blank_server(cluster: Cluster, scratch: Path) -> Iterator[SideCopy]:
    """A new empty server in ``scratch`` (made here, removed after), run with ``cluster``'s
    binaries as its OS user; its target is the blank server's own superuser."""
    scratch.mkdir(mode=0o700, parents=True)
    side: SideCopy | None = None
    try:
        cluster.run_as.chown(scratch)
        data, password = scratch / "data", secrets.token_urlsafe(24)
        init_cluster(cluster.bin_dir, data, password, cluster.run_as, durable=False)
        side = start_side(cluster, data, private=True, superuser=(SUPERUSER, password))
        yield side
    finally:
        if side is not None:
            side.stop(remove=True)
        shutil.rmtree(scratch, ignore_errors=True)
