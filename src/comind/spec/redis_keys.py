"""Whose keys a redis sink writes. The flow's Redis user may write only under the literal
prefix of the sink's key template (the text before its first placeholder), so that prefix
must say whose keys they are: ``APP:`` of an app with a cache, which reads them with its
own user (limited to ``APP:*``). A template starting with a placeholder (``{id}:x``), or
naming no app, would need the whole keyspace: the platform's ``comind:`` keys and every
other app's.
"""

from __future__ import annotations

import string

from comind.spec.model import Spec


def literal_prefix(template: str) -> tuple[str, bool]:
    """The text before the first placeholder (braces unescaped), and whether that is the
    whole key (a template without placeholders names one key)."""
    parts = list(string.Formatter().parse(template))
    first = next((i for i, (_, name, _, _) in enumerate(parts) if name is not None), None)
    literal = "".join(text for text, *_ in parts[: None if first is None else first + 1])
    return literal, first is None


def key_problem(template: str, spec: Spec) -> str | None:
    """Why the keys of the (well-formed) ``template`` are not those of an app of ``spec``
    with a cache, or None."""
    caches = sorted(name for name, app in spec.apps.items() if app.cache is not None)
    prefix, _ = literal_prefix(template)
    app, colon, _ = prefix.partition(":")
    if colon and app in caches:
        return None
    example = f"{caches[0] if caches else 'APP'}:order:{{id}}"
    return (f"redis key {template!r} must start with APP: of an app with a cache (whose keys "
            f"the flow writes), e.g. {example!r}")  # fmt: skip
