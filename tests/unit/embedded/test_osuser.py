"""OS user names for apps, and who may cross which directory (no user is created here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comind.embedded.osuser import USER_NAME_MAX, RunAs, app_user_name, unreachable

USERADD_NAME = re.compile(r"[a-z_][a-z0-9_-]*")  # what Debian's useradd accepts by default


HOME = Path("/srv/comind/apps")


@pytest.mark.parametrize("app", ["orders", "a", "x" * 18])
def test_a_plain_short_app_name_is_kept(app: str) -> None:
    name = app_user_name(app, HOME)
    assert re.fullmatch(f"comind-[0-9a-f]{{6}}-{app}", name)


def test_two_platforms_on_one_host_never_share_an_apps_user() -> None:
    """The red team ran an app `orders` on a second platform: as the first one's `orders`
    user, it read that app's credentials from /proc and wrote into its code."""
    assert app_user_name("orders", HOME) != app_user_name("orders", Path("/tmp/other/apps"))
    assert app_user_name("orders", HOME) == app_user_name("orders", HOME)


@pytest.mark.parametrize("app", ["Orders", "flow.enrich.0", "a_b", "x" * 19, "é", "-"])
def test_any_other_name_is_a_valid_distinct_user_name(app: str) -> None:
    name = app_user_name(app, HOME)
    assert USERADD_NAME.fullmatch(name) and len(name) <= USER_NAME_MAX
    assert name == app_user_name(app, HOME)  # deterministic
    assert name != app_user_name(app + "x", HOME)


def test_names_that_slug_alike_stay_apart() -> None:
    names = {app_user_name(app, HOME) for app in ("a.b", "a-b", "A-b")}
    assert len(names) == 3


def test_no_app_name_is_given_a_flows_user() -> None:
    """Red team 21f H7: an app named like the digest form of a flow's account (a valid DNS
    label) was given that flow's OS user, and with it the flow's environment."""
    flow = app_user_name("flow.ingest-orders", HOME)
    tail = flow.split("-", 2)[2]  # what follows comind-<platform>-
    assert "_" in tail  # no DNS label holds one
    assert app_user_name(tail.replace("_", "-"), HOME) != flow


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
