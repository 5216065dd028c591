"""Settings for every tier: no COMIND_* variable from a developer's shell leaks into a test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _clean_comind_env() -> None:
    for key in [k for k in os.environ if k.startswith("COMIND_")]:
        del os.environ[key]
