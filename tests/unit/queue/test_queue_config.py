"""The queue backend is chosen by configuration; combinations that cannot work are refused
in one line, before anything is opened, without echoing secrets."""

from __future__ import annotations

import pytest

from comind.queue.config import QueueConfigError, queue_settings
from comind.queue.factory import open_queue_backend


def test_postgres_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert queue_settings().queue_backend == "postgres"


def test_the_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMIND_QUEUE_BACKEND", "sqs")
    monkeypatch.setenv("COMIND_SQS_ENDPOINT", "http://127.0.0.1:9324")
    settings = queue_settings()
    assert (settings.queue_backend, settings.sqs_endpoint) == ("sqs", "http://127.0.0.1:9324")


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"queue_backend": "kafka"}, "COMIND_QUEUE_BACKEND: use postgres or sqs"),
        ({"sqs_endpoint": "http://h:1"}, "COMIND_SQS_ENDPOINT is set but COMIND_QUEUE_BACKEND "
                                         "is postgres: set COMIND_QUEUE_BACKEND=sqs, or unset it"),
        ({"queue_backend": "sqs"}, "COMIND_QUEUE_BACKEND=sqs needs COMIND_SQS_ENDPOINT or "
                                   "COMIND_SQS_REGION"),
        ({"queue_backend": "sqs", "sqs_endpoint": "localhost:9324"},
         "COMIND_SQS_ENDPOINT: expected an http(s):// URL without a user or password (the "
         "apps are given it)"),
        ({"queue_backend": "sqs", "sqs_endpoint": "http://u:s3cr3t@sqs:9324"},
         "COMIND_SQS_ENDPOINT: expected an http(s):// URL without a user or password (the "
         "apps are given it)"),
        ({"queue_backend": "sqs", "sqs_region": "eu-west-1", "sqs_secret_access_key": "s3cr3t"},
         "set both COMIND_SQS_ACCESS_KEY_ID and COMIND_SQS_SECRET_ACCESS_KEY, or neither"),
        ({"queue_backend": "sqs", "sqs_region": "eu-west-1", "sqs_app_access_key_id": "AKIA"},
         "set both COMIND_SQS_APP_ACCESS_KEY_ID and COMIND_SQS_APP_SECRET_ACCESS_KEY, or "
         "neither"),
        ({"queue_backend": "sqs", "sqs_region": "eu-west-1", "sqs_queue_prefix": "shop/prod"},
         "COMIND_SQS_QUEUE_PREFIX: use at most 40 letters, digits, '-' and '_'"),
        ({"sqs_queue_prefix": "shop-"}, "COMIND_SQS_QUEUE_PREFIX is set but COMIND_QUEUE_BACKEND "
                                        "is postgres: set COMIND_QUEUE_BACKEND=sqs, or unset it"),
    ],
)  # fmt: skip
def test_a_combination_that_cannot_work_is_refused_in_one_line(
    given: dict[str, str], said: str
) -> None:
    with pytest.raises(QueueConfigError) as refused:
        queue_settings(**given)
    assert str(refused.value) == said
    assert "s3cr3t" not in str(refused.value)


def test_the_secret_stays_out_of_reprs() -> None:
    settings = queue_settings(queue_backend="sqs", sqs_region="eu-west-1",
                              sqs_access_key_id="AKIA", sqs_secret_access_key="s3cr3t")  # fmt: skip
    assert "s3cr3t" not in repr(settings)


def test_the_postgres_backend_needs_the_platform_database() -> None:
    with pytest.raises(QueueConfigError, match="needs the platform database"):
        open_queue_backend(queue_settings(queue_backend="postgres"))


def test_the_sqs_backend_is_built_from_its_settings() -> None:
    settings = queue_settings(queue_backend="sqs", sqs_endpoint="http://127.0.0.1:9",
                              sqs_region="eu-west-1", sqs_access_key_id="AKIA",
                              sqs_secret_access_key="s3cr3t")  # fmt: skip
    with open_queue_backend(settings) as backend:  # a client only: nothing is contacted yet
        assert backend.kind == "sqs"
        client = backend.queues.client  # type: ignore[attr-defined]
        assert client.meta.endpoint_url == "http://127.0.0.1:9"
        assert client.meta.region_name == "eu-west-1"
