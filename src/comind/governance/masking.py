"""How a declared PII value is *shown* where it must stay hidden without the platform's keys
(a quarantined record for a viewer, a failing row's key in a quality sample): ``hash``,
``mask`` (the operators' own, governance/privacy.py), ``redact``; every other operator
masks. What a flow writes goes through the keyed operators instead (flows/privacy.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from comind.governance.privacy import mask_value


def hash_value(v: Any) -> str:
    return hashlib.sha256(str(v).encode()).hexdigest()


def redact_value(v: Any) -> None:
    return None


ANONYMIZERS: dict[str, Callable[[Any], Any]] = {
    "hash": hash_value,
    "mask": mask_value,
    "redact": redact_value,
}


def hidden(action: str, value: Any) -> Any:
    """``value`` under ``action``; an action without an implementation masks."""
    if value is None:
        return None
    anonymize: Callable[[Any], Any] = ANONYMIZERS.get(action, mask_value)
    return anonymize(value)
