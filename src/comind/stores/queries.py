"""Named SQL queries, read from ``sql/*.sql`` files (``-- name: NAME`` headers).

A domain package keeps its own queries next to it (``comind/<package>/sql/<file>.sql``) and
loads them with :func:`package_queries`; the schema's migrations stay in ``stores/sql``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def package_queries(package: str, file: str) -> dict[str, str]:
    """Every named query of ``sql/<file>.sql`` inside the package ``package``."""
    text = resources.files(package).joinpath("sql", f"{file}.sql").read_text()
    parts = _HEADER.split(text)[1:]
    return {
        name: body.strip().rstrip(";") for name, body in zip(parts[::2], parts[1::2], strict=True)
    }


def named(package: str, file: str) -> Callable[[str], str]:
    """The getter of ``package``'s named queries in ``sql/<file>.sql`` (read on first use)."""
    return lambda name: package_queries(package, file)[name]
