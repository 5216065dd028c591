"""Named SQL queries, read from ``sql/*.sql`` files (``-- name: NAME`` headers)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries(file: str) -> dict[str, str]:
    """Every named query of ``sql/<file>.sql``."""
    text = resources.files("comind.stores").joinpath("sql", f"{file}.sql").read_text()
    parts = _HEADER.split(text)[1:]
    return {
        name: body.strip().rstrip(";") for name, body in zip(parts[::2], parts[1::2], strict=True)
    }


def query(file: str, name: str) -> str:
    return queries(file)[name]
