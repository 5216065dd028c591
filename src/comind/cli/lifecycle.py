"""``comind up``, ``comind down`` and ``comind status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from comind.cli.api_client import call, remote
from comind.cli.connect import Globals, globals_of, home_of, settings_of
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError
from comind.platform.local import PlatformState, StateDir, api_verify, lock_holder, stop


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
    # imported here: every other command (`down` too) would pay to load the whole platform
    from comind.platform.launch import ServeOptions, prepare, run_foreground, spawn

    settings = settings_of(ctx, api_port=api_port, with_prometheus=with_prometheus or None)
    serve = ServeOptions(host, tls_cert, tls_key, public_url)
    launch = prepare(settings, repo, branch, env, serve)
    if detach:
        opts: Globals = ctx.obj or Globals()
        pid = spawn(launch, repo, branch, opts.debug)
        where = launch.home.read_state()
        if where is not None:
            _print_where(where, foreground=False)
        console.print(f"running in the background (pid {pid}); `comind down` stops it")
        return
    root = run_foreground(launch, lambda st: _print_where(st, foreground=True))
    console.print(f"stopped; data kept in {root}")


def _print_where(st: PlatformState, *, foreground: bool) -> None:
    engines = st.engines
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("dashboard / API", st.api_url)
    if st.tls_cert:
        signed = "self-signed; browsers ask to trust it" if st.tls_self_signed else "yours"
        table.add_row("HTTPS", f"on {st.api_listen}, certificate {st.tls_cert} ({signed})")
    table.add_row("metrics", st.metrics_url)
    table.add_row("SQS endpoint", f"{st.sqs_url}  (credentials: comind app env APP)")
    if st.s3_url:
        table.add_row("S3 endpoint", f"{st.s3_url}  (the same credentials)")
    own = "yours: COMIND_{}_URL"  # an external engine: the platform started no process
    table.add_row(
        "PostgreSQL",
        f"{engines['postgres'].address}  "
        + (f"(user postgres; password in {st.home}/secrets/postgres-password)"
           if engines["postgres"].pid else f"({own.format('POSTGRES')})"),
    )  # fmt: skip
    table.add_row(
        "Redis",
        f"{engines['redis'].address}  "
        + (f"(password in {st.home}/secrets/redis-password)"
           if engines["redis"].pid else f"({own.format('REDIS')})"),
    )  # fmt: skip
    table.add_row("objects", engines["objects"].address)
    table.add_row("state", st.home)
    env = f", env {st.env}" if st.env else ""
    console.print(
        f"[bold green]Comind-Ops {st.version}[/] platform [bold]{st.platform}[/] "
        f"is up ({st.repo}{env})"
    )
    console.print(table)
    if foreground:
        console.print("Press Ctrl-C to stop.")


def _live_status(home: StateDir) -> PlatformState | None:
    """The running platform's own view via its API, else state.json, else None."""
    st = home.read_state()
    if st is None or lock_holder(home) is None:
        return None
    if st.api_url:
        try:
            auth = {"authorization": f"Bearer {home.secret('api-viewer-token')}"}
            resp = httpx.get(f"{st.api_url}/api/v1/status", headers=auth, timeout=3,
                             verify=api_verify(st))  # fmt: skip
            if resp.status_code == 200:
                return PlatformState.parse(resp.json(), origin=f"{st.api_url}/api/v1/status")
        except httpx.HTTPError:
            pass
    return st


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show each engine: state, pid, address, uptime, version. Exit 1 when not running."""
    home = home_of(ctx)
    if remote(ctx):
        origin = f"{globals_of(ctx).server}/api/v1/status"
        st: PlatformState | None = PlatformState.parse(call(ctx, "GET", "/api/v1/status"),
                                                       origin=origin)  # fmt: skip
    else:
        st = _live_status(home)
    if st is None:
        last = home.read_state()
        st = last.stopped(home.root) if last is not None else None
    if as_json:
        emit_json(st.dump() if st is not None else {"running": False, "home": str(home.root),
                                                    "engines": {}})  # fmt: skip
    else:
        _print_status(st, home)
    if st is None or not st.running:
        raise typer.Exit(1)


def _print_status(st: PlatformState | None, home: StateDir) -> None:
    if st is None or not st.running:
        console.print(f"no platform is running on {st.home if st else home.root}")
        if st is None or not st.engines:
            return
    else:
        console.print(
            f"platform [bold]{st.platform or '?'}[/] · pid {st.pid} · "
            f"API {st.api_url or '-'} · state {st.home}"
        )
    table = Table("engine", "state", "pid", "address", "uptime", "version", "restarts")
    for name, e in st.engines.items():
        colour = "green" if e.state == "healthy" else "red"
        table.add_row(
            name,
            f"[{colour}]{e.state}[/]",
            str(e.pid or "-"),
            e.address,
            f"{e.uptime_seconds:.0f}s",
            e.version or "-",
            str(e.restarts),
        )
    console.print(table)
    if st.running and st.app_users is False:
        console.print("[yellow]apps run as the platform's own user[/] (it is not root): they "
                      "can read what it can, the state directory included")  # fmt: skip


def down(ctx: typer.Context) -> None:
    """Stop the platform running on the state directory and every process it started."""
    _here_only(ctx, "down")
    home = home_of(ctx)
    pid = lock_holder(home)
    if pid is not None:
        console.print(f"stopping platform (pid {pid})…")
    if stop(home) is None:
        console.print(f"no platform is running on {home.root}")
        return
    console.print("stopped")


def _here_only(ctx: typer.Context, command: str) -> None:
    """``up`` and ``down`` act on this machine's state directory, never on a --server."""
    if remote(ctx):
        raise UsageError(f"`comind {command}` acts on this machine's platform: run it there, "
                         "without --server")  # fmt: skip
