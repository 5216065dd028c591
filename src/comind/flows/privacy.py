"""The spec's ``pii:`` enforced: declared fields protected right before a flow writes.

:class:`PiiGuard` applies the handling of the fields a flow's datasets declare
(:func:`comind.spec.privacy.flow_pii`) to every record that passed the dataset gate, in
place, before any sink sees it: the table, the files, the queues and topics, Redis. The
``anonymize`` step uses the same guard with its own fields. A worker gets the keys it needs
(:class:`PiiKeys`) from its environment (:func:`keys_from_env`): the PII hashing key and
the data keys of the datasets it encrypts for; never the key-encryption key, never the
vault's private key (tokens are sealed to its public key).
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from comind.errors import ComindError
from comind.flows import metrics
from comind.flows.records import Record
from comind.governance.privacy import (
    REMOVED,
    DataKeyRef,
    PiiKeys,
    encrypt_value,
    field_context,
    generalize,
    hash_value,
    mask_value,
)
from comind.governance.tokens import Tokenizer
from comind.spec.pii import PiiHandling

KEYS_ENV = "COMIND_PII_KEYS"  # a secret: set by the platform for its workers, never logged

KEYED = ("hash", "tokenize", "encrypt")  # the operators that need a key


class PiiGuard:
    """Fields → (scope, handling): ``scope`` is what ``encrypt`` binds a value to
    (``dataset/NAME``, or ``flow/NAME`` for an anonymize step)."""

    def __init__(self, fields: Mapping[str, tuple[str, PiiHandling]], keys: PiiKeys | None,
                 tokenizer: Tokenizer | None, flow: str) -> None:  # fmt: skip
        self.fields, self.keys, self.tokenizer, self.flow = dict(fields), keys, tokenizer, flow
        if self.fields and keys is None and self._needs_keys():
            raise ComindError(f"flow {flow} protects PII fields but has no PII keys "
                              f"({KEYS_ENV} is set by the platform for its workers)")  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self.fields)

    def _needs_keys(self) -> bool:
        return any(h.operator in KEYED for _, h in self.fields.values())

    def apply(self, records: list[Record]) -> None:
        tokens = self._tokens(records)
        counts: Counter[str] = Counter()
        for record in records:
            if record.raw is None and any(record.value.get(f) is not None for f in self.fields):
                record.raw = dict(record.value)
            for field, (scope, handling) in self.fields.items():
                value = record.value.get(field)
                if value is None:
                    continue
                new = self._one(field, scope, handling, value, tokens)
                if new is REMOVED:
                    del record.value[field]
                else:
                    record.value[field] = new
                counts[handling.operator] += 1
        for operator, n in counts.items():  # one increment per batch, not per value
            metrics.PII_PROTECTED.labels(self.flow, operator).inc(n)

    def _one(self, field: str, scope: str, h: PiiHandling, value: Any,
             tokens: dict[str, str]) -> Any:  # fmt: skip
        match h.operator:
            case "hash":
                assert self.keys is not None
                return hash_value(self.keys.hmac, value)
            case "mask":
                return mask_value(value, h.keep)
            case "redact":
                return REMOVED
            case "replace":
                return h.value
            case "generalize":
                return generalize(value, h)
            case "encrypt":
                return encrypt_value(self._data_key(scope), value, field_context(scope, field))
            case "tokenize":
                return tokens[str(value)]
        return value  # raw, with its reason

    def _data_key(self, scope: str) -> DataKeyRef:
        assert self.keys is not None
        if scope not in self.keys.data:
            raise ComindError(f"no data key for {scope} among the flow's PII keys")
        return self.keys.data[scope]

    def _tokens(self, records: list[Record]) -> dict[str, str]:
        wanted = [(f, s) for f, (s, h) in self.fields.items() if h.operator == "tokenize"]
        if not wanted:
            return {}
        if self.tokenizer is None:
            raise ComindError(f"flow {self.flow} tokenizes PII fields but has no token vault")
        found: dict[str, str] = {}
        for field, scope in wanted:  # each field's tokens recorded as written there
            values = (str(r.value[field]) for r in records if r.value.get(field) is not None)
            found |= self.tokenizer.tokens(values, token_scope(scope, field))
        return found


def token_scope(scope: str, field: str) -> str:
    """Where a token is written: ``dataset/NAME/FIELD`` (or ``flow/NAME/FIELD``)."""
    return f"{scope}/{field}"


def keys_env(keys: PiiKeys) -> dict[str, str]:
    """``keys`` as the worker's environment variable."""
    data = {s: [k.id, base64.b64encode(k.key).decode()] for s, k in keys.data.items()}
    doc = {"hmac": base64.b64encode(keys.hmac).decode(), "data": data}
    return {KEYS_ENV: json.dumps(doc)}


def keys_from_env(env: Mapping[str, str] = os.environ) -> PiiKeys | None:
    raw = env.get(KEYS_ENV)
    if not raw:
        return None
    doc = json.loads(raw)
    data = {s: DataKeyRef(i, base64.b64decode(k)) for s, (i, k) in doc["data"].items()}
    return PiiKeys(base64.b64decode(doc["hmac"]), data)
