"""Running PostgreSQL as an unprivileged user when the platform runs as root.

PostgreSQL refuses to run as root. As root we create (once) the system user
``comind``, give it the data directory, and make sure it can traverse to the
binaries and the state directory; everything else runs as the caller.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from comind.errors import ComindError

SERVICE_USER = "comind"


@dataclass(frozen=True)
class RunAs:
    """The uid/gid engine processes run as (None: the current user)."""

    uid: int | None = None
    gid: int | None = None

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def service_user() -> RunAs:
    """The user PostgreSQL must run as: the caller, or ``comind`` when the caller is root."""
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        entry = _create_user()
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _create_user() -> pwd.struct_passwd:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    result = subprocess.run([*cmd, SERVICE_USER], capture_output=True, text=True, check=False)
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise ComindError(f"cannot create system user {SERVICE_USER!r}: {result.stderr.strip()}")
    return pwd.getpwnam(SERVICE_USER)


def allow_traverse(path: Path) -> None:
    """Let other users traverse every ancestor of ``path`` (o+x), as PostgreSQL needs."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
