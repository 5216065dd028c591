"""The example itself in cluster mode (issue 19): the shop on a PostgreSQL and a Redis it did
not start, every bucket on S3 and the apps' queues on SQS (moto standing in for AWS). Kept
apart from test_external_engines.py (the tour of each engine and the recovery) so the two
run side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.e2e.test_external_engines import MOTO_KEYS, _sqs, _up
from tests.e2e.test_shop_flows import flows, shop_copy
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def test_the_shop_runs_with_its_queues_on_sqs(
    managed: tuple[str, str], comind: Any, tmp_path: Path, moto_url: str
) -> None:  # managed first: its servers stop after the platform's `comind down`
    """The example on the managed servers, S3 and SQS: each order placed reaches payments
    and orders through their queues on SQS (from the ingest flow's topic, forwarded), the
    apps answer through their outboxes onto SQS again, and the flows write their sinks on
    the managed server."""
    pg_url, redis_url = managed
    repo = shop_copy(tmp_path)
    spec = (repo / "comind.yaml").read_text()  # moto's lifecycle rules drop a rule's
    versions = ", versions: {keep_for: 30d, keep_newest: 3}"  # NewerNoncurrentVersions
    (repo / "comind.yaml").write_text(spec.replace(versions, ""))  # (AWS keeps it)
    urls = {"COMIND_POSTGRES_URL": pg_url, "COMIND_REDIS_URL": redis_url,
            "COMIND_OBJECT_STORE": "s3:shop-", "COMIND_S3_ENDPOINT": moto_url, **MOTO_KEYS,
            **_sqs(moto_url, prefix="shop-")}  # fmt: skip
    _up(comind, repo, urls).check_returncode()
    healthy = wait_until(lambda: all(f["state"] == "Healthy" for f in flows(comind).values()), 120)
    assert healthy, comind("diff").stdout  # what did not sync, and why
    sent = json.loads(comind("demo", "traffic", "--rate", "400", "--count", "100", "--seed",
                             "7", "--json", timeout=120, check=True).stdout)  # fmt: skip
    good = 100 - sent["malformed"]

    def count(db: str, table: str) -> int:
        with psycopg.connect(make_conninfo(pg_url, dbname=db)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    assert wait_until(lambda: count("payments", "settlements") == good
                      and count("orders", "shipments") == good, 90)  # fmt: skip
    assert count("orders", "enriched_orders") == good
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    names = {u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix="shop-")["QueueUrls"]}
    assert {"shop-orders_fulfilment", "shop-payments_new-orders", "shop-payments_charges.fifo",
            "shop-orders_order-events", "shop-orders_order-events-dlq"} <= names  # fmt: skip
    events = sqs.get_queue_url(QueueName="shop-orders_order-events")["QueueUrl"]

    def answered() -> bool:  # order-shipped and payment-settled for each order, on SQS
        depth = ["ApproximateNumberOfMessages"]
        attrs = sqs.get_queue_attributes(QueueUrl=events, AttributeNames=depth)
        return bool(attrs["Attributes"]["ApproximateNumberOfMessages"] == str(2 * good))

    assert wait_until(answered, 30)
