"""``comind up``, ``comind down`` and ``comind status``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from comind.api.server import public_base
from comind.api.tls import TlsFiles, serving_tls
from comind.cli import repo as repos
from comind.cli.api_client import call, remote
from comind.cli.connect import Globals, api_verify, home_of, settings_of
from comind.cli.output import console, emit_json
from comind.embedded.home import StateDir
from comind.embedded.lock import LockHeld, holder_pid
from comind.embedded.monitoring import find
from comind.embedded.ports import is_free
from comind.embedded.process import owned_by, pid_alive, terminate
from comind.embedded.settings import Settings
from comind.errors import ComindError, UsageError
from comind.observe import logs
from comind.platform import Platform
from comind.spec import Spec

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def up(
    ctx: typer.Context,
    repo: Annotated[
        str | None,
        typer.Option(envvar="COMIND_REPO", help="Platform repo: directory or git URL."),
    ] = None,
    branch: Annotated[str | None, typer.Option(help="Branch or tag of a git URL.")] = None,
    env: Annotated[str | None, typer.Option(help="Environment overlay to apply.")] = None,
    detach: Annotated[
        bool, typer.Option(help="Run in the background; return when healthy.")
    ] = False,
    api_port: Annotated[int | None, typer.Option(help="API port (0: any free port).")] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address of the API and dashboard (default: COMIND_HOST, else 127.0.0.1); "
            "beyond loopback they are served over HTTPS only."
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            help="HTTPS certificate (PEM); without one, beyond loopback the platform makes a "
            "self-signed one once, in the state directory."
        ),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's key (PEM).")] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Where clients reach the API, e.g. https://dash.example.com:8470 (default: "
            "this machine's address, which a CA-issued certificate may not name)."
        ),
    ] = None,
    with_prometheus: Annotated[
        bool,
        typer.Option(
            "--with-prometheus",
            help="Also run Prometheus (and Alertmanager, when installed) from PATH, scraping "
            "the platform with the generated rules.",
        ),
    ] = False,
) -> None:
    """Start the embedded platform (PostgreSQL, Redis, object store, API) on a platform repo."""
    _here_only(ctx, "up")
    settings = settings_of(ctx, api_port=api_port, with_prometheus=with_prometheus or None)
    if settings.with_prometheus and find("prometheus") is None:
        raise UsageError("--with-prometheus: no prometheus on PATH (Debian: apt install "
                         "prometheus; prometheus-alertmanager for Alertmanager)")  # fmt: skip
    home = StateDir(settings.home)
    _refuse_if_running(home)
    home.create()
    chosen = repos.resolve(repo, branch=branch, home=home.root)
    spec = repos.load(chosen.path, env)
    api_host = host or settings.host
    tls = serving_tls(api_host, settings.host, cert=tls_cert, key=tls_key,
                      directory=home.root / "tls")  # fmt: skip
    serving = Serving(api_host, tls, public_base(public_url, tls) if public_url else None)
    if settings.api_port and not is_free(api_host, settings.api_port):
        raise UsageError(
            f"API port {settings.api_port} on {api_host} is taken; "
            "pass --api-port or set COMIND_API_PORT"
        )
    if detach:
        branch_args = ["--branch", branch] if branch else []
        _detach(ctx, home, repo, branch_args, env, settings, serving.args())
        return
    _foreground(settings, chosen, env, spec, serving)


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


def _refuse_if_running(home: StateDir) -> None:
    pid = holder_pid(home.lock_file)
    if pid is not None:
        raise LockHeld(home.lock_file, pid if pid > 0 else None)


def _foreground(
    settings: Settings, chosen: repos.Repo, env: str | None, spec: Spec, serving: Serving
) -> None:
    about = {"platform": spec.platform.name, "repo": chosen.follows, "env": env}
    runtime = Platform(settings, about=about, spec=spec, source=chosen.source, env=env,
                      api_host=serving.host, tls=serving.tls,
                      public_url=serving.public_url)  # fmt: skip
    logs.setup(log_dir=runtime.engines.home.logs)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    runtime.start()
    try:
        _print_where(runtime.engines.status(), foreground=True)
        while not stop.wait(1.0):
            pass
        console.print("stopping…")
    finally:
        runtime.stop()
    console.print(f"stopped; data kept in {runtime.engines.home.root}")


def _print_where(st: dict[str, Any], *, foreground: bool) -> None:
    engines = st["engines"]
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("dashboard / API", st["api_url"])
    if st.get("tls_cert"):
        signed = "self-signed; browsers ask to trust it" if st.get("tls_self_signed") else "yours"
        table.add_row("HTTPS", f"on {st['api_listen']}, certificate {st['tls_cert']} ({signed})")
    table.add_row("metrics", st["metrics_url"])
    table.add_row("SQS endpoint", f"{st['sqs_url']}  (credentials: comind app env APP)")
    if st.get("s3_url"):
        table.add_row("S3 endpoint", f"{st['s3_url']}  (the same credentials)")
    table.add_row(
        "PostgreSQL",
        f"{engines['postgres']['address']}  (user postgres; "
        f"password in {st['home']}/secrets/postgres-password)",
    )
    table.add_row(
        "Redis", f"{engines['redis']['address']}  (password in {st['home']}/secrets/redis-password)"
    )
    table.add_row("objects", engines["objects"]["address"])
    table.add_row("state", st["home"])
    env = f", env {st['env']}" if st.get("env") else ""
    console.print(
        f"[bold green]Comind-Ops {st['version']}[/] platform [bold]{st['platform']}[/] "
        f"is up ({st['repo']}{env})"
    )
    console.print(table)
    if foreground:
        console.print("Press Ctrl-C to stop.")


def _detach(
    ctx: typer.Context,
    home: StateDir,
    repo: str | None,
    branch_args: list[str],
    env: str | None,
    settings: Settings,
    serving: list[str],
) -> None:
    opts: Globals = ctx.obj or Globals()
    home.create()
    argv = [
        sys.executable,
        "-m",
        "comind.cli.main",
        "--home",
        str(home.root),
        "up",
        *branch_args,
        "--api-port",
        str(settings.api_port),
        *serving,
        *(["--with-prometheus"] if settings.with_prometheus else []),
    ]
    argv += ["--env", env] if env else []
    argv += ["--debug"] if opts.debug else []
    out = home.logs / "up.out"
    with out.open("wb") as handle:
        # the repo travels in the environment, not on the command line other users can read
        # (a URL may carry a token)
        child_env = {**os.environ, **({"COMIND_REPO": repo} if repo else {})}
        child = subprocess.Popen(
            argv,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.start_timeout * 2 + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = out.read_text(errors="replace").strip().splitlines()[-1:]
            raise ComindError(f"the platform exited while starting: {' '.join(tail)}")
        st = _live_status(home)
        if st and st.get("pid") == child.pid and _all_healthy(st):
            _print_where(st, foreground=False)
            console.print(f"running in the background (pid {child.pid}); `comind down` stops it")
            return
        time.sleep(0.2)
    raise ComindError(f"the platform did not become healthy in time; see {out}")


def _all_healthy(st: dict[str, Any]) -> bool:
    return bool(st.get("api_url")) and all(
        e.get("state") == "healthy" for e in st.get("engines", {}).values()
    )


def _live_status(home: StateDir) -> dict[str, Any] | None:
    """The running platform's own view via its API, else state.json, else None."""
    st = home.read_state()
    if not st or holder_pid(home.lock_file) is None:
        return None
    if st.get("api_url"):
        try:
            resp = httpx.get(f"{st['api_url']}/api/v1/status", timeout=3, verify=api_verify(st))
            if resp.status_code == 200:
                live: dict[str, Any] = resp.json()
                return live
        except httpx.HTTPError:
            pass
    return st


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show each engine: state, pid, address, uptime, version. Exit 1 when not running."""
    if remote(ctx):
        st: dict[str, Any] | None = call(ctx, "GET", "/api/v1/status")
    else:
        st = _live_status(home_of(ctx))
    if st is None:
        st = _stopped(home_of(ctx))
    if as_json:
        emit_json(st)
    else:
        _print_status(st)
    if not st.get("running"):
        raise typer.Exit(1)


def _stopped(home: StateDir) -> dict[str, Any]:
    last = home.read_state() or {}
    engines = {
        name: {**info, "state": "stopped", "pid": None, "uptime_seconds": 0}
        for name, info in last.get("engines", {}).items()
    }
    return {**last, "running": False, "home": str(home.root), "engines": engines}


def _print_status(st: dict[str, Any]) -> None:
    if not st.get("running"):
        console.print(f"no platform is running on {st['home']}")
        if not st.get("engines"):
            return
    else:
        console.print(
            f"platform [bold]{st.get('platform', '?')}[/] · pid {st['pid']} · "
            f"API {st.get('api_url', '-')} · state {st['home']}"
        )
    table = Table("engine", "state", "pid", "address", "uptime", "version", "restarts")
    for name, e in st.get("engines", {}).items():
        colour = "green" if e["state"] == "healthy" else "red"
        table.add_row(
            name,
            f"[{colour}]{e['state']}[/]",
            str(e.get("pid") or "-"),
            e["address"],
            f"{e.get('uptime_seconds', 0):.0f}s",
            e.get("version") or "-",
            str(e.get("restarts", 0)),
        )
    console.print(table)


def down(ctx: typer.Context) -> None:
    """Stop the platform running on the state directory and every process it started."""
    _here_only(ctx, "down")
    home = home_of(ctx)
    pid = holder_pid(home.lock_file)
    if pid is None:
        _reap_orphans(home)
        console.print(f"no platform is running on {home.root}")
        return
    if pid > 0 and pid != os.getpid():
        console.print(f"stopping platform (pid {pid})…")
        terminate(pid, sig=signal.SIGTERM, timeout=60)
    _reap_orphans(home)
    console.print("stopped")


def _here_only(ctx: typer.Context, command: str) -> None:
    """``up`` and ``down`` act on this machine's state directory, never on a --server."""
    if remote(ctx):
        raise UsageError(f"`comind {command}` acts on this machine's platform: run it there, "
                         "without --server")  # fmt: skip


def _reap_orphans(home: StateDir) -> None:
    """Stop engine processes a killed platform left behind (pids from state.json)."""
    st = home.read_state() or {}
    for info in st.get("engines", {}).values():
        pid = info.get("pid")
        if pid and pid_alive(pid) and owned_by(pid, home.root):
            terminate(pid, sig=signal.SIGINT, timeout=30)
