"""Fuzzing the SQS endpoint's request parsing: whatever a signed client sends, never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comind.api.sqs_actions import ACTIONS
from comind.platform import Platform

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)  # fmt: skip
members = st.sampled_from(
    [
        "QueueName",
        "QueueUrl",
        "MessageBody",
        "Attributes",
        "Entries",
        "MessageAttributes",
        "ReceiptHandle",
        "VisibilityTimeout",
        "MaxNumberOfMessages",
        "WaitTimeSeconds",
        "DelaySeconds",
        "Tags",
        "TagKeys",
        "SourceArn",
        "TaskHandle",
        "AttributeNames",
    ]
)


def signed_post(runtime: Platform, body: bytes, headers: dict[str, str]) -> httpx.Response:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure("fuzz-app")
    aws = AWSRequest(method="POST", url=runtime.url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key.access_key_id, key.secret), "sqs", "us-east-1").add_auth(aws)
    prepared = aws.prepare()
    return httpx.post(
        runtime.url + "/", content=prepared.body, headers=dict(prepared.headers.items()), timeout=30
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from([*ACTIONS, "Bogus"]), params=st.dictionaries(members, values, max_size=5)
)
def test_json_protocol_never_500(runtime: Platform, action: str, params: dict[str, Any]) -> None:
    params.pop("WaitTimeSeconds", None)  # long polls only slow the fuzzer down
    resp = signed_post(
        runtime,
        json.dumps(params).encode(),
        {"X-Amz-Target": f"AmazonSQS.{action}", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert resp.status_code < 500, resp.text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from([*ACTIONS, "Bogus"]),
    pairs=st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z]{1,12}(\.[0-9]{1,2}(\.[A-Za-z]{1,10})?)?", fullmatch=True),
            st.text(max_size=20),
        ),
        max_size=8,
    ),
)
def test_query_protocol_never_500(
    runtime: Platform, action: str, pairs: list[tuple[str, str]]
) -> None:
    pairs = [(k, v) for k, v in pairs if not k.startswith("WaitTime")]
    body = urlencode([("Action", action), *pairs]).encode()
    resp = signed_post(runtime, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code < 500, resp.text


def test_garbage_bodies(runtime: Platform) -> None:
    for body in (b"{not json", b"[1,2]", b"\xff\xfe", b"null"):
        resp = signed_post(
            runtime,
            body,
            {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"},
        )
        assert resp.status_code == 400, resp.text
