"""docs/architecture.md against the code, so the map cannot silently go stale.

- The code-map table names every package under src/comind (a first-level directory with
  ``__init__.py``) and no other, and its "may import" column says what the import-linter
  layers contract in pyproject.toml allows.
- Every module path in backticks (``comind/x/y.py``, ``x/y.py``, ``tests/...``; globs
  allowed) exists. A backticked name right after a module path (``x/y.py`` ``Name`` or
  ``Class.member``) is defined there; after an ``.sql`` file it is a ``-- name:`` query.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "comind"
DOC = ROOT / "docs" / "architecture.md"
REPO_DIRS = ("src", "tests", "docs", "bench", "examples")

PATH = r"[\w.*/-]+/[\w.*-]+\.(?:py|sql)"
MENTION = re.compile(rf"`({PATH})`")
NAMED = re.compile(rf"`({PATH})`\s+`([A-Za-z_]\w*(?:\.\w+)?)(?:\(\))?`")


def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def packages_on_disk() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def code_map() -> dict[str, list[str]]:
    """The code-map table: package name -> its cells (the section headed "Code map")."""
    section = re.split(r"^## .*Code map.*$", doc(), flags=re.MULTILINE)
    assert len(section) == 2, "docs/architecture.md needs one '## ... Code map' section"
    body = re.split(r"^## ", section[1], flags=re.MULTILINE)[0]
    rows: dict[str, list[str]] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = re.fullmatch(r"`(\w+)/`", cells[0]) if line.startswith("|") else None
        if found:
            rows[found.group(1)] = cells
    return rows


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return found


def layers() -> list[str]:
    [layered] = [c for c in contracts() if c["type"] == "layers"]
    return [name.removeprefix("comind.") for name in layered["layers"]]


def forbidden(package: str) -> set[str]:
    """What the forbidden contracts take away from ``package``'s layers."""
    return {name.removeprefix("comind.") for c in contracts() if c["type"] == "forbidden"
            and f"comind.{package}" in c["source_modules"]
            for name in c["forbidden_modules"]}  # fmt: skip


def resolve(path: str) -> Path:
    """Where a path the document names lives: the repo, src/ or src/comind."""
    first = path.split("/", 1)[0]
    if first in REPO_DIRS:
        return ROOT / path
    if first == "comind":
        return SRC / path
    return PACKAGE / path


def matches(path: str) -> list[Path]:
    target = resolve(path)
    if "*" in path:
        return sorted(target.parent.glob(target.name))
    return [target] if target.is_file() else []


def defined(module: Path, name: str) -> bool:
    """Whether ``name`` (``Name`` or ``Class.member``) is defined in ``module``."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    outer, _, member = name.partition(".")
    for node in tree.body:
        if outer in _names(node):
            return not member or (isinstance(node, ast.ClassDef) and _has_member(node, member))
    return False


def _names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _has_member(cls: ast.ClassDef, member: str) -> bool:
    """A method, class attribute or ``self.member = ...`` anywhere in the class."""
    if any(member in _names(node) for node in cls.body):
        return True
    return any(
        isinstance(n, ast.Attribute)
        and isinstance(n.ctx, ast.Store)
        and isinstance(n.value, ast.Name)
        and n.value.id == "self"
        and n.attr == member
        for n in ast.walk(cls)
    )


def test_the_code_map_names_every_package_and_only_those() -> None:
    on_disk, mapped = packages_on_disk(), set(code_map())
    assert on_disk - mapped == set(), "packages missing from the code map"
    assert mapped - on_disk == set(), "the code map names packages that do not exist"


def test_the_may_import_column_follows_the_layers_contract() -> None:
    order, rows = layers(), code_map()
    assert set(order) <= set(rows), "a layered package is missing from the code map"
    for i, name in enumerate(order):
        cell = rows[name][-1]
        said = {word for word in re.findall(r"\w+", cell) if word in rows}
        allowed = set(order[i + 1 :]) - forbidden(name)
        assert said == allowed, f"{name}/: 'may import' differs from pyproject"


def test_every_module_path_named_exists() -> None:
    paths = sorted(set(MENTION.findall(doc())))
    assert len(paths) > 20
    missing = [p for p in paths if not matches(p)]
    assert not missing, "docs/architecture.md names paths that do not exist: " + ", ".join(missing)


def test_every_name_after_a_module_path_is_defined_there() -> None:
    pairs = sorted(set(NAMED.findall(doc())))
    assert len(pairs) > 20
    wrong = []
    for path, name in pairs:
        found = matches(path)
        if len(found) != 1:
            continue  # a missing path is the test above's to report
        text = found[0].read_text(encoding="utf-8")
        if path.endswith(".sql"):
            ok = re.search(rf"^-- name: {re.escape(name)}\s*$", text, re.MULTILINE) is not None
        else:
            ok = defined(found[0], name)
        if not ok:
            wrong.append(f"{path} {name}")
    assert not wrong, "docs/architecture.md names what these modules do not define: " + (
        ", ".join(wrong)
    )


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("api/guard.py", "Guard", True),
        ("api/guard.py", "Guard.serve", True),
        ("api/guard.py", "Guard.tokens", True),  # self.tokens = ...
        ("api/guard.py", "MAX_BODY", True),
        ("api/guard.py", "Guard.nothing", False),
        ("api/guard.py", "Gone", False),
    ],
)
def test_the_name_check_itself(path: str, name: str, expected: bool) -> None:
    assert defined(resolve(path), name) is expected
