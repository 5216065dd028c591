"""OS user names for apps, and who may cross which directory (no user is created here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comind.embedded.osuser import USER_NAME_MAX, RunAs, app_user_name, unreachable

USERADD_NAME = re.compile(r"[a-z_][a-z0-9_-]*")  # what Debian's useradd accepts by default


@pytest.mark.parametrize("app", ["orders", "a", "x" * 21])
def test_a_plain_short_app_name_is_kept(app: str) -> None:
    assert app_user_name(app) == f"comind-app-{app}"


@pytest.mark.parametrize("app", ["Orders", "flow.enrich.0", "a_b", "x" * 22, "é", "-"])
def test_any_other_name_is_a_valid_distinct_user_name(app: str) -> None:
    name = app_user_name(app)
    assert USERADD_NAME.fullmatch(name) and len(name) <= USER_NAME_MAX
    assert name == app_user_name(app)  # deterministic
    assert name != app_user_name(app + "x")


def test_names_that_slug_alike_stay_apart() -> None:
    assert app_user_name("a.b") != app_user_name("a-b") != app_user_name("A-b")


def test_who_may_cross_a_directory(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    inside = closed / "data"
    owner = RunAs(uid=closed.stat().st_uid, gid=closed.stat().st_gid)
    stranger = RunAs(uid=closed.stat().st_uid + 4242, gid=closed.stat().st_gid + 4242)
    member = RunAs(uid=stranger.uid, gid=stranger.gid, groups=(closed.stat().st_gid,))
    assert unreachable(inside, RunAs()) is None
    assert unreachable(inside, owner) is None
    first = next(p for p in reversed(inside.parents) if not p.stat().st_mode & 0o001)
    why = unreachable(inside, stranger)
    assert why is not None and f"{first} is not open to it (mode 700)" in why
    assert f"chmod o+x {first}`" in why
    closed.chmod(0o710)
    assert member.can_traverse(closed) and not stranger.can_traverse(closed)
    closed.chmod(0o711)
    assert stranger.can_traverse(closed)
