"""Malformed specs outside the project: exit 2, file:line:column, no traceback, nothing started."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

BAD_SPECS = {
    "unknown-top-level-key": "platform: {name: shop}\nplatfrom_extra: 1\n",
    "yaml-syntax": "platform: {name: shop\napps: {}\n",
    "wrong-type": "platform: {name: shop}\napps:\n  orders: {run: x, port: http}\n",
    "missing-run": "platform: {name: shop}\napps:\n  orders: {port: 8000}\n",
    "bad-flow-kind": (
        "platform: {name: shop}\nflows:\n  f: {kind: streaming, source: 'queue://a/b'}\n"
    ),
}
LINE = re.compile(r"^error: (?P<file>/\S+comind\.yaml):(?P<line>\d+):(?P<col>\d+): ")


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
@pytest.mark.parametrize("command", ["validate", "up"])
def test_a_bad_spec_exits_2_with_a_position(
    comind: Run, tmp_path: Path, home: Path, name: str, command: str
) -> None:
    repo = tmp_path / name
    repo.mkdir()
    (repo / "comind.yaml").write_text(BAD_SPECS[name])
    args = ["validate", str(repo)] if command == "validate" else ["up", "--repo", str(repo)]
    result = comind(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines
    for line in lines:
        match = LINE.match(line)
        assert match, line
        assert Path(match["file"]) == repo / "comind.yaml"
    assert not (home / "postgres" / "data" / "PG_VERSION").exists()
