"""The AWS CLI (its query/JSON protocol handling, not only boto3's) against the endpoint:
a queue with a redrive policy, send, receive until dead-lettered, and redrive back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from comind.platform import Platform

AWS = str(Path(sys.executable).parent / "aws")  # the test extra's awscli, not another on PATH


@pytest.fixture(scope="module")
def aws(runtime: Platform, tmp_path_factory: pytest.TempPathFactory) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure("cli-app")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path_factory.mktemp("aws-home")),  # no user config read
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret,
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def run(*args: str) -> Any:
        done = subprocess.run(
            [AWS, "sqs", *args, "--output", "json", "--endpoint-url", runtime.url], env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    return run


def test_dead_letter_and_redrive_through_the_aws_cli(aws: Any) -> None:
    dlq_url = aws("create-queue", "--queue-name", "cli-dlq")["QueueUrl"]
    dlq_arn = aws("get-queue-attributes", "--queue-url", dlq_url, "--attribute-names",
                  "QueueArn")["Attributes"]["QueueArn"]  # fmt: skip
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    attributes = json.dumps({"RedrivePolicy": policy, "VisibilityTimeout": "0"})
    url = aws("create-queue", "--queue-name", "cli-work", "--attributes", attributes)["QueueUrl"]
    sent = aws("send-message", "--queue-url", url, "--message-body", "poison")
    for _ in range(2):
        [msg] = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1")["Messages"]
        assert msg["MessageId"] == sent["MessageId"]
    assert aws("receive-message", "--queue-url", url).get("Messages") is None  # moved
    [dead] = aws("receive-message", "--queue-url", dlq_url, "--visibility-timeout", "0",
                 "--wait-time-seconds", "1")["Messages"]  # fmt: skip
    assert dead["Body"] == "poison"
    sources = aws("list-dead-letter-source-queues", "--queue-url", dlq_url)["queueUrls"]
    assert sources == [url]
    task = aws("start-message-move-task", "--source-arn", dlq_arn)
    assert task["TaskHandle"]
    [back] = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "5")["Messages"]
    assert back["Body"] == "poison"
    aws("delete-message", "--queue-url", url, "--receipt-handle", back["ReceiptHandle"])
