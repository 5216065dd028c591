"""How the CLI talks: JSON for machines, Rich for people, one line on stderr for errors."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

# the options every command group shares
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}")


def waiting(what: str, as_json: bool) -> AbstractContextManager[object]:
    """A spinner saying what the platform is doing while a long request runs (none for
    ``--json``, whose output is for programs)."""
    return nullcontext() if as_json else console.status(f"{what} on the platform")
