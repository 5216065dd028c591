"""PII handling of one value, by the action a dataset declares (``hash``, ``mask``,
``redact``). ``tokenize`` and ``encrypt`` need a token vault and per-dataset keys that do
not exist yet: where a value must be hidden anyway (a quarantined record), they mask."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


def hash_value(v: Any) -> str:
    return hashlib.sha256(str(v).encode()).hexdigest()


def mask_value(v: Any) -> str:
    s = str(v)
    shown = 4 if len(s) > 8 else 0  # a short value would be mostly shown: mask it all
    return "*" * (len(s) - shown) + s[len(s) - shown :]


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
