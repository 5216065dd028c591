"""Which platform repository ``comind up`` follows, and its spec.

``--repo`` may be a directory or a URL ``git`` can clone; without it the current
directory is used when it holds a comind.yaml, else the bundled example. A URL, or a
directory inside a Git work tree on a branch, is followed as Git: what is committed on the
branch (``--branch``, else the checked-out one) is what runs, tied to its commit SHA. A
plain directory is followed as it is on disk.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from comind.errors import ComindError, UsageError
from comind.gitops.folder import FolderSource
from comind.gitops.source import GitSource
from comind.gitops.sync import Source
from comind.spec import Spec, SpecError, load_spec

_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True)
class Repo:
    source: Source
    path: Path  # the spec's directory at the source's current revision (for validation)
    follows: str  # what is followed, for people (credentials redacted)


def bundled_example() -> Path:
    """examples/shop from the package (wheel install) or the source checkout."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[1] / "_examples" / "shop",
        here.parents[3] / "examples" / "shop",
    ):
        if (candidate / "comind.yaml").exists():
            return candidate
    raise ComindError("the bundled example is missing from this installation; pass --repo")


def resolve(repo: str | None, *, branch: str | None, checkouts: Path) -> Repo:
    """The source to follow and its spec directory now."""
    if repo is not None and _URL.match(repo):
        return _git(repo, branch or "main", "", checkouts)
    path = _directory(repo)
    top, current = _work_tree(path)
    if top is None or (branch or current) is None:
        return Repo(FolderSource(path), path, str(path))
    return _git(str(top), str(branch or current), str(path.relative_to(top)), checkouts)


def _directory(repo: str | None) -> Path:
    if repo is None:
        cwd = Path.cwd()
        return cwd if (cwd / "comind.yaml").exists() else bundled_example()
    path = Path(repo).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    return path


def _work_tree(path: Path) -> tuple[Path | None, str | None]:
    """The Git work tree holding ``path`` and its checked-out branch (None when detached)."""

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                              check=False)  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD") if top else None
    return (Path(top).resolve() if top else None), branch


def _git(url: str, ref: str, sub: str, checkouts: Path) -> Repo:
    workdir = checkouts / hashlib.sha256(f"{url}#{ref}".encode()).hexdigest()[:12]
    source = GitSource(url, ref=ref, path="" if sub == "." else sub, workdir=workdir)
    path = source.checkout(source.fetch())
    return Repo(source, path, f"{source.display_url} ({ref}{', ' + sub if sub != '.' else ''})")


class SpecInvalid(UsageError):
    """The spec has errors; ``issues`` keeps them for machine-readable output."""

    def __init__(self, error: SpecError) -> None:
        super().__init__(str(error))
        self.issues = error.issues


def load(path: Path, env: str | None) -> Spec:
    """The validated spec, or :class:`SpecInvalid` listing every problem (one per line)."""
    try:
        return load_spec(path, env=env)
    except SpecError as exc:
        raise SpecInvalid(exc) from None
