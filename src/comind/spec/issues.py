"""What a spec problem looks like: ``file:line:column: path: message``, all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from comind.errors import UsageError


@dataclass(frozen=True)
class SpecIssue:
    """One problem, positioned in the file where the offending text is."""

    file: Path
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        return where + (f"{self.path}: {self.message}" if self.path else self.message)


class SpecError(UsageError):
    """The spec is invalid; ``issues`` holds every problem found, in file order."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(set(issues), key=lambda i: (str(i.file), i.line, i.column, i.path))
        super().__init__("\n".join(str(issue) for issue in self.issues))
