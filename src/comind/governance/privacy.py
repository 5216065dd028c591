"""The PII operators: what a declared field becomes before a flow writes it.

- ``hash``: HMAC-SHA256 under the platform's PII key (the keyring's ``pii/hmac``), hex. The
  same value hashes the same in every dataset and flow, so hashes join; without the key a
  dictionary of emails cannot find them (a plain SHA-256 of an email is reversed in seconds).
- ``mask``: every character but the last ``keep`` (all of them when the value is too short
  for that to hide most of it).
- ``redact``: the field is removed. ``replace``: it becomes a fixed value.
- ``generalize``: a date to its month or year, a number to its band (``30-40``), a code to
  its first characters, an IP address to its /24 (IPv4) or /48 (IPv6) network.
- ``encrypt``: AES-256-GCM under the dataset's data key, as ``enc:v1:<key id>:<base64>``,
  bound to the dataset and field; the platform decrypts with the keyring.
- ``tokenize``: see :mod:`.tokens` (a vault keeps the way back).

Operators leave a value they already produced alone (a hash hashed again, a masked value
masked again), so a flow that reads a protected dataset and writes another keeps the values
joinable. None stays None.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from hashlib import sha256
from typing import Any

from comind.errors import ComindError
from comind.governance.kek import seal, unseal
from comind.spec.pii import PiiHandling

REMOVED = object()  # what ``redact`` makes of a field: the caller deletes it
ENCRYPTED = "enc:v1:"
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_MONTH = re.compile(r"^\d{4}-\d{2}\Z")


@dataclass(frozen=True)
class DataKeyRef:
    id: str
    key: bytes


@dataclass(frozen=True)
class PiiKeys:
    """What a flow needs to protect fields: the PII hashing key, and for ``encrypt`` the
    current data key of each dataset scope it encrypts for."""

    hmac: bytes
    data: dict[str, DataKeyRef]


def hash_value(key: bytes, value: Any) -> str:
    s = str(value)
    if _HEX64.match(s):
        return s  # already a hash of ours (a protected dataset read again)
    return hmac.new(key, s.encode(), sha256).hexdigest()


def mask_value(value: Any, keep: int = 4) -> str:
    s = str(value)
    shown = keep if len(s) > 2 * keep else 0  # a short value would be mostly shown
    return "*" * (len(s) - shown) + s[len(s) - shown :]


def generalize(value: Any, h: PiiHandling) -> Any:
    match h.generalize:
        case "month" | "year":
            return _period(value, h.generalize)
        case "band":
            assert h.width is not None
            low = math.floor(float(value) / h.width) * h.width
            return f"{low:g}-{low + h.width:g}"
        case "prefix":
            s = str(value)
            return s[: h.digits] + "*" * max(0, len(s) - (h.digits or 0))
        case "network":
            return _network(value)
    raise ComindError(f"unknown generalization {h.generalize}")


def _period(value: Any, period: str) -> str:
    if isinstance(value, datetime | date):
        when = value
    elif _MONTH.match(str(value)):
        return str(value) if period == "month" else str(value)[:4]
    else:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return f"{when:%Y-%m}" if period == "month" else f"{when:%Y}"


def _network(value: Any) -> str:
    s = str(value)
    if "/" in s:
        return s  # already a network
    address = ipaddress.ip_address(s)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def encrypt_value(key: DataKeyRef, value: Any, context: str) -> str:
    s = str(value)
    if s.startswith(ENCRYPTED):
        return s
    sealed = seal(key.key, s.encode(), context.encode())
    return f"{ENCRYPTED}{key.id}:{base64.b64encode(sealed).decode()}"


def decrypt_value(lookup: Callable[[str], bytes], value: str, context: str) -> str:
    """The plaintext of :func:`encrypt_value`; ``lookup`` finds a data key by its id."""
    key_id, _, blob = value.removeprefix(ENCRYPTED).partition(":")
    return unseal(lookup(key_id), base64.b64decode(blob), context.encode()).decode()


def field_context(scope: str, field: str) -> str:
    return f"{scope}/{field}"
