"""The pin `comind promote` writes into an environment's overlay: appended below what the
overlay holds, replaced by the next promotion, never written over an `environments:` a
person wrote (one line says where to put it)."""

from __future__ import annotations

import pytest
import yaml

from comind.errors import UsageError
from comind.platform.promote import MARKER, pinned

A, B = "a" * 40, "b" * 40
PROD = "# Production: longer cache.\napps:\n  orders:\n    cache: {ttl: 900}\n"


def test_the_pin_is_appended_then_replaced() -> None:
    first = pinned(PROD, "prod", A)
    assert first.startswith(PROD) and MARKER in first
    assert yaml.safe_load(first)["environments"] == {"prod": {"revision": A}}
    second = pinned(first, "prod", B)
    assert second == first.replace(A, B)
    assert yaml.safe_load(pinned("", "stage", A)) == {"environments": {"stage": {"revision": A}}}


def test_an_overlay_with_its_own_environments_is_left_to_a_person() -> None:
    with pytest.raises(UsageError, match=r"add `revision: a+` under environments.prod"):
        pinned("environments:\n  prod: {sync: {auto: false}}\n", "prod", A)
