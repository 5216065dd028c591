"""A real platform for the dashboard's browser tests, and Debian's Chromium driven by
Playwright.

The platform runs in this process exactly as ``comind up`` runs it (the same Platform, real
PostgreSQL and Redis, a Git repository it follows, the app and the flow worker as
processes); only its time series is sampled every half second, so charts fill in seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from tests.browser.dashkit import Dash, commit, git
from tests.hidden import Hidden
from tests.platforms import make_settings

from comind.embedded.home import StateDir
from comind.governance.access import AccessStore
from comind.platform import Platform
from comind.platform import repo as repos


@pytest.fixture(scope="session")
def dash(engine_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    repo = tmp_path_factory.mktemp("dash-repo")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "shop")
    home = engine_root / "dashboard"
    chosen = repos.resolve(str(repo), branch=None, checkouts=StateDir(home).git)
    settings = make_settings(home).model_copy(update={"sample_interval": 0.5})
    run = Platform(settings, about={"platform": "dash"}, spec=repos.load(chosen.path, "dev"),
                  source=chosen.source, env="dev")  # fmt: skip
    run.start()
    assert run.messages is not None
    access = AccessStore(run.messages.pool)
    try:
        operator, viewer = (Hidden(access.create(role)[1]) for role in ("operator", "viewer"))
        admin = Hidden(run.engines.home.secret("api-admin-token"))
        yield Dash(run, repo, operator, viewer, admin)
    finally:
        run.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    found = shutil.which("chromium")
    assert found, "chromium is missing: `make tools` installs Debian's chromium package"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=found)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, dash: Dash) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at desktop size."""
    context = chromium.new_context(base_url=dash.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()
