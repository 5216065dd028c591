"""``comind token create/ls/revoke/end-sessions`` and ``comind audit``: who may call the
API, and what was done through it — through the platform's API, with an admin token (the
platform writes the audit entries itself)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

token_cli = typer.Typer(help="API tokens with roles.", no_args_is_help=True)
ROLES = ("viewer", "operator", "admin")


@token_cli.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    app: Annotated[str | None, typer.Option(help="Limit the token to this app.")] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime, e.g. 30d (default: none).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; it is shown once and stored only as a hash."""
    if expires:
        from comind.spec.model import parse_duration  # the spec package: this command only

        try:
            parse_duration(expires)
        except (ValueError, TypeError):
            raise UsageError(f"--expires {expires}: expected a duration like 12h or 30d") from None
    body = {"role": role, "app": app, "expires": expires}
    doc = call(ctx, "POST", "/api/v1/tokens", body=body, admin=True)
    if as_json:
        emit_json(doc)
    else:
        console.print(f"token {doc['id']} ({role}{', app ' + app if app else ''}):", markup=False)
        console.print(doc["token"], markup=False)
        console.print("shown once: keep it now")


@token_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every token (never the token itself)."""
    rows = call(ctx, "GET", "/api/v1/tokens", admin=True)["tokens"]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "role", "app", "created", "expires", "revoked")
    for r in rows:
        table.add_row(*(cell(r[k]) for k in ("id", "role", "app", "created_at", "expires_at",
                                             "revoked_at")))  # fmt: skip
    console.print(table)


@token_cli.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="Token id.")]) -> None:
    """Revoke a token at once."""
    call(ctx, "POST", f"/api/v1/tokens/{token_id}/revoke", admin=True)
    console.print(f"token {token_id} revoked")


@token_cli.command("end-sessions")
def end_sessions(ctx: typer.Context) -> None:
    """End every dashboard session now: everyone signs in again (tokens stay valid)."""
    call(ctx, "POST", "/api/v1/sessions/end", admin=True)
    console.print("every dashboard session ended; signing in again works as before")


def cell(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")
