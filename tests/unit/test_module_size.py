"""One concept per module (STYLE.md): no module of the package passes 400 lines."""

from __future__ import annotations

from pathlib import Path

import comind

MAX_LINES = 400
PACKAGE = Path(comind.__file__).resolve().parent


def lines(path: Path) -> int:
    """Lines as ``wc -l`` counts them: newline characters."""
    return path.read_bytes().count(b"\n")


def test_no_module_is_over_400_lines() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 10
    too_long = [
        f"{path.relative_to(PACKAGE.parent)}: {count} lines"
        for path in modules
        if (count := lines(path)) > MAX_LINES
    ]
    assert not too_long, f"split these modules (over {MAX_LINES} lines):\n" + "\n".join(too_long)
