"""Queue errors carry the SQS error code and HTTP status a real SQS would answer with.

The backends raise them, the SQS endpoint serializes them, and the CLI prints their
message: one error vocabulary across the Python API, HTTP and the command line.
"""

from __future__ import annotations

from comind.errors import ComindError


class QueueError(ComindError):
    """An SQS-style error: ``code`` (e.g. ``AWS.SimpleQueueService.NonExistentQueue``)."""

    code = "InternalError"
    status = 500
    sender_fault = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(name: str, code: str, status: int = 400) -> type[QueueError]:
    return type(name, (QueueError,), {"code": code, "status": status, "sender_fault": True})


QueueDoesNotExist = _error("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
QueueNameExists = _error("QueueNameExists", "QueueAlreadyExists")
QueueDeletedRecently = _error("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently")
InvalidAttributeName = _error("InvalidAttributeName", "InvalidAttributeName")
InvalidAttributeValue = _error("InvalidAttributeValue", "InvalidAttributeValue")
InvalidParameterValue = _error("InvalidParameterValue", "InvalidParameterValue")
# larger than the queue's MaximumMessageSize: a setting of that queue, not a fault of the
# message (a topic's other subscribers still get it); SQS's InvalidParameterValue to clients
MessageTooLong: type[QueueError] = type("InvalidParameterValue", (InvalidParameterValue,), {})
InvalidMessageContents = _error("InvalidMessageContents", "InvalidMessageContents")
MissingParameter = _error("MissingParameter", "MissingParameter")
ReceiptHandleIsInvalid = _error("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404)
MessageNotInflight = _error("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight")
PurgeQueueInProgress = _error(
    "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403
)
TooManyEntriesInBatchRequest = _error(
    "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
)
EmptyBatchRequest = _error("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest")
BatchEntryIdsNotDistinct = _error(
    "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
)
InvalidBatchEntryId = _error("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId")
BatchRequestTooLong = _error("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong")
ResourceNotFound = _error("ResourceNotFound", "ResourceNotFoundException", 404)
UnsupportedOperation = _error("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation")
OverLimit = _error("OverLimit", "OverLimit", 403)
