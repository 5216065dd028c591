"""Which platform repository ``comind up`` follows, and its spec.

``--repo`` may be a directory or a URL ``git`` can clone; without it the current
directory is used when it holds a comind.yaml, else the bundled example. A URL is
cloned (shallow, at ``--branch``) under the state directory.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from comind.errors import ComindError, UsageError
from comind.spec import Spec, SpecError, load_spec

_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


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


def resolve(repo: str | None, *, branch: str | None, home: Path) -> Path:
    """The local directory of the platform repository to follow."""
    if repo is None:
        cwd = Path.cwd()
        return cwd if (cwd / "comind.yaml").exists() else bundled_example()
    if _URL.match(repo):
        return _clone(repo, branch=branch, home=home)
    path = Path(repo).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    return path


def _clone(url: str, *, branch: str | None, home: Path) -> Path:
    target = home / "repos" / hashlib.sha256(url.encode()).hexdigest()[:12]
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    argv = ["git", "clone", "--quiet", "--depth", "1", *(["--branch", branch] if branch else [])]
    result = subprocess.run([*argv, url, str(target)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ComindError(f"git clone {url} failed: {result.stderr.strip().splitlines()[-1:]}")
    return target


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
