"""Fixtures for the flow engine's unit tests: user code written into a temporary repo."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from comind.flows.privacy import PiiGuard
from comind.flows.steps import StepContext
from comind.governance.privacy import DataKeyRef, PiiKeys
from comind.spec.pii import PiiHandling

UserModule = Callable[[str], str]


TEST_KEYS = PiiKeys(b"h" * 32, {"flow/f": DataKeyRef("dk-test", b"d" * 32)})


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    """A step context whose ``anonymize`` steps protect with fixed keys (no token vault)."""

    def guard(fields: dict[str, PiiHandling]) -> PiiGuard:
        return PiiGuard({f: ("flow/f", h) for f, h in fields.items()}, TEST_KEYS, None, "f")

    return StepContext(flow="f", root=tmp_path, guard=guard)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserModule]:
    """Writes a module into ``tmp_path`` (the repo root of ``ctx``) and returns its name.

    Names are unique per call so Python's module cache never hands one test another test's
    code; ``sys.path`` (which ``load_callable`` extends) and the imported modules are put
    back afterwards.
    """
    monkeypatch.setattr(sys, "path", list(sys.path))
    written: list[str] = []

    def write(source: str) -> str:
        name = f"flowtest_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)
