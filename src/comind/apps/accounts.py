"""Each app as an OS user of its own: who its processes run as, its HOME, its code.

As root the platform runs app ``orders`` as the system user ``comind-<platform>-orders``
(:func:`comind.embedded.osuser.app_user`, created on its first deploy), never as root, so
an app's ``run`` (and its health command) cannot read the state directory: secrets, the
engines' data, other apps' files. It gets::

    $COMIND_HOME/apps/                  root:comind 0710 (members cross it, cannot list it)
      <app>/                            root:<the app's group> 0710
        home/                           the app's user, 0700: HOME, its own to write
        code/                           root:<the app's group> 0710
          <revision>/                   the app's user: a copy of the checkout (its cwd)
        ca/                             root:<the app's group> 0750: the CA copies, 0640

Whatever the platform (root) creates, changes or removes there is in a directory of root's,
so an app cannot put a symlink where root will look: a ``code`` swapped for a link to ``/``
made root chmod and empty the link's target (red team 21f H0). Directories are opened
without following links (``O_NOFOLLOW``) and set through their descriptor; a copy is made in
a private temporary directory of root's and given to the app whole.

The code is a *copy*, owned by the app's user, because checkouts live in
``$COMIND_HOME/git`` (private to the platform). Symlinks are copied as links, never
followed by the platform, so a link in the repository to a secret reaches only what the
app's user could reach anyway. Only the copies of the revisions its instances run are kept.
The CA certificates an app is pointed to (``AWS_CA_BUNDLE``, ``PGSSLROOTCERT``, the
``ssl_ca_certs`` of a ``rediss://`` ``REDIS_URL``: public certificates in private folders)
are copied into its ``ca/``.

Without root (:attr:`AppAccounts.isolated` false) apps run as the platform's user from
the checkout itself, with a HOME of their own: they can read whatever that user can,
including the state directory. The platform logs that once; ``comind status`` shows it.
Flow workers run app code (their steps) too: each flow's workers and jobs run as one OS
user of the flow's (``AppSpec.account`` ``flow.NAME``), given everything in their
environment (platform/worker_env.py). ``AppSpec.isolated`` false (the platform's own user,
from the checkout) is left for runtimes without accounts.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from comind.apps.env import environment, leashed
from comind.apps.model import AppSpec
from comind.embedded.osuser import RunAs, app_user, require_traverse, state_group, unreachable

log = logging.getLogger("comind.apps")

# files apps (and flow workers) are pointed to that they may not reach
OWN_COPIES = ("AWS_CA_BUNDLE", "PGSSLROOTCERT", "COMIND_WORKER_REDIS_CA")
URL_CA = ("REDIS_URL", "ssl_ca_certs", "redis-ca.crt")  # a URL naming one: variable, query, copy


@dataclass(frozen=True)
class Account:
    """Who one instance runs as, its working directory, and what its environment changes."""

    user: RunAs
    code: Path
    home: Path | None = None  # None: the platform's HOME (bare runtimes)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def environment(
        self, declared: Mapping[str, str], port: int | None = None, host: str = "127.0.0.1"
    ) -> dict[str, str]:
        """What a process of this account gets (apps/env.py), ``declared`` included."""
        return environment(self.code, declared, port, home=self.home, replaced=self.env,
                           host=host)  # fmt: skip

    def start(
        self, command: str, env: Mapping[str, str], *, stdin: int, stderr: int
    ) -> subprocess.Popen[bytes]:
        """``command`` as this account, in its code, leashed (apps/leash.py), in a session
        of its own, its standard output piped."""
        return subprocess.Popen(leashed(command), cwd=self.code, env=env, user=self.user.uid,
                                group=self.user.gid, extra_groups=self.user.extra_groups,
                                stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                                start_new_session=True)  # fmt: skip


def skipping(state: Path) -> Callable[[str, list[str]], set[str]]:
    """``copytree``'s ``ignore`` for an app's code: the platform's state directory when the
    repository holds it (``comind up`` in a repo with the default ``.comind``), which holds
    the copy being made: copying it would copy itself until the disk is full."""
    state = state.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == state.name and (Path(folder) / n).resolve() == state}

    return ignore


def shared(spec: AppSpec) -> Account:
    """The platform's own user, from the checkout itself."""
    return Account(RunAs(), spec.cwd)


class AppAccounts:
    """The OS users, HOMEs and code copies of the apps under ``root``
    (``$COMIND_HOME/apps``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.isolated = state_group() is not None
        self._checked: set[str] = set()
        self.users: dict[str, int] = {}  # account -> uid, of the accounts opened
        if not self.isolated:
            log.warning(
                "apps run as the platform's own user (uid %d): only a platform running as "
                "root gives each app an OS user of its own, so apps can read what this user "
                "can, the state directory included",
                os.geteuid(),
            )

    def open(self, spec: AppSpec, *, keep: Collection[str] | None = ()) -> Account:
        """The account an instance of ``spec`` runs in, ready to launch; the code copies
        of revisions other than ``spec``'s and ``keep`` are removed (None: none is)."""
        name = spec.account_name
        user = app_user(name, self.root.resolve()) if self.isolated else RunAs()
        if not user.other:
            own = _directory(self.root / name, RunAs(), 0o700)
            return Account(user, spec.cwd, _directory(own / "home", RunAs(), 0o700))
        self.users[name] = user.uid or 0
        root = RunAs(0, user.gid)  # the platform's, crossed by the app's group
        own = _directory(self.root / name, root, 0o710, take_back=True)
        home = _directory(own / "home", user, 0o700)
        require_traverse(home, user)
        self._check_python(name, user)
        code, ca = _directory(own / "code", root, 0o710), _directory(own / "ca", root, 0o750)
        copies = {name: str(_copy_file(spec.env[name], ca / Path(spec.env[name]).name, root))
                  for name in OWN_COPIES if name in spec.env}  # fmt: skip
        name, query, copy = URL_CA
        if name in spec.env:
            copies[name] = _url_with_copy(spec.env[name], query, ca / copy, root)
        return Account(user, self._export(spec, code, user, keep), home, copies)

    def _check_python(self, app: str, user: RunAs) -> None:
        """Warn once per app when its user cannot run ``python`` (the platform's, first on
        its PATH): a Python installed in root's home (pyenv) is closed to other users."""
        python = Path(os.path.realpath(sys.executable))
        why = unreachable(python, user) if app not in self._checked else None
        self._checked.add(app)
        if why is not None:
            log.warning("app %s cannot run the platform's Python: %s, or build the platform's "
                        "virtualenv from a Python all users can run (make PYTHON=/usr/bin/python3)",
                        app, why)  # fmt: skip

    def _export(self, spec: AppSpec, code: Path, user: RunAs, keep: Collection[str] | None) -> Path:
        target = code / _folder(spec.revision)
        if not target.is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=code))
            try:
                shutil.copytree(spec.cwd, tmp / "tree", symlinks=True,
                                ignore=skipping(self.root.parent))  # fmt: skip
                _give(tmp / "tree", user)
                (tmp / "tree").rename(target)
            except OSError:
                if not target.is_dir():  # else another instance's copy won the race
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        if keep is None:
            return target
        wanted = {target.name, *(_folder(revision) for revision in keep)}
        for old in code.iterdir():
            if old.name not in wanted:
                shutil.rmtree(old, ignore_errors=True)
        return target


def _directory(path: Path, owner: RunAs, mode: int, *, take_back: bool = False) -> Path:
    """``path`` a real directory of ``owner``'s with ``mode``: whatever else is found in its
    place (a link, a file, a directory of the app's where root's belongs, unless
    ``take_back``) is removed first, and the owner and mode are set through a descriptor
    opened without following links."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        found = None
    foreign = found is not None and not take_back and _wrong_owner(found, owner)
    if found is not None and (not stat.S_ISDIR(found.st_mode) or foreign):
        _remove(path)
        found = None
    if found is None:
        path.mkdir(mode=0o700)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner.uid is not None and owner.gid is not None:
            os.fchown(fd, owner.uid, owner.gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


def _wrong_owner(found: os.stat_result, owner: RunAs) -> bool:
    """A directory root should own that is not root's (an older layout gave ``code/`` to the
    app: the copies are made again; the account's directory is taken back, its HOME kept)."""
    return owner.uid == 0 and found.st_uid != 0


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)  # fd-based on Linux: it never follows a link inside


def _folder(revision: str) -> str:
    return revision[:32]


def _give(tree: Path, user: RunAs) -> None:
    """Make everything under ``tree`` the user's alone (links are never followed)."""
    for top, dirs, files in os.walk(tree):
        for name in (*dirs, *files):
            _own(Path(top) / name, user)
    _own(tree, user)


def _own(path: Path, user: RunAs) -> None:
    user.chown(path)
    info = path.lstat()
    if not stat.S_ISLNK(info.st_mode):
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def _copy_file(source: str, copy: Path, owner: RunAs) -> Path:
    """``source`` copied to ``copy`` (in a directory of root's), 0640 ``owner``'s."""
    tmp = copy.with_name(f".{copy.name}.tmp")
    shutil.copyfile(source, tmp)
    owner.chown(tmp)
    tmp.chmod(0o640)
    tmp.replace(copy)
    return copy


def _url_with_copy(url: str, query: str, copy: Path, owner: RunAs) -> str:
    """``url`` naming ``copy`` of the file its ``query`` parameter names (unchanged without)."""
    parts = urlsplit(url)
    params = parse_qs(parts.query)
    if query not in params:
        return url
    params[query] = [str(_copy_file(params[query][0], copy, owner))]
    return urlunsplit(parts._replace(query=urlencode(params, doseq=True, safe="/")))
