"""Following a Git repository: fetch it, name its commits, materialize its revisions.

An environment follows one ref (a branch or a tag) of one repository, optionally a
sub-directory of it. :class:`GitSource` keeps a bare copy under ``workdir/repo.git``
and guarantees:

- **Every answer is a full commit SHA.** ``fetch()`` and ``resolve()`` peel tags to
  the commit they name, so a sync is always tied to one immutable commit.
- **The remote is followed, not merged.** Branches and tags are force-updated and
  pruned on every fetch, so a force-push or a moved tag is seen as it is upstream.
- **git never waits for a human.** It runs in a new session with no terminal, no
  prompt (``GIT_TERMINAL_PROMPT=0``, ssh ``BatchMode``), no askpass helper, no system
  or user configuration, and a timeout after which its whole process group is killed.
- **No credential leaks.** ``user:password@`` and ``https://TOKEN@`` are removed from
  every error message and log line and from every command line: git gets the URL without
  them and the login through its environment (:func:`comind.gitops.git.login_env`); the
  URL is never stored in the bare repository's config.
- **A revision directory is complete or absent.** ``checkout()`` writes the tree into
  a temporary directory and renames it into ``revisions/<sha>`` in one step; the
  newest ``keep`` other revisions are kept, the rest are removed.
- **One writer at a time.** ``fetch()`` and ``checkout()`` hold a lock, so the poller
  and a webhook may call them at once.

git's environment, credential redaction and commit parsing are in :mod:`comind.gitops.git`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from comind.gitops.git import (
    LOG_FORMAT,
    Commit,
    GitError,
    check_name,
    credentials,
    git_env,
    last_line,
    login_env,
    parse_commits,
    redact_url,
    split_login,
    verb,
)
from comind.observe.logs import redact

log = logging.getLogger("comind.gitops.source")

_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def _check_path(path: str) -> str:
    pure = PurePosixPath(path.strip("/")) if path else PurePosixPath()
    if path.startswith("/") or ".." in pure.parts:
        raise GitError(f"invalid repository sub-path {path!r}: must be relative, without '..'")
    return "" if str(pure) == "." else str(pure)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class GitSource:
    """One followed ref of one repository, mirrored under ``workdir``."""

    def __init__(
        self,
        url: str,
        *,
        ref: str = "main",
        path: str = "",
        workdir: Path,
        keep: int = 5,
        timeout: float = 120.0,
    ) -> None:
        check_name("repository URL", url, spaces=True)
        check_name("ref", ref)
        if ref.startswith("refs/") and not ref.startswith(("refs/heads/", "refs/tags/")):
            raise GitError(f"ref {ref!r} is neither a branch nor a tag")
        if keep < 0:
            raise GitError(f"keep must be >= 0, not {keep}")
        local = Path(url).expanduser()
        self.url = str(local.resolve()) if local.is_dir() else url
        self.ref = ref
        self.path = _check_path(path)
        self.workdir = Path(workdir).resolve()
        self.keep = keep
        self.timeout = timeout
        self._secrets = credentials(url)
        for secret in self._secrets:
            redact(secret)
        self._remote, login = split_login(self.url)
        self._login = login_env(login)
        self._repo = self.workdir / "repo.git"
        self._revisions = self.workdir / "revisions"
        self._env = git_env(self.workdir)
        self._lock = threading.Lock()
        self.pinned: set[str] = set()

    @property
    def display_url(self) -> str:
        """The repository URL with any credential replaced by ``***``."""
        return redact_url(self.url)

    def fetch(self) -> str:
        """Bring the copy up to date with the remote; return the followed ref's SHA."""
        with self._lock:
            if (self._repo / "HEAD").is_file():
                argv = self._argv("fetch", "--prune", "--force", "--quiet", self._remote)
                self._run([*argv, *_REFSPECS], env=self._login)
            else:
                self._clone()
            sha = self._ref_sha()
        log.info("fetched %s %s at %s", self.display_url, self.ref, sha[:12])
        return sha

    def resolve(self, rev: str) -> str:
        """The full commit SHA for a full or short SHA, a branch or a tag."""
        check_name("revision", rev)
        self._require_repo()
        for candidate in (f"refs/heads/{rev}", f"refs/tags/{rev}", rev):
            sha = self._rev_parse(candidate)
            if sha is not None:
                return sha
        raise GitError(f"unknown revision {rev!r} in {self.display_url}")

    def followed(self, rev: str) -> str:
        """The SHA of ``rev`` when it is in the followed ref's history (as of the last fetch),
        else GitError: a branch nobody reviewed into the followed one never deploys."""
        sha = self.resolve(rev)
        head = self._ref_sha()
        code, _, _ = self._run_raw(self._argv("merge-base", "--is-ancestor", sha, head))
        if code != 0:
            raise GitError(f"revision {rev} is not in the history of {self.ref}: only what "
                           f"{self.ref} holds is deployed")  # fmt: skip
        return sha

    def commit(self, sha: str) -> Commit:
        """Metadata of one commit (any revision ``resolve()`` accepts)."""
        full = self.resolve(sha)
        return parse_commits(self._git("log", "-z", "-n", "1", LOG_FORMAT, full, "--"))[0]

    def history(self, limit: int = 20) -> list[Commit]:
        """The newest ``limit`` commits of the followed ref, newest first."""
        if limit < 1:
            return []
        self._require_repo()
        head = self._ref_sha()
        return parse_commits(self._git("log", "-z", "-n", str(limit), LOG_FORMAT, head, "--"))

    def describe(self, revision: str) -> dict[str, object]:
        """JSON-ready facts about ``revision`` for records and sync gates."""
        commit = self.commit(revision)
        return {
            "revision": commit.sha,
            "source": self.display_url,
            "ref": self.ref,
            "path": self.path,
            "author": f"{commit.author} <{commit.email}>",
            "committed_at": commit.committed_at.isoformat(),
            "subject": commit.subject,
            "signed_off": commit.signed_off,
            "trailers": commit.trailers,
        }

    def checkout(self, sha: str) -> Path:
        """The tree at ``sha`` as ``revisions/<full sha>/<path>``, created if needed."""
        with self._lock:
            full = self.resolve(sha)
            target = self._revisions / full
            if not target.is_dir():
                self._materialize(full, target)
            os.utime(target)
            result = self._subpath(target, full)
            self._prune(current=target)
        return result

    # -- internals -------------------------------------------------------------

    def _clone(self) -> None:
        """First fetch: a bare clone into a temporary directory, renamed into place."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.workdir))
        try:
            bare = tmp / "repo.git"
            self._run(["git", "clone", "--bare", "--quiet", self._remote, str(bare)], self._login)
            self._run(["git", f"--git-dir={bare}", "remote", "remove", "origin"])
            os.replace(bare, self._repo)
        except OSError as exc:
            raise GitError(f"cannot create {self._repo}: {exc.strerror}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _ref_sha(self) -> str:
        if self.ref.startswith("refs/"):
            candidates = [self.ref]
        else:
            candidates = [f"refs/heads/{self.ref}", f"refs/tags/{self.ref}"]
        for candidate in candidates:
            sha = self._rev_parse(candidate)
            if sha is not None:
                return sha
        raise GitError(
            f"ref {self.ref!r} not found in {self.display_url}: no branch or tag of that name"
        )

    def _rev_parse(self, rev: str) -> str | None:
        argv = self._argv("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        code, out, _ = self._run_raw(argv)
        return out.strip() if code == 0 and out.strip() else None

    def _materialize(self, sha: str, target: Path) -> None:
        """Write the tree of ``sha`` into ``target`` atomically (temp dir, then rename)."""
        self._revisions.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self._revisions))
        try:
            tree = tmp / "tree"
            tree.mkdir()
            index = {"GIT_INDEX_FILE": str(tmp / "index")}
            self._git("read-tree", sha, env=index)
            self._git(f"--work-tree={tree}", "checkout-index", "--all", "--force", env=index)
            self._rename(tree, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _rename(self, tree: Path, target: Path) -> None:
        try:
            tree.rename(target)
        except OSError as exc:
            if not target.is_dir():
                raise GitError(f"cannot create {target}: {exc.strerror}") from None

    def _subpath(self, root: Path, sha: str) -> Path:
        result = root / self.path if self.path else root
        inside = result.resolve().is_relative_to(root.resolve())
        if not inside or not result.is_dir():
            raise GitError(
                f"path {self.path!r} is not a directory at {sha[:12]} in {self.display_url}"
            )
        return result

    def pin(self, *revisions: str) -> None:
        """Never prune these revisions' directories (apps run from them)."""
        self.pinned = set(revisions)

    def _prune(self, *, current: Path) -> None:
        """Remove all revision directories but ``current``, the pinned ones and the newest
        ``keep`` others."""
        others = [
            entry
            for entry in self._revisions.iterdir()
            if entry.is_dir()
            and not entry.name.startswith(".")
            and entry != current
            and entry.name not in self.pinned
        ]
        others.sort(key=_mtime, reverse=True)
        for old in others[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
            log.debug("removed old revision %s", old.name)

    def _require_repo(self) -> None:
        if not (self._repo / "HEAD").is_file():
            raise GitError(f"{self.display_url} has not been fetched yet")

    def _argv(self, *args: str) -> list[str]:
        return ["git", f"--git-dir={self._repo}", *args]

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self._run(self._argv(*args), env=env)

    def _run(self, argv: list[str], env: Mapping[str, str] | None = None) -> str:
        """Run git; its stdout, or GitError with git's last meaningful stderr line."""
        code, out, err = self._run_raw(argv, env=env)
        if code != 0:
            line = self._scrub(last_line(err))
            raise GitError(f"git {verb(argv)} failed for {self.display_url}: {line}")
        return out

    def _run_raw(
        self, argv: list[str], env: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                cwd=self.workdir if self.workdir.is_dir() else None,
                env={**self._env, **(env or {})},
                start_new_session=True,
            )
        except FileNotFoundError:
            raise GitError("git is not installed (not found on PATH)") from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise GitError(
                f"git {verb(argv)} timed out after {self.timeout:g}s for {self.display_url}"
            ) from None
        return proc.returncode, out, err

    def _scrub(self, text: str) -> str:
        text = redact_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill git and everything it started (ssh, remote helpers), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
