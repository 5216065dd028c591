"""Issue 15, finding 5: one app's long polls cannot starve another app or the control API.

Forty ``ReceiveMessage WaitTimeSeconds=20`` loops of app A on an empty queue used to hold
every pooled connection (and the API's worker threads) for their whole wait, so app B's
SendMessage and an API GET stalled for up to 28 s. Now waits hold neither, and A has at most
``LONG_POLLS_PER_APP`` of them waiting at once.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from tests.hidden import builtin_headers
from tests.waiting import wait_until

from comind.api.sqs_polls import LONG_POLLS_PER_APP
from comind.observe.metrics import REGISTRY
from comind.platform import Platform

POLLERS = 40


def client(runtime: Platform, app: str) -> Any:
    assert runtime.credentials is not None
    key = runtime.credentials.ensure(app)
    return boto3.client(
        "sqs", endpoint_url=runtime.url, region_name="us-east-1",
        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret,
        config=Config(max_pool_connections=POLLERS, read_timeout=60, retries={"max_attempts": 1}),
    )  # fmt: skip


def waiting(app: str) -> float:
    return REGISTRY.get_sample_value("comind_sqs_long_polls", {"app": app}) or 0.0


class Pollers:
    """POLLERS consumer loops of one app, each long-polling until stopped."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.stop = threading.Event()
        self.bodies: list[str] = []
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(POLLERS)]

    def _loop(self) -> None:
        while not self.stop.is_set():
            got = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=20)
            self.bodies.extend(m["Body"] for m in got.get("Messages", []))

    def __enter__(self) -> Pollers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for _ in range(POLLERS):  # one message for each waiting loop ends its wait now
            self.sqs.send_message(QueueUrl=self.url, MessageBody="stop")
        for thread in self.threads:
            thread.join(timeout=30)


def timed(call: Callable[[], object], times: int = 10) -> list[float]:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        took.append(time.perf_counter() - began)
    return took


@pytest.fixture
def apps(runtime: Platform) -> Iterator[tuple[Any, Any]]:
    yield client(runtime, "poll-heavy"), client(runtime, "poll-light")


def test_long_polls_of_one_app_leave_others_fast(runtime: Platform, apps: tuple[Any, Any]) -> None:
    heavy, light = apps
    idle = heavy.create_queue(QueueName="idle")["QueueUrl"]
    busy = light.create_queue(QueueName="busy")["QueueUrl"]
    api = f"{runtime.url}/api/v1/queues"
    headers = builtin_headers(runtime.engines.home, "viewer")

    def send() -> object:
        return light.send_message(QueueUrl=busy, MessageBody="b")

    def get() -> object:
        return httpx.get(api, headers=headers).raise_for_status()

    quiet = (timed(send), timed(get))  # the same calls with nothing waiting: the baseline
    with Pollers(heavy, idle) as pollers:
        assert wait_until(lambda: waiting("poll-heavy") >= LONG_POLLS_PER_APP, timeout=15)
        sends, gets = timed(send), timed(get)
        heavy.send_message(QueueUrl=idle, MessageBody="during the wait")
        assert wait_until(lambda: "during the wait" in pollers.bodies, timeout=10)
    for took, base in zip((sends, gets), quiet, strict=True):
        # as fast as without the waits (a machine's noise aside: three test workers on two
        # cores stall any one call now and then); a call that had to wait for a poll's place
        # would take the poll's 20 seconds
        assert statistics.median(took) < 3 * statistics.median(base) + 0.05, (took, base)
        assert max(took) < 5.0, took
    assert waiting("poll-heavy") == 0  # every wait ended and gave its place back


def test_a_poll_whose_client_went_away_ends_and_takes_nothing(runtime: Platform) -> None:
    """A stopped consumer's 20 s poll held its app's place, and the API server's shutdown,
    for the rest of its wait; it ends once the connection is closed now, taking nothing."""
    assert runtime.credentials is not None
    key = runtime.credentials.ensure("poll-gone")
    impatient = boto3.client(
        "sqs", endpoint_url=runtime.url, region_name="us-east-1",
        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret,
        config=Config(read_timeout=1, retries={"max_attempts": 1}),
    )  # fmt: skip
    url = client(runtime, "poll-gone").create_queue(QueueName="gone")["QueueUrl"]
    with pytest.raises(ReadTimeoutError):  # gives up after 1 s and closes its connection
        impatient.receive_message(QueueUrl=url, WaitTimeSeconds=20)
    assert wait_until(lambda: waiting("poll-gone") == 0, timeout=5)
    patient = client(runtime, "poll-gone")
    patient.send_message(QueueUrl=url, MessageBody="after")
    got = patient.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in got] == ["after"]  # not taken by the poll that was gone
