"""The SQS endpoint against AWS's documented behaviour, area by area (issue 15, "Conformance").

boto3 speaks the JSON protocol (botocore's default for SQS); a parametrized subset goes
through the query protocol too. Error codes are the query-compatible codes botocore reports
(``x-amzn-query-error``), with AWS's HTTP status. Where the endpoint cannot honour an AWS
feature (KMS, SSE, cross-account grants) the test asserts a clear refusal, not silence.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from comind.api.sqs_shapes import account_of
from comind.platform import Platform

APP = "conformance"
ClientError = botocore.exceptions.ClientError
INVALID = "InvalidParameterValue"


@pytest.fixture(scope="module")
def sqs(runtime: Platform) -> Any:
    return boto(runtime, "sqs")


@pytest.fixture
def new(sqs: Any) -> Callable[..., str]:
    """Creates a queue with a name no other test uses; returns its URL."""

    def create(suffix: str = "", **attributes: str) -> str:
        name = f"q{uuid.uuid4().hex[:10]}{suffix}"
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    return create


def boto(runtime: Platform, service: str) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(APP)
    return boto3.client(
        service,
        endpoint_url=runtime.url,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret,
    )


def refused(call: Callable[[], object]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of the error ``call`` gets."""
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        str(response["Error"].get("Message", "")),
    )


def code(call: Callable[[], object]) -> str:
    return refused(call)[0]


def signed(runtime: Platform, body: bytes, headers: dict[str, str], service: str) -> httpx.Response:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(APP)
    aws = AWSRequest(method="POST", url=runtime.url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key.access_key_id, key.secret), service, "us-east-1").add_auth(aws)
    prepared = aws.prepare()
    return httpx.post(runtime.url + "/", content=prepared.body, headers=dict(prepared.headers))


def raw_json(runtime: Platform, action: str, params: dict[str, Any]) -> httpx.Response:
    """A JSON-protocol request botocore's own parameter checks would not let through."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}"}
    return signed(runtime, json.dumps(params).encode(), headers, "sqs")


def query(runtime: Platform, params: dict[str, str], service: str = "sqs") -> httpx.Response:
    body = urlencode({"Version": "2012-11-05", **params}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return signed(runtime, body, headers, service)


def xml_code(resp: httpx.Response) -> str:
    found = ET.fromstring(resp.content).find(".//{*}Error/{*}Code")
    return found.text or "" if found is not None else ""


# --- error codes -------------------------------------------------------------------------


def test_a_missing_queue_is_non_existent_queue(sqs: Any) -> None:
    assert refused(lambda: sqs.get_queue_url(QueueName="never-made"))[:2] == (
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
    )
    url = sqs.create_queue(QueueName="gone-soon")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    assert code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x")) == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )


def test_a_missing_parameter_is_missing_parameter(
    runtime: Platform, new: Callable[..., str]
) -> None:
    url = new()
    resp = raw_json(runtime, "SendMessage", {"QueueUrl": url})
    assert resp.status_code == 400
    assert resp.headers["x-amzn-query-error"].startswith("MissingParameter;")
    assert resp.json()["message"] == "The request must contain the parameter MessageBody."
    resp = raw_json(runtime, "GetQueueUrl", {})
    assert resp.headers["x-amzn-query-error"].startswith("MissingParameter;")


def test_out_of_range_values_are_invalid_parameter_value(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    assert refused(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))[:2] == (
        INVALID,
        400,
    )
    assert code(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)) == (INVALID)
    assert code(lambda: sqs.receive_message(QueueUrl=url, VisibilityTimeout=43201)) == (INVALID)


# --- CreateQueue -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ({"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ({"MaximumMessageSize": "1023"}, "InvalidAttributeValue"),
        ({"DelaySeconds": "901"}, "InvalidAttributeValue"),
        ({"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue"),
        ({"VisibilityTimeout": "soon"}, "InvalidAttributeValue"),
        ({"NoSuchAttribute": "1"}, "InvalidAttributeName"),
        ({"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
        ({"FifoQueue": "true"}, INVALID),
        ({"RedrivePolicy": "{not json"}, INVALID),
    ],
)
def test_create_queue_checks_attributes(
    sqs: Any, attributes: dict[str, str], expected: str
) -> None:
    name = f"bad{uuid.uuid4().hex[:8]}"
    assert code(lambda: sqs.create_queue(QueueName=name, Attributes=attributes)) == expected
    assert code(lambda: sqs.get_queue_url(QueueName=name)).endswith("NonExistentQueue")


@pytest.mark.parametrize(
    "name", ["", "x" * 81, "has space", "dots.in.name", "q.fifo.fifo", "../up", "a/b"]
)
def test_queue_names_follow_the_rules(sqs: Any, name: str) -> None:
    assert code(lambda: sqs.create_queue(QueueName=name)) in (INVALID, "MissingParameter")


def test_longest_names_are_accepted(sqs: Any) -> None:
    assert sqs.create_queue(QueueName="n" * 80)["QueueUrl"].endswith("/" + "n" * 80)
    fifo = "f" * 75 + ".fifo"
    url = sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert url.endswith("/" + fifo)


def test_re_creating_a_queue(sqs: Any) -> None:
    name = f"again{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert (
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    )
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url  # attributes not given: not compared
    assert refused(
        lambda: sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    )[:2] == ("QueueAlreadyExists", 400)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"] == {"VisibilityTimeout": "45"}


def test_created_and_last_modified_timestamps(sqs: Any, new: Callable[..., str]) -> None:
    before = int(time.time())
    url = new()
    names = ["CreatedTimestamp", "LastModifiedTimestamp"]
    first = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    created, modified = int(first["CreatedTimestamp"]), int(first["LastModifiedTimestamp"])
    assert before - 1 <= created <= modified <= int(time.time()) + 1  # epoch seconds
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "31"})
    after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert after["CreatedTimestamp"] == first["CreatedTimestamp"]
    assert int(after["LastModifiedTimestamp"]) >= modified


def test_get_queue_attributes_names(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)  # none asked, none given
    assert code(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])) == (
        "InvalidAttributeName"
    )
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert every["QueueArn"].split(":")[4] == url.split("/")[-2]
    assert every["SqsManagedSseEnabled"] == "false"


# --- FIFO --------------------------------------------------------------------------------


def test_fifo_needs_a_group_and_returns_sequence_numbers(sqs: Any, new: Callable[..., str]) -> None:
    url = new(".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    assert refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))[:2] == (
        "MissingParameter",
        400,
    )
    sent = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    assert sent["SequenceNumber"].isdigit()
    [got] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert got["Attributes"]["SequenceNumber"] == sent["SequenceNumber"]
    assert got["Attributes"]["MessageGroupId"] == "g"


def test_fifo_deduplication(sqs: Any, new: Callable[..., str]) -> None:
    by_id = new(".fifo", FifoQueue="true")
    assert code(lambda: sqs.send_message(QueueUrl=by_id, MessageBody="x", MessageGroupId="g")) == (
        INVALID
    )  # neither ContentBasedDeduplication nor an id
    first = sqs.send_message(
        QueueUrl=by_id, MessageBody="1", MessageGroupId="g", MessageDeduplicationId="d"
    )
    again = sqs.send_message(
        QueueUrl=by_id, MessageBody="2", MessageGroupId="g", MessageDeduplicationId="d"
    )
    assert again["MessageId"] == first["MessageId"]
    by_body = new(".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    ids = {
        sqs.send_message(QueueUrl=by_body, MessageBody="same", MessageGroupId=g)["MessageId"]
        for g in ("a", "b")
    }
    assert len(ids) == 1  # scope "queue": the body counts across groups
    got = sqs.receive_message(QueueUrl=by_body, MaxNumberOfMessages=10)
    assert [m["Body"] for m in got["Messages"]] == ["same"]


def test_fifo_only_parameters(sqs: Any, new: Callable[..., str]) -> None:
    fifo, standard = new(".fifo", FifoQueue="true", ContentBasedDeduplication="true"), new()
    assert (
        code(
            lambda: sqs.send_message(
                QueueUrl=fifo, MessageBody="x", MessageGroupId="g", DelaySeconds=5
            )
        )
        == INVALID
    )
    assert (
        code(
            lambda: sqs.send_message(QueueUrl=standard, MessageBody="x", MessageDeduplicationId="d")
        )
        == INVALID
    )


def test_high_throughput_fifo_attributes(sqs: Any, new: Callable[..., str]) -> None:
    url = new(
        ".fifo",
        FifoQueue="true",
        DeduplicationScope="messageGroup",
        FifoThroughputLimit="perMessageGroupId",
    )
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["DeduplicationScope"], attrs["FifoThroughputLimit"]) == (
        "messageGroup",
        "perMessageGroupId",
    )
    a = sqs.send_message(
        QueueUrl=url, MessageBody="1", MessageGroupId="a", MessageDeduplicationId="d"
    )
    b = sqs.send_message(
        QueueUrl=url, MessageBody="2", MessageGroupId="b", MessageDeduplicationId="d"
    )
    assert a["MessageId"] != b["MessageId"]  # de-duplicated per message group only
    plain = new(".fifo", FifoQueue="true")
    defaults = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert (defaults["DeduplicationScope"], defaults["FifoThroughputLimit"]) == (
        "queue",
        "perQueue",
    )
    assert code(
        lambda: sqs.set_queue_attributes(
            QueueUrl=plain, Attributes={"FifoThroughputLimit": "perMessageGroupId"}
        )
    ) == ("InvalidAttributeValue")  # needs DeduplicationScope=messageGroup
    assert (
        code(
            lambda: sqs.set_queue_attributes(
                QueueUrl=plain, Attributes={"DeduplicationScope": "everything"}
            )
        )
        == "InvalidAttributeValue"
    )
    assert (
        code(
            lambda: sqs.create_queue(
                QueueName=f"s{uuid.uuid4().hex[:8]}", Attributes={"DeduplicationScope": "queue"}
            )
        )
        == "InvalidAttributeName"
    )  # standard queue


# --- messages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        {"AWS.reserved": {"DataType": "String", "StringValue": "x"}},
        {"two..dots": {"DataType": "String", "StringValue": "x"}},
        {".leading": {"DataType": "String", "StringValue": "x"}},
        {"n" * 257: {"DataType": "String", "StringValue": "x"}},
        {"kind": {"DataType": "Text", "StringValue": "x"}},
        {"count": {"DataType": "Number", "StringValue": "twelve"}},
        {"empty": {"DataType": "String", "StringValue": ""}},
        {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)},
    ],
)
def test_message_attributes_are_checked(sqs: Any, new: Callable[..., str], attributes: Any) -> None:
    url = new()
    assert (
        code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes))
        == INVALID
    )


def test_custom_attribute_types_and_sizes(sqs: Any, new: Callable[..., str]) -> None:
    url = new(MaximumMessageSize="1024")
    attributes = {"price": {"DataType": "Number.euro", "StringValue": "12.50"}}
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    [got] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert got["MessageAttributes"] == attributes
    big = {"blob": {"DataType": "Binary", "BinaryValue": b"\0" * 1000}}
    assert (
        code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x" * 30, MessageAttributes=big))
        == INVALID
    )


def test_aws_trace_header(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    header = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes=header)
    [got] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])[
        "Messages"
    ]
    assert got["Attributes"] == {"AWSTraceHeader": trace}
    assert "MessageAttributes" not in got  # not a user attribute
    other = {"SenderId": {"DataType": "String", "StringValue": "me"}}
    assert (
        code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes=other))
        == INVALID
    )


def test_delay_over_fifteen_minutes_is_refused(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    assert code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)) == (
        INVALID
    )
    sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=900)


def test_receipt_handle_errors(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    assert refused(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"))[:2] == (
        "ReceiptHandleIsInvalid",
        404,
    )
    assert (
        code(
            lambda: sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=5
            )
        )
        == "ReceiptHandleIsInvalid"
    )
    result = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "bad"}])
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [
        ("a", "ReceiptHandleIsInvalid", True)
    ]


# --- batches -----------------------------------------------------------------------------

BATCHES = {
    "send_message_batch": lambda i: {"Id": i, "MessageBody": "x"},
    "delete_message_batch": lambda i: {"Id": i, "ReceiptHandle": "h"},
    "change_message_visibility_batch": lambda i: {
        "Id": i,
        "ReceiptHandle": "h",
        "VisibilityTimeout": 1,
    },
}


@pytest.mark.parametrize("action", sorted(BATCHES))
def test_batch_errors(sqs: Any, new: Callable[..., str], action: str) -> None:
    url, entry, call = new(), BATCHES[action], getattr(sqs, action)
    prefix = "AWS.SimpleQueueService."
    assert code(lambda: call(QueueUrl=url, Entries=[])) == prefix + "EmptyBatchRequest"
    assert code(lambda: call(QueueUrl=url, Entries=[entry("a"), entry("a")])) == (
        prefix + "BatchEntryIdsNotDistinct"
    )
    eleven = [entry(f"e{i}") for i in range(11)]
    assert code(lambda: call(QueueUrl=url, Entries=eleven)) == (
        prefix + "TooManyEntriesInBatchRequest"
    )
    assert code(lambda: call(QueueUrl=url, Entries=[entry("not ok!")])) == (
        prefix + "InvalidBatchEntryId"
    )


# --- permissions, tags, KMS --------------------------------------------------------------


def test_add_and_remove_permission(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    own = url.split("/")[-2]
    sqs.add_permission(QueueUrl=url, Label="mine", AWSAccountIds=[own], Actions=["SendMessage"])
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["mine"]
    assert (
        code(
            lambda: sqs.add_permission(
                QueueUrl=url, Label="mine", AWSAccountIds=[own], Actions=["SendMessage"]
            )
        )
        == INVALID
    )
    assert (
        code(
            lambda: sqs.add_permission(
                QueueUrl=url, Label="x", AWSAccountIds=[own], Actions=["CreateQueue"]
            )
        )
        == INVALID
    )
    other = "123456789012"
    _, status, message = refused(
        lambda: sqs.add_permission(
            QueueUrl=url, Label="theirs", AWSAccountIds=[other], Actions=["SendMessage"]
        )
    )
    assert status == 400 and "cross-account access is not supported" in message
    assert refused(
        lambda: sqs.add_permission(
            QueueUrl=url, Label="many", AWSAccountIds=[own], Actions=["SendMessage"] * 8
        )
    )[:2] == ("OverLimit", 403)
    sqs.remove_permission(QueueUrl=url, Label="mine")
    assert code(lambda: sqs.remove_permission(QueueUrl=url, Label="mine")) == INVALID
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])


def test_a_policy_granting_others_is_refused(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    anyone = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}
    _, _, message = refused(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(anyone)})
    )
    assert "cross-account access is not supported" in message


def test_tag_limits(sqs: Any, new: Callable[..., str]) -> None:
    url = new()
    sqs.tag_queue(QueueUrl=url, Tags={"team": "core"})
    assert code(lambda: sqs.tag_queue(QueueUrl=url, Tags={})) == "MissingParameter"
    many = {f"k{i}": "v" for i in range(50)}
    assert code(lambda: sqs.tag_queue(QueueUrl=url, Tags=many)) == INVALID
    assert code(lambda: sqs.tag_queue(QueueUrl=url, Tags={"k" * 129: "v"})) == (INVALID)
    assert code(lambda: sqs.untag_queue(QueueUrl=url, TagKeys=[])) == INVALID
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}  # nothing half-applied
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


@pytest.mark.parametrize(
    "attributes",
    [
        {"KmsMasterKeyId": "alias/aws/sqs"},
        {"KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": "300"},
        {"KmsDataKeyReusePeriodSeconds": "300"},
        {"SqsManagedSseEnabled": "true"},
    ],
)
def test_encryption_it_cannot_honour_is_refused(sqs: Any, attributes: dict[str, str]) -> None:
    name = f"kms{uuid.uuid4().hex[:8]}"
    _, status, message = refused(lambda: sqs.create_queue(QueueName=name, Attributes=attributes))
    assert status == 400 and "Reason:" in message
    assert code(lambda: sqs.get_queue_url(QueueName=name)).endswith("NonExistentQueue")


def test_kms_reuse_period_range_comes_first(sqs: Any) -> None:
    name = f"kms{uuid.uuid4().hex[:8]}"
    _, _, message = refused(
        lambda: sqs.create_queue(QueueName=name, Attributes={"KmsDataKeyReusePeriodSeconds": "59"})
    )
    assert message == "Invalid value for the parameter KmsDataKeyReusePeriodSeconds."
    url = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "false"})["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["SqsManagedSseEnabled"])[
        "Attributes"
    ] == {"SqsManagedSseEnabled": "false"}


# --- ListQueues --------------------------------------------------------------------------


def test_list_queues_prefix_and_pages(sqs: Any) -> None:
    prefix = f"page{uuid.uuid4().hex[:6]}-"
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}{i}")["QueueUrl"] for i in range(5))
    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == urls
    assert "NextToken" not in sqs.list_queues(QueueNamePrefix=prefix)
    seen, token = [], None
    while True:
        page = sqs.list_queues(
            QueueNamePrefix=prefix, MaxResults=2, **({"NextToken": token} if token else {})
        )
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=prefix + "none")
    assert code(lambda: sqs.list_queues(MaxResults=0)) == INVALID
    assert code(lambda: sqs.list_queues(MaxResults=2, NextToken="forged")) == (INVALID)


# --- STS ---------------------------------------------------------------------------------


def test_get_caller_identity_through_boto3(runtime: Platform, sqs: Any) -> None:
    identity = boto(runtime, "sts").get_caller_identity()
    assert identity["Account"] == account_of(APP)
    assert identity["Arn"] == f"arn:aws:iam::{account_of(APP)}:user/{APP}"
    url = sqs.create_queue(QueueName="whoami")["QueueUrl"]
    assert url.split("/")[-2] == identity["Account"]


# --- the query protocol ------------------------------------------------------------------

QUERY_CASES = [
    (
        {"Action": "GetQueueUrl", "QueueName": "never-made"},
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
    ),
    ({"Action": "SendMessage", "QueueUrl": "{url}"}, "MissingParameter", 400),
    (
        {"Action": "SendMessage", "QueueUrl": "{url}", "MessageBody": "x", "DelaySeconds": "901"},
        INVALID,
        400,
    ),
    (
        {
            "Action": "CreateQueue",
            "QueueName": "{name}",
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "43201",
        },
        "InvalidAttributeValue",
        400,
    ),
    (
        {
            "Action": "CreateQueue",
            "QueueName": "{name}",
            "Attribute.1.Name": "KmsMasterKeyId",
            "Attribute.1.Value": "alias/aws/sqs",
        },
        "InvalidAttributeValue",
        400,
    ),
    (
        {"Action": "DeleteMessage", "QueueUrl": "{url}", "ReceiptHandle": "garbage"},
        "ReceiptHandleIsInvalid",
        404,
    ),
    (
        {
            "Action": "SendMessageBatch",
            "QueueUrl": "{url}",
            "SendMessageBatchRequestEntry.1.Id": "a",
            "SendMessageBatchRequestEntry.1.MessageBody": "1",
            "SendMessageBatchRequestEntry.2.Id": "a",
            "SendMessageBatchRequestEntry.2.MessageBody": "2",
        },
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        400,
    ),
    ({"Action": "TagQueue", "QueueUrl": "{url}"}, "MissingParameter", 400),
    ({"Action": "ListQueues", "MaxResults": "1001"}, INVALID, 400),
]


@pytest.mark.parametrize(("params", "expected", "status"), QUERY_CASES)
def test_query_protocol_errors(
    runtime: Platform, new: Callable[..., str], params: dict[str, str], expected: str, status: int
) -> None:
    url, name = new(), f"query{uuid.uuid4().hex[:8]}"
    filled = {k: v.format(url=url, name=name) for k, v in params.items()}
    resp = query(runtime, filled)
    assert (xml_code(resp), resp.status_code) == (expected, status), resp.text


def test_query_protocol_get_caller_identity(runtime: Platform) -> None:
    resp = query(runtime, {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "sts")
    assert resp.status_code == 200
    found = ET.fromstring(resp.content).find(".//{*}GetCallerIdentityResult/{*}Account")
    assert found is not None and found.text == account_of(APP)
