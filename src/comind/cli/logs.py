"""``comind logs [APP]``: the platform's log and the apps' output, from the log store,
through the platform's API."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

COLORS = {"warning": "yellow", "error": "red", "critical": "bold red", "debug": "dim"}


def logs(
    ctx: typer.Context,
    app: Annotated[str | None, typer.Argument(help="An app (default: the platform's log).")] = None,
    since: Annotated[str, typer.Option(help="How far back: 90s, 10m, 2h, 1d.")] = "1h",
    level: Annotated[str | None, typer.Option(help="At least this level.")] = None,
    grep: Annotated[str | None, typer.Option(help="Only lines containing this text.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the stored logs (oldest first); with -f, follow them."""
    from comind.spec.model import parse_duration  # the spec package: this command only

    try:
        parse_duration(since)
    except (ValueError, TypeError):
        raise UsageError(f"--since {since}: expected a duration like 10m, 2h or 1d") from None
    query: dict[str, Any] = {"since": since, "level": level, "grep": grep, "limit": limit}
    query = {k: v for k, v in query.items() if v is not None} | ({"app": app} if app else {})
    found = call(ctx, "GET", "/api/v1/logs", params=query)["lines"]
    _print(found, as_json)
    last = found[-1]["ts"] if found else None
    while follow:
        time.sleep(1.0)
        newer = {**query, "after": last} if last else query
        found = call(ctx, "GET", "/api/v1/logs", params=newer)["lines"]
        _print(found, as_json)
        last = found[-1]["ts"] if found else last


def _print(lines: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(lines)
        return
    for x in lines:
        color = COLORS.get(x["level"], "white")
        stamp = x["ts"][:19].replace("T", " ")
        console.print(f"[dim]{stamp}[/] [{color}]{x['level']:<7}[/] ", end="")
        console.print(x["message"], markup=False, highlight=False)
