"""Message attributes to and from the JSON stored with each message."""

from __future__ import annotations

import base64
from typing import Any

from comind.queue.model import Attribute


def attributes_to_json(attributes: dict[str, Attribute]) -> dict[str, dict[str, str]]:
    out = {}
    for name, attr in attributes.items():
        if attr.binary_value is not None:
            value = {"t": attr.data_type, "b": base64.b64encode(attr.binary_value).decode()}
        else:
            value = {"t": attr.data_type, "s": attr.string_value or ""}
        out[name] = value
    return out


def attributes_from_json(doc: dict[str, Any]) -> dict[str, Attribute]:
    out = {}
    for name, value in doc.items():
        if "b" in value:
            out[name] = Attribute(value["t"], binary_value=base64.b64decode(value["b"]))
        else:
            out[name] = Attribute(value["t"], string_value=value["s"])
    return out
