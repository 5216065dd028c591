"""How the CLI talks: JSON for machines, Rich for people, one line on stderr for errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
