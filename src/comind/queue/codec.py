"""Message attributes to and from the JSON stored with each message.

The AWSTraceHeader system attribute is kept in the same document under ``aws.trace``: a
name no message attribute may have (SQS reserves the ``aws.`` prefix), so the two never mix.
"""

from __future__ import annotations

import base64
from typing import Any

from comind.queue.model import Attribute, OutgoingMessage

TRACE_KEY = "aws.trace"


def attributes_to_json(attributes: dict[str, Attribute]) -> dict[str, dict[str, str]]:
    out = {}
    for name, attr in attributes.items():
        if attr.binary_value is not None:
            value = {"t": attr.data_type, "b": base64.b64encode(attr.binary_value).decode()}
        else:
            value = {"t": attr.data_type, "s": attr.string_value or ""}
        out[name] = value
    return out


def stored(msg: OutgoingMessage) -> dict[str, dict[str, str]]:
    """The JSON stored with ``msg``: its attributes and its trace header."""
    out = attributes_to_json(msg.attributes)
    if msg.trace_header:
        out[TRACE_KEY] = {"t": "String", "s": msg.trace_header}
    return out


def trace_from_json(doc: dict[str, Any]) -> str | None:
    trace = doc.get(TRACE_KEY)
    return str(trace["s"]) if isinstance(trace, dict) else None


def attributes_from_json(doc: dict[str, Any]) -> dict[str, Attribute]:
    out = {}
    for name, value in doc.items():
        if name == TRACE_KEY:
            continue
        if "b" in value:
            out[name] = Attribute(value["t"], binary_value=base64.b64decode(value["b"]))
        else:
            out[name] = Attribute(value["t"], string_value=value["s"])
    return out
