"""The query protocol (form-encoded Action=..., XML answers), signed with SigV4 by botocore."""

from __future__ import annotations

from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from comind.platform import Platform

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


def call(
    runtime: Platform, params: dict[str, str], path: str = "/", secret: str | None = None
) -> httpx.Response:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure("query-app")
    body = urlencode({**params, "Version": "2012-11-05"})
    aws = AWSRequest(
        method="POST",
        url=runtime.url + path,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(Credentials(key.access_key_id, secret or key.secret), "sqs", "us-east-1").add_auth(
        aws
    )
    prepared = aws.prepare()
    return httpx.post(
        runtime.url + path, content=prepared.body, headers=dict(prepared.headers.items())
    )


def find(resp: httpx.Response, path: str) -> list[str]:
    return [e.text or "" for e in ET.fromstring(resp.content).findall(path, NS)]


def test_query_protocol_round_trip(runtime: Platform) -> None:
    created = call(
        runtime,
        {
            "Action": "CreateQueue",
            "QueueName": "legacy",
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "45",
        },
    )
    assert created.status_code == 200, created.text
    [url] = find(created, "q:CreateQueueResult/q:QueueUrl")
    sent = call(
        runtime,
        {
            "Action": "SendMessage",
            "QueueUrl": url,
            "MessageBody": "hi",
            "MessageAttribute.1.Name": "kind",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "order",
        },
    )
    assert find(sent, "q:SendMessageResult/q:MD5OfMessageBody") == [
        "49f68a5c8493ec2c0bf489821c21fc3b"
    ]
    got = call(
        runtime,
        {
            "Action": "ReceiveMessage",
            "QueueUrl": url,
            "MessageAttributeName.1": "All",
            "AttributeName.1": "All",
        },
    )
    assert find(got, "q:ReceiveMessageResult/q:Message/q:Body") == ["hi"]
    assert find(
        got, "q:ReceiveMessageResult/q:Message/q:MessageAttribute/q:Value/q:StringValue"
    ) == ["order"]
    attrs = call(
        runtime,
        {"Action": "GetQueueAttributes", "AttributeName.1": "All"},
        path=url.removeprefix(runtime.url),
    )  # the queue URL as the endpoint
    names = find(attrs, "q:GetQueueAttributesResult/q:Attribute/q:Name")
    values = find(attrs, "q:GetQueueAttributesResult/q:Attribute/q:Value")
    assert dict(zip(names, values, strict=True))["VisibilityTimeout"] == "45"


def test_query_protocol_errors_are_xml_with_sqs_codes(runtime: Platform) -> None:
    missing = call(runtime, {"Action": "GetQueueUrl", "QueueName": "nope"})
    assert missing.status_code == 400
    assert find(missing, "q:Error/q:Code") == ["AWS.SimpleQueueService.NonExistentQueue"]
    forged = call(runtime, {"Action": "ListQueues"}, secret="wrong")
    assert forged.status_code == 403
    assert find(forged, "q:Error/q:Code") == ["SignatureDoesNotMatch"]
