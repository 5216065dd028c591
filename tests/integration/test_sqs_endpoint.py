"""Unmodified boto3 against the platform's SQS endpoint, with per-app SigV4 credentials."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest

from comind.platform import Platform


def client(runtime: Platform, app: str, *, secret: str | None = None) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(app)
    return boto3.client(
        "sqs", endpoint_url=runtime.url, region_name="us-east-1",
        aws_access_key_id=key.access_key_id, aws_secret_access_key=secret or key.secret,
    )  # fmt: skip


@pytest.fixture(scope="module")
def orders(runtime: Platform) -> Any:
    return client(runtime, "sqs-orders")


@pytest.fixture(scope="module")
def payments(runtime: Platform) -> Any:
    return client(runtime, "sqs-payments")


def code(err: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_send_receive_delete_with_attributes(orders: Any) -> None:
    url = orders.create_queue(QueueName="jobs")["QueueUrl"]
    assert url.endswith("/jobs")
    sent = orders.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )  # fmt: skip  (boto3 itself checks the MD5s we return)
    got = orders.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        WaitTimeSeconds=1,
    )
    [msg] = got["Messages"]
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    orders.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    attrs = orders.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["QueueArn"].endswith(":jobs")


def test_batches_report_each_entry(orders: Any) -> None:
    url = orders.create_queue(QueueName="batchy", Attributes={"MaximumMessageSize": "1024"})[
        "QueueUrl"
    ]
    result = orders.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "x" * 2000},
        {"Id": "c", "MessageBody": "three"},
    ])  # fmt: skip
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "c"]
    assert [(f["Id"], f["Code"]) for f in result["Failed"]] == [("b", "InvalidParameterValue")]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "same", "MessageBody": "1"}, {"Id": "same", "MessageBody": "2"}])  # fmt: skip
    assert code(err) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    msgs = orders.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    deleted = orders.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
    )
    assert len(deleted["Successful"]) == 2


def test_dead_letter_after_max_receives(orders: Any) -> None:
    dlq = orders.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = orders.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = orders.create_queue(QueueName="work", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    orders.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert orders.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in orders.receive_message(QueueUrl=url)
    dead = orders.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert dead[0]["Body"] == "poison"
    assert dead[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(":work")
    sources = orders.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
    assert sources == [url]
    back = json.loads(
        orders.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert back["deadLetterTargetArn"] == dlq_arn


def test_one_app_cannot_touch_another_apps_queues(orders: Any, payments: Any) -> None:
    url = orders.create_queue(QueueName="private")["QueueUrl"]
    with pytest.raises(payments.exceptions.QueueDoesNotExist):
        payments.send_message(QueueUrl=url, MessageBody="intrusion")
    with pytest.raises(payments.exceptions.QueueDoesNotExist):
        payments.get_queue_url(QueueName="private")
    assert url not in payments.list_queues().get("QueueUrls", [])


def test_bad_signatures_and_unsigned_requests_are_rejected(runtime: Platform) -> None:
    forged = client(runtime, "sqs-orders", secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        forged.list_queues()
    assert code(err) == "SignatureDoesNotMatch"
    unsigned = httpx.post(
        runtime.url + "/",
        content=b"{}",
        headers={
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"].endswith("MissingAuthenticationToken")


def test_errors_use_sqs_codes(orders: Any) -> None:
    with pytest.raises(orders.exceptions.QueueDoesNotExist):
        orders.get_queue_url(QueueName="nope")
    url = orders.create_queue(QueueName="codes")["QueueUrl"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert code(err) == "ReceiptHandleIsInvalid"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert code(err) == "InvalidAttributeValue"
    too_many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=too_many)
    assert code(err) == "InvalidParameterValue"


def test_fifo_queue_through_boto3(orders: Any) -> None:
    url = orders.create_queue(
        QueueName="pay.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    first = orders.send_message(QueueUrl=url, MessageBody="m1", MessageGroupId="g")
    again = orders.send_message(QueueUrl=url, MessageBody="m1", MessageGroupId="g")
    assert first["MessageId"] == again["MessageId"]
    assert "SequenceNumber" in first


def test_tags(orders: Any) -> None:
    url = orders.create_queue(QueueName="tagged", tags={"team": "backend"})["QueueUrl"]
    orders.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    orders.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert orders.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


def test_redrive_back_with_a_move_task(orders: Any) -> None:
    dlq = orders.create_queue(QueueName="re-dlq")["QueueUrl"]
    dlq_arn = orders.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = orders.create_queue(QueueName="re", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    orders.send_message(QueueUrl=url, MessageBody="fixed now")
    orders.receive_message(QueueUrl=url, VisibilityTimeout=0)
    assert "Messages" not in orders.receive_message(QueueUrl=url)
    handle = orders.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    back = orders.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert [m["Body"] for m in back] == ["fixed now"]
    [task] = orders.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.start_message_move_task(
            SourceArn=orders.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        )
    assert code(err) == "InvalidParameterValue"  # only a DLQ can be a move source


@pytest.mark.parametrize("name", ["../x", "other-app/jobs", "a/b"])
def test_a_queue_name_with_a_slash_is_refused(orders: Any, runtime: Platform, name: str) -> None:
    """An app names its own queue; ``app/`` is the platform's namespace (issue 15, finding 12)."""
    assert runtime.messages is not None
    before = set(runtime.messages.admin.names())
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orders.create_queue(QueueName=name)
    assert "InvalidParameterValue" in code(err)
    assert set(runtime.messages.admin.names()) == before
