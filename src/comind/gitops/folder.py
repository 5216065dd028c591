"""A plain directory as the source (no Git): handy for trying a spec before committing it.

Its revision is a digest of the files, so an edit is a new revision and an unchanged
folder is the same one; there is no history to roll back to.
"""

from __future__ import annotations

from pathlib import Path

from comind.errors import ComindError
from comind.gitops.resources import tree_digest


class FolderSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fetch(self) -> str:
        return "dir-" + tree_digest(self.path)[:12]

    def resolve(self, rev: str) -> str:
        """Only the folder's current revision exists (there is no history)."""
        current = self.fetch()
        if rev not in (current, current[4:]):
            raise ComindError(f"revision {rev} is not the folder's current content ({current})")
        return current

    def followed(self, rev: str) -> str:
        """The folder has one revision, which is the one it follows."""
        return self.resolve(rev)

    def checkout(self, revision: str) -> Path:
        return self.path

    def pin(self, *revisions: str) -> None:
        """Nothing to keep: a folder has no checkouts to prune."""

    def describe(self, revision: str) -> dict[str, object]:
        return {"revision": revision, "source": str(self.path)}
