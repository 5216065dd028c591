"""The OS users the platform runs other processes as, when it runs as root.

PostgreSQL refuses to run as root, and an app must not read the state directory. As root
we create (once) the system user ``comind`` for PostgreSQL, and one system user per app
(:func:`app_user_name`), each in the group ``comind``: the state directory and the few
directories below it that others must cross are ``root:comind`` mode 0710, so members may
traverse them (not list them) and reach only what they own.

Nothing outside the state directory is changed: a parent directory those users cannot
traverse is refused with one line saying what to change (:func:`require_traverse`),
rather than opened to every user of the machine. Without root everything runs as the
caller (``RunAs()``).

A process started with ``RunAs.popen`` gets exactly its user's group and the listed
supplementary groups, never the caller's (root's groups would otherwise be kept).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from comind.errors import ComindError

SERVICE_USER = "comind"
REDIS_USER = "comind-redis"
APP_USER_PREFIX = "comind-"
USER_NAME_MAX = 32  # useradd's limit on Linux
_PLAIN = re.compile(r"[a-z0-9][a-z0-9-]*")
_creating = threading.Lock()  # useradd locks /etc/passwd: one at a time


@dataclass(frozen=True)
class RunAs:
    """The uid/gid (and supplementary groups) a process runs as (None: the current user)."""

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()

    @property
    def other(self) -> bool:
        """True when this is another user than the platform's own."""
        return self.uid is not None

    @property
    def extra_groups(self) -> list[int] | None:
        """``subprocess.Popen(extra_groups=...)``: exactly ours, or unchanged (None)."""
        return list(self.groups) if self.other else None

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def can_traverse(self, directory: Path) -> bool:
        """Whether this user may cross ``directory`` (its execute bit for them)."""
        info = directory.stat()
        if self.uid is None or self.uid == 0:
            return os.access(directory, os.X_OK)
        if info.st_uid == self.uid:
            return bool(info.st_mode & stat.S_IXUSR)
        if info.st_gid == self.gid or info.st_gid in self.groups:
            return bool(info.st_mode & stat.S_IXGRP)
        return bool(info.st_mode & stat.S_IXOTH)


def service_user() -> RunAs:
    """The user PostgreSQL must run as: the caller, or ``comind`` when the caller is root."""
    if os.geteuid() != 0:
        return RunAs()
    entry = _user(SERVICE_USER)
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def redis_user() -> RunAs:
    """The user Redis runs as: the caller, or ``comind-redis`` when the caller is root (in
    the ``comind`` group, so it crosses the state directory; not PostgreSQL's user, so an
    escape from Redis' Lua reaches neither the platform's files nor the database's)."""
    if os.geteuid() != 0:
        return RunAs()
    group = service_user().gid
    assert group is not None
    entry = _user(REDIS_USER)
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, groups=(group,))


def state_group() -> int | None:
    """The group that may traverse the state directory (``comind``'s), None without root."""
    return service_user().gid


def app_user_name(app: str, home: Path) -> str:
    """``comind-<platform>-<app>``: lower-case letters, digits and '-', at most 32 characters;
    ``<platform>`` is 6 hex digits of the state directory's path, so the apps of two platforms
    on one host never share a user (one could read the other's environment through /proc).

    An app name that is not of that form or too long (a flow's account, ``flow.NAME``) is
    shortened and suffixed with a digest of it after an underscore, which no app name (a
    DNS label) holds: two accounts never share a user (red team 21f H7: an app named like
    a flow's digest form was given the flow's user), and the name never changes."""
    prefix = f"{APP_USER_PREFIX}{hashlib.sha256(str(home).encode()).hexdigest()[:6]}-"
    room = USER_NAME_MAX - len(prefix)
    if _PLAIN.fullmatch(app) and len(app) <= room:
        return prefix + app
    digest = hashlib.sha256(app.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9-]", "-", app.lower())[: room - len(digest) - 1].strip("-")
    return f"{prefix}{slug or 'app'}_{digest}"


def app_user(app: str, home: Path) -> RunAs:
    """The user ``app`` of the platform at ``home`` runs as: its own (created on first use)
    when the caller is root, in the group ``comind`` so it can cross the state directory;
    else the caller."""
    service = service_user()
    if service.gid is None:
        return RunAs()
    name = app_user_name(app, home)
    entry = _user(name, "--groups", SERVICE_USER, "--comment", _account(app, home))
    if entry.pw_gecos not in (_account(app, home), ""):  # "": made before accounts were noted
        raise ComindError(f"system user {name} belongs to another account ({entry.pw_gecos}), "
                          f"not {app}: rename the app")  # fmt: skip
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, groups=(service.gid,))


def _account(app: str, home: Path) -> str:
    """What a user's comment says it is for (its digest alone could be matched)."""
    return f"comind {app} {hashlib.sha256(str(home).encode()).hexdigest()[:6]}"


def unreachable(path: Path, run_as: RunAs) -> str | None:
    """Why ``run_as`` cannot reach ``path`` through its ancestors, with what to change
    (one line); None when it can."""
    if not run_as.other:
        return None
    for parent in reversed(path.absolute().parents):
        if not run_as.can_traverse(parent):
            name = _name(run_as.uid or 0)
            mode = stat.S_IMODE(parent.stat().st_mode)
            return (f"user {name!r} cannot reach {path}: {parent} is not open to it (mode "
                    f"{mode:o}); let it through with `chmod o+x {parent}` or `setfacl -m "
                    f"u:{name}:x {parent}`")  # fmt: skip
    return None


def require_traverse(path: Path, run_as: RunAs) -> None:
    """Refuse, in one line, a ``path`` whose ancestors ``run_as`` cannot cross."""
    why = unreachable(path, run_as)
    if why is not None:
        raise ComindError(f"{why}, or choose a state directory (--home, COMIND_HOME) others "
                          "may traverse to")  # fmt: skip


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _user(name: str, *options: str) -> pwd.struct_passwd:
    """The system user ``name``, created (with a group of its own, no home, no login
    shell, ``options``) when it does not exist."""
    with _creating:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        cmd = [useradd, "--system", "--user-group", "--no-create-home",
               "--shell", "/usr/sbin/nologin", *options, name]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ComindError(f"cannot create system user {name!r}: {result.stderr.strip()}")
        return pwd.getpwnam(name)
