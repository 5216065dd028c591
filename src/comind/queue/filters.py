"""Subscription filter policies (SNS semantics) on message attributes.

A policy maps attribute names to a list of conditions: the message matches when
every named attribute matches at least one of its conditions. A condition is an
exact string or number, or one of ``{"prefix": s}``, ``{"anything-but": v | [v..]}``,
``{"numeric": [op, n, (op, n)]}``, ``{"exists": bool}``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from comind.queue.errors import InvalidParameterValue
from comind.queue.model import Attribute

_OPS = {"=", "<", "<=", ">", ">="}


def check_policy(policy: Any) -> dict[str, list[Any]]:
    """The policy if it is well-formed, else InvalidParameterValue."""
    if not isinstance(policy, dict) or not policy:
        raise InvalidParameterValue("FilterPolicy: must be a non-empty JSON object")
    for name, conditions in policy.items():
        if not isinstance(conditions, list) or not conditions:
            raise InvalidParameterValue(f"FilterPolicy: '{name}' must be a non-empty list")
        for condition in conditions:
            _check_condition(name, condition)
    return policy


def _check_condition(name: str, condition: Any) -> None:
    if isinstance(condition, str | int | float) and not isinstance(condition, bool):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise InvalidParameterValue(f"FilterPolicy: bad condition for '{name}': {condition!r}")
    kind, arg = next(iter(condition.items()))
    ok = (
        (kind == "prefix" and isinstance(arg, str))
        or (kind == "exists" and isinstance(arg, bool))
        or (kind == "anything-but" and arg is not None)
        or (kind == "numeric" and _numeric_ok(arg))
    )
    if not ok:
        raise InvalidParameterValue(f"FilterPolicy: bad condition for '{name}': {condition!r}")


def _numeric_ok(arg: Any) -> bool:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        return False
    pairs = zip(arg[::2], arg[1::2], strict=True)
    return all(op in _OPS and isinstance(n, int | float) for op, n in pairs)


def matches(policy: dict[str, list[Any]] | None, attributes: dict[str, Attribute]) -> bool:
    """Whether a message with ``attributes`` passes ``policy`` (no policy: everything)."""
    if not policy:
        return True
    return all(
        any(_condition(c, attributes.get(name)) for c in conditions)
        for name, conditions in policy.items()
    )


def _condition(condition: Any, attr: Attribute | None) -> bool:
    if isinstance(condition, dict):
        kind, arg = next(iter(condition.items()))
        if kind == "exists":
            return (attr is not None) is bool(arg)
        if attr is None or attr.string_value is None:
            return False
        value = attr.string_value
        if kind == "prefix":
            return value.startswith(arg)
        if kind == "anything-but":
            excluded = arg if isinstance(arg, list) else [arg]
            return not any(_equal(x, attr) for x in excluded)
        return _numeric(arg, value)
    return attr is not None and _equal(condition, attr)


def _equal(expected: Any, attr: Attribute) -> bool:
    if attr.string_value is None:
        return False
    if isinstance(expected, int | float):
        number = _number(attr.string_value)
        return number is not None and number == Decimal(str(expected))
    return bool(attr.string_value == expected)


def _numeric(arg: list[Any], value: str) -> bool:
    number = _number(value)
    if number is None:
        return False
    for op, bound in zip(arg[::2], arg[1::2], strict=True):
        limit = Decimal(str(bound))
        ok = {
            "=": number == limit,
            "<": number < limit,
            "<=": number <= limit,
            ">": number > limit,
            ">=": number >= limit,
        }[op]
        if not ok:
            return False
    return True


def _number(text: str) -> Decimal | None:
    """A finite number, else None (NaN compares with nothing: it would raise)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
