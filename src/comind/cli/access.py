"""``comind token create/ls/revoke/end-sessions`` and ``comind audit``: who may call the
API, and what was done through it."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from comind.api.session import LIFETIME_SECONDS
from comind.cli.connect import home_of, platform_db, running_state
from comind.cli.output import console, emit_json
from comind.errors import UsageError
from comind.spec.model import parse_duration
from comind.stores.access import ROLES, AccessStore
from comind.stores.postgres import make_pool

token_cli = typer.Typer(help="API tokens with roles.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@contextmanager
def access(ctx: typer.Context) -> Iterator[AccessStore]:
    home = home_of(ctx)
    with make_pool(platform_db(home, running_state(home)), min_size=1, max_size=1) as pool:
        yield AccessStore(pool)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


@token_cli.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    app: Annotated[str | None, typer.Option(help="Limit the token to this app.")] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime, e.g. 30d (default: none).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; it is shown once and stored only as a hash."""
    try:
        ttl = timedelta(seconds=int(parse_duration(expires))) if expires else None
    except (ValueError, TypeError):
        raise UsageError(f"--expires {expires}: expected a duration like 12h or 30d") from None
    with access(ctx) as store:
        token_id, token = store.create(role, app=app, ttl=ttl)
        store.audit(actor(), "token-create", token_id, "done", {"role": role, "app": app})
    if as_json:
        emit_json({"token": token, "id": token_id, "role": role, "app": app})
    else:
        console.print(f"token {token_id} ({role}{', app ' + app if app else ''}):", markup=False)
        console.print(token, markup=False)
        console.print("shown once: keep it now")


@token_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every token (never the token itself)."""
    with access(ctx) as store:
        tokens = store.tokens()
    rows = [{"id": t.id, "role": t.role, "app": t.app, "created_at": t.created_at,
             "expires_at": t.expires_at, "revoked_at": t.revoked_at} for t in tokens]  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "role", "app", "created", "expires", "revoked")
    for r in rows:
        table.add_row(*(str(r[k] or "")[:19] for k in ("id", "role", "app", "created_at",
                                                      "expires_at", "revoked_at")))  # fmt: skip
    console.print(table)


@token_cli.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="Token id.")]) -> None:
    """Revoke a token at once."""
    with access(ctx) as store:
        done = store.revoke(token_id)
        store.audit(actor(), "token-revoke", token_id, "done" if done else "not found")
    if not done:
        raise UsageError(f"no active token {token_id}")
    console.print(f"token {token_id} revoked")


@token_cli.command("end-sessions")
def end_sessions(ctx: typer.Context) -> None:
    """End every dashboard session now: everyone signs in again (tokens stay valid)."""
    with access(ctx) as store:
        store.end_all_sessions(LIFETIME_SECONDS)
        store.audit(actor(), "end-sessions", "dashboard", "done")
    console.print("every dashboard session ended; signing in again works as before")


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first: who changed what through the API, who read secrets."""
    with access(ctx) as store:
        rows = store.recent_audit(limit)
    docs = [{"id": r[0], "at": r[1], "actor": r[2], "action": r[3], "target": r[4],
             "outcome": r[5], "detail": r[6]} for r in rows]  # fmt: skip
    if as_json:
        emit_json(docs)
        return
    table = Table("at", "actor", "action", "target", "outcome")
    for d in docs:
        table.add_row(str(d["at"])[:19], d["actor"], d["action"], d["target"], d["outcome"])
    console.print(table)
