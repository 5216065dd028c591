"""Events from the app's side: ``publish`` adds an event for a topic inside the app's own
PostgreSQL transaction; the platform's relay fans it out to the topic's subscribers after
the transaction commits, and never if it rolls back. The app must declare the topic in its
spec (``publishes: [payment-settled]``); the relay refuses any other (the row keeps the
reason, see docs/sdk.md). Attributes are what subscribers' filter policies match on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comind.queue.model import Attribute
from comind.queue.outbox import publish as add_event


def publish(conn: Any, topic: str, body: str, *,
            attributes: Mapping[str, str | int | float] | None = None) -> int:  # fmt: skip
    """Add ``body`` for ``topic`` in ``conn``'s current transaction; its outbox id."""
    typed = {name: _attribute(value) for name, value in (attributes or {}).items()}
    return add_event(conn, topic, body, attributes=typed)


def _attribute(value: str | int | float) -> Attribute:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"an attribute is a string or a number, not {type(value).__name__}")
    return Attribute("String", value) if isinstance(value, str) else Attribute("Number", str(value))
