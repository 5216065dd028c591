"""SQS's query protocol (form-encoded ``Action=...``, XML responses), as older SDKs speak it.

Requests are turned into the JSON protocol's shapes (so one set of actions serves both)
and results back into SQS's XML. Flattened members follow SQS's names:
``Attribute.N.Name/Value``, ``MessageAttribute.N.Name/Value.DataType``, ``AttributeName.N``,
``SendMessageBatchRequestEntry.N.*`` and so on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
_MAPS = {"Attribute": ("Attributes", "Name", "Value"), "Tag": ("Tags", "Key", "Value")}
_LISTS = {
    "AttributeName": "AttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "TagKey": "TagKeys",
}
_ENTRIES = (
    "SendMessageBatchRequestEntry",
    "DeleteMessageBatchRequestEntry",
    "ChangeMessageVisibilityBatchRequestEntry",
)
_ITEM = {
    "QueueUrls": "QueueUrl",
    "queueUrls": "QueueUrl",
    "Messages": "Message",
    "Failed": "BatchResultErrorEntry",
    "Results": "Result",
}


def parse(body: bytes, query: str) -> tuple[str, dict[str, Any]]:
    """``(action, params in the JSON protocol's shape)`` of a query-protocol request."""
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    tree: dict[str, Any] = {}
    for key, value in pairs:
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            node = child if isinstance(child, dict) else node
        node[parts[-1]] = value
    action = str(tree.pop("Action", ""))
    for noise in ("Version", "AWSAccessKeyId", "SignatureMethod", "SignatureVersion"):
        tree.pop(noise, None)
    return action, _shape(tree)


def _ordered(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []
    return [node[k] for k in sorted(node, key=lambda k: int(k) if k.isdigit() else 0)]


def _shape(tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if key in _MAPS:
            name, k, v = _MAPS[key]
            target = "tags" if key == "Tag" else name
            out[target] = {e.get(k, ""): e.get(v, "") for e in _ordered(value)}
        elif key in _LISTS:
            out[_LISTS[key]] = _ordered(value)
        elif key in _ENTRIES:
            out["Entries"] = [_shape(e) for e in _ordered(value) if isinstance(e, dict)]
        elif key in ("MessageAttribute", "MessageSystemAttribute"):
            out[f"{key}s"] = {
                e.get("Name", ""): e.get("Value", {})
                for e in _ordered(value)
                if isinstance(e, dict)
            }
        else:
            out[key] = value
    return out


def render(action: str, result: dict[str, Any], request_id: str) -> bytes:
    """SQS's XML response for ``action``."""
    root = ET.Element(f"{action}Response", xmlns=NAMESPACE)
    body = ET.SubElement(root, f"{action}Result")
    for key, value in result.items():
        _emit(body, key, value, action)
    meta = ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId")
    meta.text = request_id
    return bytes(ET.tostring(root, xml_declaration=True, encoding="utf-8"))


def _emit(parent: ET.Element, key: str, value: Any, action: str) -> None:
    if key in ("Attributes", "Tags") and isinstance(value, dict):
        tag, k, v = (
            ("Attribute", "Name", "Value") if key == "Attributes" else ("Tag", "Key", "Value")
        )
        for name, item in value.items():
            entry = ET.SubElement(parent, tag)
            _text(entry, k, name)
            _text(entry, v, item)
    elif key == "MessageAttributes" and isinstance(value, dict):
        for name, attr in value.items():
            entry = ET.SubElement(parent, "MessageAttribute")
            _text(entry, "Name", name)
            holder = ET.SubElement(entry, "Value")
            for field, text in attr.items():
                _text(holder, field, text)
    elif isinstance(value, list):
        item = f"{action}ResultEntry" if key == "Successful" else _ITEM.get(key, key)
        for element in value:
            if isinstance(element, dict):
                child = ET.SubElement(parent, item)
                for k, v in element.items():
                    _emit(child, k, v, action)
            else:
                _text(parent, item, element)
    else:
        _text(parent, key, value)


def _text(parent: ET.Element, tag: str, value: Any) -> None:
    ET.SubElement(parent, tag).text = str(value).lower() if isinstance(value, bool) else str(value)


def render_error(code: str, message: str, sender: bool, request_id: str) -> bytes:
    root = ET.Element("ErrorResponse", xmlns=NAMESPACE)
    error = ET.SubElement(root, "Error")
    _text(error, "Type", "Sender" if sender else "Receiver")
    _text(error, "Code", code)
    _text(error, "Message", message)
    _text(root, "RequestId", request_id)
    return bytes(ET.tostring(root, xml_declaration=True, encoding="utf-8"))
