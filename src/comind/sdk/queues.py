"""Consuming one of the app's queues: long-poll, hand each message to a function, delete it
when the function returns. A function that raises leaves its message to come back after the
queue's visibility timeout, and after the queue's ``dlq.max_receives`` it goes to the
dead-letter queue: at-least-once, so the function should be idempotent (a unique key and
``ON CONFLICT DO NOTHING`` is usually enough)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from comind.sdk.env import AppEnv

log = logging.getLogger("comind.sdk.queues")
WAIT_SECONDS = 5  # one long poll; bounds how long a stop takes


def consume(sqs: Any, queue: str, handle: Callable[[str], None], stop: threading.Event) -> None:
    """Feed the bodies of ``queue`` (the app's own name, ``new-orders``) to ``handle`` until
    ``stop`` is set. ``sqs``: a boto3 SQS client (``env.client("sqs")``)."""
    while not stop.is_set():
        try:
            _receive(sqs, queue, handle, stop)
        except Exception:  # the endpoint restarting, the queue not there yet: try again
            log.exception("receiving from %s", queue)
            stop.wait(WAIT_SECONDS)


def _receive(sqs: Any, queue: str, handle: Callable[[str], None], stop: threading.Event) -> None:
    url = sqs.get_queue_url(QueueName=AppEnv.from_environ().queue_name(queue))["QueueUrl"]
    while not stop.is_set():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=WAIT_SECONDS)  # fmt: skip
        for message in got.get("Messages", []):
            try:
                handle(message["Body"])
            except Exception:  # the message comes back; its receive count moves it on
                log.exception("message %s of %s not handled", message["MessageId"], queue)
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def consume_in_background(sqs: Any, queue: str, handle: Callable[[str], None]) -> threading.Event:
    """``consume`` on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=consume, args=(sqs, queue, handle, stop), name=f"consume-{queue}",
                     daemon=True).start()  # fmt: skip
    return stop
