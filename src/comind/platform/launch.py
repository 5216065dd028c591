"""Starting and stopping the platform of a state directory: what ``comind up`` and
``comind down`` do, apart from parsing options and printing.

:func:`prepare` checks everything a start needs before anything is created (no platform
running on the directory, the repo resolves and its spec validates, the API port is free,
TLS where it is required), so a refused start leaves nothing behind. The platform then
runs in this process (:func:`run_foreground`) or in a detached child (:func:`spawn`), whose
repo URL travels in its environment, never on a command line other users can read. Stopping
needs none of this: :func:`comind.platform.local.stop`.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from comind.api.server import public_base
from comind.api.tls import TlsFiles, serving_tls
from comind.embedded.home import StateDir
from comind.embedded.lock import LockHeld, holder_pid
from comind.embedded.monitoring import find
from comind.embedded.ports import is_free
from comind.embedded.settings import Settings
from comind.embedded.state import PlatformState
from comind.errors import ComindError, UsageError
from comind.observe import logs
from comind.platform import repo as repos
from comind.spec import Spec


@dataclass(frozen=True)
class Serving:
    """Where and how the API is served, and the address clients are given."""

    host: str
    tls: TlsFiles | None
    public_url: str | None

    def args(self) -> list[str]:
        """The options that hand this to the background platform (a self-signed certificate
        it finds in the state directory by itself)."""
        args = ["--host", self.host]
        if self.tls is not None and not self.tls.generated:
            args += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        return args + (["--public-url", self.public_url] if self.public_url else [])


@dataclass(frozen=True)
class ServeOptions:
    """How ``comind up`` was asked to serve."""

    host: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str | None = None


@dataclass(frozen=True)
class Launch:
    """A start, checked: the state directory, the repo followed and its validated spec."""

    settings: Settings
    home: StateDir
    repo: repos.Repo
    spec: Spec
    env: str | None
    serving: Serving


def prepare(
    settings: Settings, repo: str | None, branch: str | None, env: str | None, serve: ServeOptions
) -> Launch:
    """Everything a start needs, checked; a refusal says why in one line."""
    if settings.with_prometheus and find("prometheus") is None:
        raise UsageError("--with-prometheus: no prometheus on PATH (Debian: apt install "
                         "prometheus; prometheus-alertmanager for Alertmanager)")  # fmt: skip
    home = StateDir(settings.home)
    refuse_if_running(home)
    home.create()
    chosen = repos.resolve(repo, branch=branch, checkouts=home.git)
    spec = repos.load(chosen.path, env)
    api_host = serve.host or settings.host
    tls = serving_tls(api_host, settings.host, cert=serve.tls_cert, key=serve.tls_key,
                      directory=home.tls)  # fmt: skip
    public = public_base(serve.public_url, tls) if serve.public_url else None
    if settings.api_port and not is_free(api_host, settings.api_port):
        raise UsageError(f"API port {settings.api_port} on {api_host} is taken; "
                         "pass --api-port or set COMIND_API_PORT")  # fmt: skip
    return Launch(settings, home, chosen, spec, env, Serving(api_host, tls, public))


def refuse_if_running(home: StateDir) -> None:
    pid = holder_pid(home.lock_file)
    if pid is not None:
        raise LockHeld(home.lock_file, pid if pid > 0 else None)


def run_foreground(launch: Launch, on_up: Callable[[PlatformState], None]) -> Path:
    """Run the platform in this process until SIGINT/SIGTERM/SIGHUP; its state directory."""
    # imported here: ``comind up --detach`` only checks and spawns (the child runs this)
    from comind.platform.runtime import Platform

    about = {"platform": launch.spec.platform.name, "repo": launch.repo.follows,
             "env": launch.env}  # fmt: skip
    serving = launch.serving
    platform = Platform(launch.settings, about=about, spec=launch.spec,
                        source=launch.repo.source, env=launch.env, api_host=serving.host,
                        tls=serving.tls, public_url=serving.public_url)  # fmt: skip
    logs.setup(log_dir=platform.engines.home.logs)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    platform.start()
    # what start-up made (modules, the spec, pools, routes) lives as long as the process: the
    # collector stops walking it, so its full collections, which pause requests, stay short
    gc.freeze()
    try:
        on_up(platform.engines.status())
        while not stop.wait(1.0):
            pass
    finally:
        platform.stop()
    return platform.engines.home.root


def spawn(launch: Launch, repo: str | None, branch: str | None, debug: bool) -> int:
    """Start the platform in a detached child; its pid once it is healthy."""
    settings, home = launch.settings, launch.home
    argv = [sys.executable, "-m", "comind.cli.main", "--home", str(home.root), "up",
            *(["--branch", branch] if branch else []), "--api-port", str(settings.api_port),
            *launch.serving.args(), *(["--with-prometheus"] if settings.with_prometheus else []),
            *(["--env", launch.env] if launch.env else []),
            *(["--debug"] if debug else [])]  # fmt: skip
    out = home.up_log
    with out.open("wb") as handle:
        child_env = {**os.environ, **({"COMIND_REPO": repo} if repo else {})}
        child = subprocess.Popen(argv, env=child_env, stdin=subprocess.DEVNULL, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + settings.start_timeout * 2 + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = out.read_text(errors="replace").strip().splitlines()[-1:]
            raise ComindError(f"the platform exited while starting: {' '.join(tail)}")
        st = home.read_state()
        if st and holder_pid(home.lock_file) and st.pid == child.pid and st.healthy():
            return child.pid
        time.sleep(0.05)
    raise ComindError(f"the platform did not become healthy in time; see {out}")
