"""The benchmarks are not run by the suite (they take minutes and their own extras), so a
rename in src/ would break them silently: every name they import from comind must exist."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def comind_imports(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text())
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("comind") for alias in node.names]  # fmt: skip


def defined(module: str, name: str) -> bool:
    """Whether ``from module import name`` works: an attribute, or a submodule."""
    return (hasattr(importlib.import_module(module), name)
            or importlib.util.find_spec(f"{module}.{name}") is not None)  # fmt: skip


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_name_a_benchmark_imports_from_comind_exists(path: Path) -> None:
    missing = [f"{module}.{name}" for module, name in comind_imports(path)
               if not defined(module, name)]  # fmt: skip
    assert not missing, f"{path.name} imports what comind no longer has: {missing}"
