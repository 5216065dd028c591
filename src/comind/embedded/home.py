"""The state directory (``$COMIND_HOME``): one place for engine data, secrets and state.

Layout::

    postgres/data   PostgreSQL cluster        redis/          Redis AOF + config
    objects/        object store root         logs/           JSON logs, engine logs, apps/
    secrets/        generated passwords, 0600 state.json      what the running platform reports
    comind.lock     held by the running platform
    git/            checkouts of git-URL repos restores/       restored copies
    metrics/<flow>/ flow workers' metrics     tls/            a self-signed certificate
    monitoring/     Prometheus, Alertmanager  apps/<app>/     an app's HOME and code

Secrets are generated once and reused, so data written under one password stays
reachable after ``down``/``up``.

**Private throughout.** :meth:`StateDir.create` sets the process's umask to 077 and
:meth:`StateDir.secure` takes group and other bits off everything already there (a state
directory of an older version, a file another process wrote), so files are 0600 and
directories 0700 whatever the caller's umask. The exceptions are the directories other
OS users must cross (:data:`CROSSED`): as root they are ``root:comind`` 0710, so
PostgreSQL (user ``comind``) reaches its data and a restored copy, and an app's user (in
that group) its own ``apps/<app>/`` (a flow's workers their ``metrics/<flow>/``), without
listing or reading anything else.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from comind.embedded.osuser import state_group
from comind.embedded.state import PlatformState
from comind.errors import ComindError

PRIVATE_UMASK = 0o077
# relative to the root: the directories others cross (metrics: flow workers' own folders)
CROSSED = ("", "apps", "restores", "metrics")


class StateDir:
    """Paths and small files of one platform's state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.postgres / "data"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def engine_log(self, engine: str) -> Path:
        """The output of one engine process (postgres, redis, prometheus...)."""
        return self.logs / f"{engine}.log"

    @property
    def app_logs(self) -> Path:
        """The output of the apps the platform runs, one file per app."""
        return self.logs / "apps"

    @property
    def up_log(self) -> Path:
        """What a platform started in the background printed (``comind up --detach``)."""
        return self.logs / "up.out"

    @property
    def git(self) -> Path:
        """Checkouts of the git-URL repos a platform follows."""
        return self.root / "git"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def restores(self) -> Path:
        """Where restores and verifications build their copies."""
        return self.root / "restores"

    @property
    def worker_metrics(self) -> Path:
        """Where flow workers write their metrics for the platform to merge."""
        return self.root / "metrics"

    @property
    def apps(self) -> Path:
        """Each app's own directory (``apps/<app>/``: its HOME and its code)."""
        return self.root / "apps"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    def monitoring(self, engine: str) -> Path:
        """The data and configuration of a monitoring engine (prometheus, alertmanager)."""
        return self.root / "monitoring" / engine

    @property
    def sealing_keys(self) -> Path:
        return self.secrets / "sealing"

    @property
    def lock_file(self) -> Path:
        return self.root / "comind.lock"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def create(self) -> None:
        """Make the directory tree, private (see the module's docstring); refuse a path that
        is not a usable directory. From here on this process creates private files only."""
        if self.root.exists() and not self.root.is_dir():
            raise ComindError(f"state directory {self.root} is not a directory")
        os.umask(PRIVATE_UMASK)
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.postgres, self.redis, self.objects, self.logs, self.secrets,
                     self.apps, self.restores, self.worker_metrics):  # fmt: skip
            path.mkdir(exist_ok=True)
        self.secure()

    def secure(self) -> None:
        """Take group and other bits off everything below the root, then open the
        :data:`CROSSED` directories to the state directory's group (as root)."""
        for top, dirs, files in os.walk(self.root):
            for name in (*dirs, *files):
                _private(os.path.join(top, name))
        group = state_group()
        if group is not None and self.restores.stat().st_uid != os.geteuid():
            os.chown(self.restores, os.geteuid(), group)  # given away before (red team 19a L6)
        for relative in CROSSED:
            path = self.root / relative
            if group is not None and path.stat().st_uid == os.geteuid():
                os.chown(path, -1, group)
            path.chmod(0o710 if group is not None else 0o700)

    def engine_url(self, engine: str, given: str | None) -> str | None:
        """Where the external ``engine`` (postgres, redis) this platform runs on is: ``given``
        (a COMIND_*_URL), else the one kept by :meth:`keep_engine_url`; None: embedded."""
        path = self.secrets / f"{engine}-url"
        if given:
            return given
        return (path.read_text().strip() or None) if path.exists() else None

    def keep_engine_url(self, engine: str, url: str) -> None:
        """Keep ``url`` (0600, it holds a password) for every later command on this state
        directory; written once the platform started on it, so a refused one is not kept."""
        fd = os.open(self.secrets / f"{engine}-url", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(url + "\n")

    def secret(self, name: str) -> str:
        """The secret ``name``, generated on first use and kept with mode 0600."""
        path = self.secrets / name
        if path.exists():
            value = path.read_text().strip()
            if value:
                return value
        value = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value

    def read_state(self) -> PlatformState | None:
        """The last state the platform wrote, or None when there is none; an unreadable or
        malformed file is one error naming it."""
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ComindError(f"state file {self.state_file} is unreadable: {exc}") from None
        return PlatformState.parse(data, origin=f"state file {self.state_file}")

    def write_state(self, state: PlatformState) -> None:
        """Replace state.json atomically so readers never see half a document."""
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(state.dump(), indent=2, sort_keys=True))
        tmp.replace(self.state_file)


def _private(path: str) -> None:
    """Only the owner's bits on ``path`` (a symlink is left alone: it has no mode)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    except (FileNotFoundError, PermissionError):  # gone while we walked; not ours to change
        pass
