"""Queue access policies: AddPermission, RemovePermission and the ``Policy`` attribute.

Each app reaches only its own queues (its access key decides the account), and the
endpoint enforces nothing finer. So a policy is accepted only when it grants what holds
anyway: ``Allow`` to the queue's own account. A grant to another account, to everyone
(``*``) or a ``Deny`` is refused with a clear reason instead of being recorded and ignored.
"""

from __future__ import annotations

import json
from typing import Any

from comind.api import sqs_shapes as shapes
from comind.api.sqs_call import Call, Params
from comind.queue.errors import (
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    OverLimit,
)
from comind.queue.postgres_admin import PostgresQueueAdmin

ALLOWED_ACTIONS = ("*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes",
                   "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage",
                   "SendMessage")  # fmt: skip
MAX_ACTIONS = 7
OWN_ONLY = "Reason: each app reaches only its own queues; cross-account access is not supported."


class Permissions:
    """AddPermission and RemovePermission, kept as statements of the queue's Policy."""

    def __init__(self, admin: PostgresQueueAdmin) -> None:
        self.admin = admin

    def add_permission(self, call: Call) -> Params:
        queue, label = call.queue(), call.text("Label")
        actions, accounts = call.strings("Actions"), call.strings("AWSAccountIds")
        _check_grant(call.app, actions, accounts)
        policy = self._policy(call.app, queue)
        if any(s.get("Sid") == label for s in policy["Statement"]):
            raise InvalidParameterValue(
                f"Value {label} for parameter Label is invalid. Reason: Already exists."
            )
        policy["Statement"].append({
            "Sid": label, "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
            "Action": [f"SQS:{a}" for a in actions], "Resource": shapes.arn_for(call.app, queue),
        })  # fmt: skip
        self.admin.set_attributes(queue, {"Policy": json.dumps(policy)})
        return {}

    def remove_permission(self, call: Call) -> Params:
        queue, label = call.queue(), call.text("Label")
        policy = self._policy(call.app, queue)
        kept = [s for s in policy["Statement"] if s.get("Sid") != label]
        if len(kept) == len(policy["Statement"]):
            raise InvalidParameterValue(
                f"Value {label} for parameter Label is invalid. "
                "Reason: can't find label on existing policy."
            )
        self.admin.set_attributes(queue, {"Policy": json.dumps({**policy, "Statement": kept})
                                          if kept else ""})  # fmt: skip
        return {}

    def _policy(self, app: str, queue: str) -> dict[str, Any]:
        """The queue's Policy document (SQS's empty default when it has none)."""
        text = self.admin.queues.queue(queue).extra_attributes.get("Policy")
        if text:
            doc: dict[str, Any] = json.loads(text)
            return doc
        arn = shapes.arn_for(app, queue)
        return {"Version": "2012-10-17", "Id": f"{arn}/SQSDefaultPolicy", "Statement": []}


def check_policy(app: str, text: str) -> None:
    """Refuse a ``Policy`` attribute that grants more than the owner's own access."""
    if not text:
        return
    try:
        statements = json.loads(text)["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        principals = [_principals(s) for s in statements]
        effects = {s.get("Effect") for s in statements}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidAttributeValue("Invalid value for the parameter Policy.") from None
    own = shapes.account_of(app)
    if effects - {"Allow"} or any(p != own for ps in principals for p in ps):
        raise InvalidAttributeValue(f"Invalid value for the parameter Policy. {OWN_ONLY}")


def _check_grant(app: str, actions: list[str], accounts: list[str]) -> None:
    if not actions:
        raise MissingParameter("The request must contain the parameter Actions.")
    if not accounts:
        raise MissingParameter("The request must contain the parameter AWSAccountIds.")
    if len(actions) > MAX_ACTIONS:
        raise OverLimit(f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}.")
    for action in actions:
        if action not in ALLOWED_ACTIONS:
            raise InvalidParameterValue(
                f"Value SQS:{action} for parameter ActionName is invalid. "
                "Reason: Only the queue owner is allowed to invoke this action."
            )
    for account in accounts:
        if account != shapes.account_of(app):
            raise InvalidParameterValue(
                f"Value {account} for parameter AWSAccountIds is invalid. {OWN_ONLY}"
            )


def _principals(statement: dict[str, Any]) -> list[str]:
    """The account ids a statement names (``*`` stays ``*``)."""
    principal = statement["Principal"]
    names = principal if isinstance(principal, str) else principal["AWS"]
    names = names if isinstance(names, list) else [names]
    return [str(n).removeprefix("arn:aws:iam::").removesuffix(":root") for n in names]
