"""The message layer from outside: boto3 with `comind app env` credentials, `comind queue ...`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from tests.hidden import bearer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]


def sqs_for(comind: Run, app: str) -> Any:
    env = json.loads(comind("app", "env", app, "--json", check=True).stdout)["env"]
    return boto3.client(
        "sqs",
        endpoint_url=env["AWS_ENDPOINT_URL_SQS"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def test_boto3_and_the_queue_cli_against_comind_up(comind: Run, home: Path) -> None:
    comind("up", "--detach", "--api-port", "0", "--repo", "examples/shop", check=True)
    listed = json.loads(comind("queue", "ls", "--json", check=True).stdout)
    names = {q["queue"] for q in listed}
    assert {"orders/order-events", "orders/order-events-dlq", "payments/charges.fifo"} <= names

    orders = sqs_for(comind, "orders")
    urls = orders.list_queues()["QueueUrls"]
    assert any(u.endswith("/order-events") for u in urls)
    assert not any("charges" in u for u in urls)  # payments' queues are not visible to orders

    dlq = orders.create_queue(QueueName="inbox-dlq")["QueueUrl"]
    dlq_arn = orders.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    inbox = orders.create_queue(
        QueueName="inbox",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
        },
    )["QueueUrl"]
    orders.send_message(QueueUrl=inbox, MessageBody='{"id": "poison"}')
    for _ in range(2):
        assert orders.receive_message(QueueUrl=inbox, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in orders.receive_message(QueueUrl=inbox)

    peeked = json.loads(
        comind("queue", "peek", "orders/inbox", "--dlq", "--json", check=True).stdout
    )
    assert [m["body"] for m in peeked] == ['{"id": "poison"}']
    assert peeked[0]["dead_letter"]["source_queue"] == "orders/inbox"

    moved = comind("queue", "redrive", "orders/inbox-dlq", check=True)
    assert "completed: 1 of 1 moved" in moved.stdout
    back = orders.receive_message(QueueUrl=inbox, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in back] == ['{"id": "poison"}']

    comind("queue", "send", "orders/order-events", "hello", check=True)
    stats = json.loads(comind("queue", "stats", "orders/order-events", "--json", check=True).stdout)
    assert stats["attributes"]["ApproximateNumberOfMessages"] == "1"
    refused = comind("queue", "purge", "orders/order-events")  # no terminal to confirm
    assert refused.returncode == 1
    assert (
        "purged 1 messages"
        in comind("queue", "purge", "orders/order-events", "--yes", check=True).stdout
    )
    missing = comind("queue", "stats", "orders/nope")
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "error: no queue 'orders/nope' (see `comind queue ls`)",
    )

    metrics = comind("status", "--json", check=True)
    api = json.loads(metrics.stdout)["api_url"]
    viewer = bearer((home / "secrets" / "api-viewer-token").read_text().strip())
    body = httpx.get(f"{api}/metrics", headers=viewer).text
    assert 'comind_queue_messages{queue="orders/order-events-dlq",state="visible"} 0.0' in body
    assert "comind_queue_sent_messages_total" in body


def test_rotating_a_key_revokes_the_old_one(comind: Run) -> None:
    comind("up", "--detach", "--api-port", "0", "--repo", "examples/shop", check=True)
    old = sqs_for(comind, "payments")
    assert old.list_queues()["QueueUrls"]
    rotated = comind("app", "rotate-key", "payments", "--yes", check=True)
    assert "now uses access key" in rotated.stdout
    # the endpoint caches key lookups for one second: the old key is refused within 1.5 s
    assert wait_until(lambda: not _accepted(old), timeout=1.5, interval=0.1)
    with pytest.raises(old.exceptions.ClientError) as err:
        old.list_queues()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert sqs_for(comind, "payments").list_queues()["QueueUrls"]


def _accepted(sqs: Any) -> bool:
    try:
        sqs.list_queues()
    except sqs.exceptions.ClientError:
        return False
    return True
