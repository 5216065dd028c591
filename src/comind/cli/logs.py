"""``comind logs [APP]``: the platform's log and the apps' output, from the log store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from comind.cli.connect import home_of, platform_db, running_state
from comind.cli.output import console, emit_json
from comind.errors import UsageError
from comind.spec.model import parse_duration
from comind.stores.logstore import LEVELS, LogLine, LogStore
from comind.stores.postgres import make_pool

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
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Search the stored logs (oldest first); with -f, follow them."""
    if level is not None and level not in LEVELS:
        raise UsageError(f"--level must be one of {', '.join(LEVELS)}")
    try:
        start = datetime.now(UTC) - timedelta(seconds=int(parse_duration(since)))
    except (ValueError, TypeError):
        raise UsageError(f"--since {since}: expected a duration like 10m, 2h or 1d") from None
    home = home_of(ctx)
    source = f"app:{app}" if app else "platform"
    with make_pool(platform_db(home, running_state(home)), min_size=1, max_size=1) as pool:
        store = LogStore(pool)
        found = list(reversed(store.search(source=source, min_level=level, text=grep,
                                           since=start, limit=limit)))  # fmt: skip
        _print(found, as_json)
        while follow:
            time.sleep(1.0)
            newer = start if not found else found[-1].ts + timedelta(microseconds=1)
            found = list(reversed(store.search(source=source, min_level=level, text=grep,
                                               since=newer, limit=limit)))  # fmt: skip
            _print(found, as_json)


def _print(lines: list[LogLine], as_json: bool) -> None:
    if as_json:
        emit_json([{"ts": x.ts.isoformat(), "source": x.source, "level": x.level,
                    "message": x.message, "fields": x.fields} for x in lines])  # fmt: skip
        return
    for x in lines:
        color = COLORS.get(x.level, "white")
        console.print(f"[dim]{x.ts:%Y-%m-%d %H:%M:%S}[/] [{color}]{x.level:<7}[/] ", end="")
        console.print(x.message, markup=False, highlight=False)
