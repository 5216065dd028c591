"""A name followed by a newline is not that name: every validating pattern ends at the end of
the string (``\\Z``), never before a trailing newline (``$`` does)."""

from __future__ import annotations

import pytest

from comind.cicd.artifacts import check
from comind.errors import ComindError
from comind.queue.errors import QueueError
from comind.queue.model import check_queue_name
from comind.stores.object_model import valid_bucket


def test_a_bucket_name_with_a_trailing_newline_is_refused() -> None:
    assert valid_bucket("photos") and not valid_bucket("photos\n")


def test_a_queue_name_with_a_trailing_newline_is_refused() -> None:
    check_queue_name("orders")
    with pytest.raises(QueueError):
        check_queue_name("orders\n")


def test_an_artifact_with_a_trailing_newline_is_refused() -> None:
    check("shop", "1.0.0")
    with pytest.raises(ComindError):
        check("shop\n", "1.0.0")
    with pytest.raises(ComindError):
        check("shop", "1.0.0\n")
