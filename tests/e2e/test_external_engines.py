"""Cluster mode's engines by configuration (issue 19): the example itself, the shop, as one
tour on engines the platform did not start. Its PostgreSQL and Redis are named by URL only
(COMIND_POSTGRES_URL, COMIND_REDIS_URL; here a second PostgreSQL and Redis started by the
project's own embedded code, handed over as a managed service would be), every bucket is on
S3 and the apps' queues on SQS (moto standing in for AWS).

First what cannot work stops `comind up` before anything is made, one line each (an engine
that does not answer or lacks rights). Then the sync: the apps' databases, roles and Redis
users are made on the managed servers, their buckets on S3, their queues and dead-letter
queues on SQS; the flows run: each order placed reaches payments and orders through their
queues on SQS (from the ingest flow's topic, forwarded), the apps answer through their
outboxes onto SQS again, the flows write their sinks on the managed server. Backups read
from there and pass their restore tests; an app's database comes back beside it
(`restore --app --as`), while replacing the whole server, which is not the platform's, is
refused. Then the disaster: `comind dr restore --from s3://…` on a new state directory
brings the platform back on engines of its own, its data, buckets and queues included; the
managed server's backups pass their restore tests there and new orders flow again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import redis
from psycopg.conninfo import make_conninfo
from tests.e2e.test_shop_flows import shop_copy
from tests.waiting import wait_until

from comind.sdk.env import AppEnv

pytestmark = pytest.mark.slow
PASSPHRASE = {"COMIND_KEYS_PASSPHRASE": "correct horse battery"}
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
Comind = Any  # the e2e conftest's `comind` runner


def _up(comind: Comind, repo: Path, urls: dict[str, str], *home: str) -> Any:
    return comind(*home, "up", "--repo", str(repo), "--detach", "--api-port", "0", timeout=300,
                  extra_env=urls)  # fmt: skip


def _sqs(url: str) -> dict[str, str]:
    return {"COMIND_QUEUE_BACKEND": "sqs", "COMIND_SQS_ENDPOINT": url,
            "COMIND_SQS_REGION": "us-east-1", "COMIND_SQS_QUEUE_PREFIX": "shop-",
            "COMIND_SQS_ACCESS_KEY_ID": "platform", "COMIND_SQS_SECRET_ACCESS_KEY":
            "platform-secret", "COMIND_SQS_APP_ACCESS_KEY_ID": "apps",
            "COMIND_SQS_APP_SECRET_ACCESS_KEY": "apps-secret"}  # fmt: skip


def _aws(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def _flows(comind: Comind, *home: str) -> dict[str, dict[str, object]]:
    out = comind(*home, "flow", "ls", "--json", check=True).stdout
    return {f["name"]: f for f in json.loads(out)}


def _shop(tmp_path: Path) -> Path:
    repo = shop_copy(tmp_path)
    spec = (repo / "comind.yaml").read_text()  # moto's lifecycle rules drop a rule's
    versions = ", versions: {keep_for: 30d, keep_newest: 3}"  # NewerNoncurrentVersions
    (repo / "comind.yaml").write_text(spec.replace(versions, ""))  # (AWS keeps it)
    return repo


@pytest.mark.timeout(900)  # a long tour: three platform starts and a recovery
def test_the_example_runs_on_engines_it_did_not_start(
    managed: tuple[str, str],
    comind: Comind,
    home: Path,
    tmp_path: Path,
    moto_url: str,
    engine_root: Path,
) -> None:  # managed first: its servers stop after the platform's `comind down`
    pg_url, redis_url = managed
    repo, keyfile = _shop(tmp_path), tmp_path / "keys.json"
    urls = {"COMIND_POSTGRES_URL": pg_url, "COMIND_REDIS_URL": redis_url}
    _refused_starts(comind, repo, home, urls)

    plain = urls | {"COMIND_OBJECT_STORE": "s3:shop-", "COMIND_S3_ENDPOINT": moto_url,
                    **MOTO_KEYS}  # fmt: skip
    urls = plain | _sqs(moto_url)
    _up(comind, repo, urls).check_returncode()
    state = json.loads((home / "state.json").read_text())
    assert state["engines"]["postgres"]["address"] == pg_url.rsplit("@", 1)[1].split("/")[0]
    assert state["engines"]["postgres"]["pid"] is None and state["engines"]["redis"]["pid"] is None
    assert not (home / "postgres" / "data").exists()  # no PostgreSQL of its own
    assert oct((home / "secrets" / "postgres-url").stat().st_mode & 0o777) == "0o600"
    healthy = wait_until(lambda: all(f["state"] == "Healthy" for f in _flows(comind).values()), 120)
    assert healthy, comind("diff").stdout  # what did not sync, and why

    env = json.loads(comind("app", "env", "orders", "--json", check=True).stdout)["env"]
    _services_are_there(env, redis_url, moto_url)
    good = _orders_flow(comind, pg_url, moto_url, seed=7, count=100)
    taken = _backups(comind, urls, pg_url, moto_url, good)

    comind("keys", "export", "--out", str(keyfile), check=True, extra_env=PASSPHRASE)
    comind("down", check=True)
    with psycopg.connect(pg_url) as conn:  # the managed server outlives the platform
        kept = "SELECT count(*) FROM pg_database WHERE datname = 'orders'"
        assert conn.execute(kept).fetchone() == (1,)
    moved = _up(comind, repo, plain)  # the apps' queues would be left behind on SQS
    assert moved.returncode != 0
    assert f"keeps its apps' queues on SQS at {moto_url} with queue prefix 'shop-'" in (
        moved.stderr
    )
    _disaster(comind, repo, keyfile, engine_root / f"{home.name}-rebuilt", moto_url, taken, good)


def _refused_starts(comind: Comind, repo: Path, home: Path, urls: dict[str, str]) -> None:
    """An engine that does not answer or lacks rights stops `comind up` with one line, and
    nothing is made (no database, no kept URL)."""
    pg_url = urls["COMIND_POSTGRES_URL"]
    nowhere = "postgresql://postgres:x@127.0.0.1:9/postgres"
    unreachable = _up(comind, repo, {**urls, "COMIND_POSTGRES_URL": nowhere})
    assert unreachable.returncode != 0
    assert "PostgreSQL at 127.0.0.1:9 (COMIND_POSTGRES_URL)" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr and "x@" not in unreachable.stderr
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE weak LOGIN PASSWORD 'weak-pass'")
        weak_url = "postgresql://weak:weak-pass@" + pg_url.split("@", 1)[1]
        weak = _up(comind, repo, {**urls, "COMIND_POSTGRES_URL": weak_url})
        conn.execute("DROP ROLE weak")
        assert weak.returncode != 0 and "role weak is not a superuser" in weak.stderr
        made = "SELECT count(*) FROM pg_database WHERE datname IN ('comind', 'orders')"
        assert conn.execute(made).fetchone() == (0,)  # nothing was made by the refused starts
    assert not (home / "secrets" / "postgres-url").exists()  # nor a refused URL kept
    no_s3 = {"COMIND_BACKUP_STORE": "s3://offsite/comind", "COMIND_S3_ENDPOINT":
             "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
             "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    unstored = _up(comind, repo, {**urls, **no_s3})
    assert unstored.returncode != 0 and "S3: Could not connect" in unstored.stderr
    assert "Traceback" not in unstored.stderr
    no_sqs = _up(comind, repo, {**urls, **_sqs("http://127.0.0.1:9")})
    assert no_sqs.returncode != 0
    assert "SQS at http://127.0.0.1:9 does not answer" in no_sqs.stderr
    assert "Traceback" not in no_sqs.stderr and "platform-secret" not in no_sqs.stderr


def _services_are_there(env: dict[str, str], redis_url: str, moto_url: str) -> None:
    """The orders app's services, reached with its own logins: its cache keys on the managed
    Redis, its bucket on S3 (through the platform's endpoint), its queues on SQS with their
    redrive to their dead-letter queues there, and the apps' SQS key, never the platform's."""
    with redis.Redis.from_url(env["REDIS_URL"]) as cache:
        cache.set(f"{env['REDIS_KEY_PREFIX']}k", "v")
    with redis.Redis.from_url(redis_url, decode_responses=True) as admin:
        assert admin.get(f"{env['REDIS_KEY_PREFIX']}k") == "v"
    app_s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          region_name=env["AWS_REGION"])  # fmt: skip
    app_s3.put_object(Bucket="orders-files", Key="invoices/1.txt", Body=b"invoice one")
    moto = _aws("s3", moto_url)
    kept = moto.get_object(Bucket="shop-orders-files", Key="invoices/1.txt")["Body"]
    assert kept.read() == b"invoice one"
    assert moto.get_bucket_versioning(Bucket="shop-orders-files")["Status"] == "Enabled"

    assert "platform-secret" not in json.dumps(env)
    app = AppEnv.from_environ(env)
    assert (app.sqs_endpoint, app.sqs_key) == (moto_url, ("apps", "apps-secret"))
    sqs = app.client("sqs")
    for queue in ("order-events", "fulfilment"):
        url = sqs.get_queue_url(QueueName=app.queue_name(queue))["QueueUrl"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        target = json.loads(got["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
        assert target.endswith(f":{app.queue_name(queue + '-dlq')}")


def _count(url: str, db: str, table: str) -> int:
    with psycopg.connect(make_conninfo(url, dbname=db)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def _orders_flow(
    comind: Comind, pg_url: str, moto_url: str, *, seed: int, count: int, before: int = 0,
    home: tuple[str, ...] = (),
) -> int:  # fmt: skip
    """Orders placed through the ingest flow, each settled by payments and shipped by
    orders through their queues on SQS, each answered onto SQS again; how many were good."""
    traffic = ("demo", "traffic", "--rate", "400", "--count", str(count), "--seed", str(seed))
    sent = json.loads(comind(*home, *traffic, "--json", timeout=120, check=True).stdout)
    good = count - sent["malformed"]
    total = before + good
    assert wait_until(lambda: _count(pg_url, "payments", "settlements") == total
                      and _count(pg_url, "orders", "shipments") == total, 180)  # fmt: skip
    assert _count(pg_url, "orders", "enriched_orders") == total
    sqs = _aws("sqs", moto_url)
    names = {u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix="shop-")["QueueUrls"]}
    assert {"shop-orders_fulfilment", "shop-payments_new-orders", "shop-payments_charges.fifo",
            "shop-orders_order-events", "shop-orders_order-events-dlq"} <= names  # fmt: skip
    events = sqs.get_queue_url(QueueName="shop-orders_order-events")["QueueUrl"]

    def answered() -> bool:  # order-shipped and payment-settled for each order, on SQS
        depth = ["ApproximateNumberOfMessages"]
        attrs = sqs.get_queue_attributes(QueueUrl=events, AttributeNames=depth)
        return bool(attrs["Attributes"]["ApproximateNumberOfMessages"] == str(2 * total))

    assert wait_until(answered, 90)
    with psycopg.connect(make_conninfo(pg_url, dbname="orders")) as conn:
        near = "SELECT count(*) FROM enriched_orders WHERE country IN ('NL', 'DE', 'FR')"
        (filtered,) = conn.execute(near).fetchone() or (None,)
    feed = sqs.get_queue_url(QueueName="shop-analytics_order-feed")["QueueUrl"]

    def filtered_in() -> bool:  # analytics' subscription takes NL, DE and FR only
        got = sqs.get_queue_attributes(
            QueueUrl=feed, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return bool(got["Attributes"]["ApproximateNumberOfMessages"] == str(filtered))

    assert wait_until(filtered_in, 90), filtered
    return good


def _backups(
    comind: Comind, urls: dict[str, str], pg_url: str, moto_url: str, good: int
) -> list[str]:
    """A full, a logical (of orders) and an objects backup, read from the managed server and
    S3, stored on S3, each restore-tested; orders' database back beside it; a restore of the
    whole server, which is not the platform's to replace, refused."""
    taken = [json.loads(comind("backup", "run", "--kind", *kind, "--json", timeout=300,
                               check=True).stdout)["id"]
             for kind in (("full",), ("logical", "--app", "orders"), ("objects",))]  # fmt: skip

    def tested() -> dict[str, str]:
        listed = json.loads(comind("backup", "ls", "--json", check=True).stdout)
        return {b["id"]: b["verify_status"] for b in listed if b["verify_status"]}

    assert wait_until(lambda: set(taken) <= set(tested()), 180, interval=0.5), tested()
    assert [tested()[i] for i in taken] == ["verified"] * 3
    stored = _aws("s3", moto_url).list_objects_v2(Bucket="shop-comind-backups",
                                                  Prefix=f"base/{taken[0]}/")  # fmt: skip
    assert f"base/{taken[0]}/manifest.json" in {o["Key"] for o in stored["Contents"]}
    refused = comind("restore", "--backup", taken[0], "--yes", timeout=120)
    assert refused.returncode != 0 and "not its to replace" in refused.stderr
    comind("restore", "--app", "orders", "--backup", taken[1], "--as", "orders_copy", "--yes",
           timeout=120, check=True, extra_env=urls)  # fmt: skip
    assert _count(pg_url, "orders_copy", "enriched_orders") == good  # beside it
    return taken


def _disaster(
    comind: Comind, repo: Path, keyfile: Path, new: Path, moto_url: str, taken: list[str],
    good: int,
) -> None:  # fmt: skip
    """The machine and the managed engines are gone; the backups on S3 and the exported
    keys bring the platform back on a new machine, on engines of its own."""
    since, at = datetime.now(UTC), ("--home", str(new))
    away = {**MOTO_KEYS, **_sqs(moto_url), "COMIND_S3_ENDPOINT": moto_url,
            "COMIND_OBJECT_STORE": "s3:shop-rebuilt-", **PASSPHRASE}  # fmt: skip
    rebuilt = comind(*at, "dr", "restore", "--from", "s3://shop-comind-backups", "--keys",
                     str(keyfile), "--json", timeout=300, check=True, extra_env=away)  # fmt: skip
    assert json.loads(rebuilt.stdout)["buckets"]["orders-files"] == 1
    try:
        _up(comind, repo, away, *at).check_returncode()
        assert wait_until(lambda: all(f["state"] == "Healthy"
                                      for f in _flows(comind, *at).values()), 120)  # fmt: skip
        state = json.loads((new / "state.json").read_text())
        host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
        password = (new / "secrets" / "postgres-password").read_text().strip()
        pg_url = f"postgresql://postgres:{password}@{host}:{port}/postgres"
        assert _count(pg_url, "payments", "settlements") == good
        kept = _aws("s3", moto_url).get_object(Bucket="shop-rebuilt-orders-files",
                                               Key="invoices/1.txt")["Body"]  # fmt: skip
        assert kept.read() == b"invoice one"

        def retested() -> str | None:  # a backup of the managed server, tested on the new one
            listed = json.loads(comind(*at, "backup", "ls", "--json", check=True).stdout)
            found = next(b for b in listed if b["id"] == taken[0])
            when = found["verified_at"]
            return found["verify_status"] if when and datetime.fromisoformat(when) > since else None

        assert wait_until(lambda: retested() is not None, 120, interval=0.5)
        assert retested() == "verified"
        _orders_flow(comind, pg_url, moto_url, seed=8, count=20, before=good, home=at)
    finally:
        comind(*at, "down")
