"""The platform parses (never imports) an app's step modules: whatever the module holds, the
answer is a problem to report, never an exception that stops the sync (red team 21f H8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from comind.spec.repofiles import MAX_MODULE, callable_problem


@pytest.mark.parametrize(
    "source",
    ["X = " + "1+" * 200_000 + "1\n", "X = " + "-" * 100_000 + "1\n", "def f(:\n", "\udcff"],
)
def test_an_unparsable_module_is_a_problem_not_a_crash(tmp_path: Path, source: str) -> None:
    (tmp_path / "steps.py").write_text(source, errors="surrogateescape")
    problem = callable_problem(tmp_path, "steps:order_day")
    assert problem is not None and problem.startswith("module steps cannot be read")


def test_a_module_too_large_to_parse_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text("#" * (MAX_MODULE + 1))
    assert "over 1 MiB" in str(callable_problem(tmp_path, "steps:f"))


def test_a_module_defining_the_function_has_no_problem(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text("def order_day(order):\n    return order\n")
    assert callable_problem(tmp_path, "steps:order_day") is None
