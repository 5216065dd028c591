"""Cluster mode's engines by configuration (issue 19), as one tour: the platform runs on a
PostgreSQL and a Redis it did not start, named by URL only (COMIND_POSTGRES_URL,
COMIND_REDIS_URL; here a second PostgreSQL and Redis started by the project's own embedded
code, handed over as a managed service would be), every bucket on S3 and the apps' queues on
SQS (moto standing in for AWS). The app's database, role and Redis user are made there; its
queue and dead-letter queue on SQS, where its outbox and a filtered topic reach it; an event
flow from that topic writes its sink table on the managed server; backups
read from there and are restore-tested; what the platform cannot do to a server it does not
own is refused with one line, and an engine that does not answer or lacks rights stops
`comind up` before anything is made. Then the disaster: `comind dr restore --from s3://…` on
a new state directory brings the platform back (on engines of its own), its data, buckets
and queues included, and the managed server's backups still pass their restore tests."""

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
from tests.waiting import wait_until

from comind.sdk import events, outbox
from comind.sdk.env import AppEnv

pytestmark = pytest.mark.slow
SPEC = """\
platform: {name: remote}
apps:
  ledger:
    run: sleep 3600
    publishes: [ledger-posted]
    database: {name: ledger}
    cache: {}
    bucket: {name: ledger-files, versioning: true, encrypted: true}
    queues:
      entries: {visibility_timeout: 1, dlq: {max_receives: 1}}
topics:
  ledger-posted:
    subscribers: [{queue: ledger/entries, filter: {kind: [entry]}}]
datasets:
  ledger.postings: {store: postgres://ledger/postings}
flows:
  postings:
    kind: event
    source: topic://ledger-posted
    sink: {postgres: ledger.postings, upsert_on: [id]}
"""
POSTED, OTHER = '{"id": 1, "kind": "entry"}', '{"id": 2, "kind": "other"}'
PASSPHRASE = {"COMIND_KEYS_PASSPHRASE": "correct horse battery"}
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


def _up(comind: Any, repo: Path, urls: dict[str, str]) -> Any:
    return comind("up", "--repo", str(repo), "--detach", "--api-port", "0", timeout=300,
                  extra_env=urls)  # fmt: skip


def test_the_platform_runs_on_engines_it_did_not_start(
    managed: tuple[str, str],
    comind: Any,
    home: Path,
    tmp_path: Path,
    moto_url: str,
    engine_root: Path,
) -> None:
    pg_url, redis_url = managed
    repo, keyfile = tmp_path / "repo", tmp_path / "keys.json"
    repo.mkdir()
    (repo / "comind.yaml").write_text(SPEC)
    urls = {"COMIND_POSTGRES_URL": pg_url, "COMIND_REDIS_URL": redis_url}

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
        made = "SELECT count(*) FROM pg_database WHERE datname IN ('comind', 'ledger')"
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

    # every bucket on S3 and the apps' queues on SQS (moto standing in for AWS), named with
    # the platform's prefixes
    plain = urls | {"COMIND_OBJECT_STORE": "s3:remote-", "COMIND_S3_ENDPOINT": moto_url,
                    **MOTO_KEYS}  # fmt: skip
    urls = plain | _sqs(moto_url)
    _up(comind, repo, urls).check_returncode()
    state = json.loads((home / "state.json").read_text())
    assert state["engines"]["postgres"]["address"] == pg_url.rsplit("@", 1)[1].split("/")[0]
    assert state["engines"]["postgres"]["pid"] is None and state["engines"]["redis"]["pid"] is None
    assert not (home / "postgres" / "data").exists()  # no PostgreSQL of its own
    assert oct((home / "secrets" / "postgres-url").stat().st_mode & 0o777) == "0o600"

    env = json.loads(comind("app", "env", "ledger", "--json", check=True).stdout)["env"]
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:  # the app's own login
        conn.execute("CREATE TABLE entries (n int PRIMARY KEY)")
        conn.execute("INSERT INTO entries SELECT generate_series(1, 100)")
    with redis.Redis.from_url(env["REDIS_URL"]) as cache:
        cache.set(f"{env['REDIS_KEY_PREFIX']}k", "v")
    with redis.Redis.from_url(redis_url, decode_responses=True) as admin:
        assert admin.get(f"{env['REDIS_KEY_PREFIX']}k") == "v"  # on the managed Redis
    app_s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          region_name=env["AWS_REGION"])  # fmt: skip
    app_s3.put_object(Bucket="ledger-files", Key="statements/1.txt", Body=b"opening balance")
    moto = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    kept = moto.get_object(Bucket="remote-ledger-files", Key="statements/1.txt")["Body"]
    assert kept.read() == b"opening balance"  # through the platform's endpoint, onto S3
    assert moto.get_bucket_versioning(Bucket="remote-ledger-files")["Status"] == "Enabled"
    assert not (home / "objects" / "ledger-files").exists()  # nothing in the state directory

    _queues_on_sqs(env, moto_url)
    ledger_db = make_conninfo(pg_url, dbname="ledger")

    def posted() -> list[tuple[Any, ...]]:  # the event flow's sink, on the managed server
        with psycopg.connect(ledger_db) as conn:
            exists = conn.execute("SELECT to_regclass('postings')").fetchone()
            if exists is None or exists[0] is None:
                return []
            return conn.execute("SELECT id, kind FROM postings ORDER BY id").fetchall()

    assert wait_until(lambda: len(posted()) == 2, 60, interval=0.3), posted()
    assert posted() == [(1, "entry"), (2, "other")]  # every event: the flow has no filter

    taken = [json.loads(comind("backup", "run", "--kind", *kind, "--json", timeout=300,
                               check=True).stdout)["id"]
             for kind in (("full",), ("logical", "--app", "ledger"), ("objects",))]  # fmt: skip

    def tested() -> dict[str, str]:
        listed = json.loads(comind("backup", "ls", "--json", check=True).stdout)
        return {b["id"]: b["verify_status"] for b in listed if b["verify_status"]}

    assert wait_until(lambda: set(taken) <= set(tested()), 180, interval=0.5), tested()
    assert [tested()[i] for i in taken] == ["verified"] * 3
    stored = moto.list_objects_v2(Bucket="remote-comind-backups", Prefix=f"base/{taken[0]}/")
    assert f"base/{taken[0]}/manifest.json" in {o["Key"] for o in stored["Contents"]}
    full = {"id": taken[0]}
    refused = comind("restore", "--backup", full["id"], "--yes", timeout=120)
    assert refused.returncode != 0 and "not its to replace" in refused.stderr
    comind(
        "restore",
        "--app",
        "ledger",
        "--backup",
        taken[1],
        "--as",
        "ledger_copy",
        "--yes",
        timeout=120,
        check=True,
        extra_env=urls,
    )  # reads the backup store on S3
    with psycopg.connect(make_conninfo(pg_url, dbname="ledger_copy")) as conn:  # beside it
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (100,)
    comind("keys", "export", "--out", str(keyfile), check=True, extra_env=PASSPHRASE)
    comind("down", check=True)
    with psycopg.connect(pg_url) as conn:  # the managed server outlives the platform
        ledger = "SELECT count(*) FROM pg_database WHERE datname = 'ledger'"
        assert conn.execute(ledger).fetchone() == (1,)
    moved = _up(comind, repo, plain)  # the apps' queues would be left behind on SQS
    assert moved.returncode != 0
    assert f"keeps its apps' queues on SQS at {moto_url} with queue prefix 'remote-'" in (
        moved.stderr
    )

    # the disaster: the machine and the managed engines are gone; the backups on S3 and the
    # exported keys bring the platform back on a new machine, on engines of its own
    new, since = engine_root / f"{home.name}-rebuilt", datetime.now(UTC)
    away = {**MOTO_KEYS, **_sqs(moto_url), "COMIND_S3_ENDPOINT": moto_url,
            "COMIND_OBJECT_STORE": "s3:remote-rebuilt-", **PASSPHRASE}  # fmt: skip
    rebuilt = comind("--home", str(new), "dr", "restore", "--from", "s3://remote-comind-backups",
                     "--keys", str(keyfile), "--json", timeout=300, check=True,
                     extra_env=away)  # fmt: skip
    assert json.loads(rebuilt.stdout)["buckets"]["ledger-files"] == 1
    try:
        comind("--home", str(new), "up", "--repo", str(repo), "--detach", "--api-port", "0",
               timeout=300, check=True, extra_env=away)  # fmt: skip
        env = json.loads(comind("--home", str(new), "app", "env", "ledger", "--json",
                                check=True).stdout)["env"]  # fmt: skip
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM entries").fetchone() == (100,)
            outbox.send(conn, "entries", "after the disaster")
        assert _received(AppEnv.from_environ(env), "entries") == "after the disaster"
        kept = moto.get_object(Bucket="remote-rebuilt-ledger-files", Key="statements/1.txt")["Body"]
        assert kept.read() == b"opening balance"

        def retested() -> str | None:  # a backup of the managed server, tested on the new one
            listed = json.loads(comind("--home", str(new), "backup", "ls", "--json",
                                       check=True).stdout)  # fmt: skip
            found = next(b for b in listed if b["id"] == taken[0])
            at = found["verified_at"]
            return found["verify_status"] if at and datetime.fromisoformat(at) > since else None

        assert wait_until(lambda: retested() is not None, 120, interval=0.5)
        assert retested() == "verified"
    finally:
        comind("--home", str(new), "down")


def _sqs(url: str, prefix: str = "remote-") -> dict[str, str]:
    return {"COMIND_QUEUE_BACKEND": "sqs", "COMIND_SQS_ENDPOINT": url,
            "COMIND_SQS_REGION": "us-east-1", "COMIND_SQS_QUEUE_PREFIX": prefix,
            "COMIND_SQS_ACCESS_KEY_ID": "platform", "COMIND_SQS_SECRET_ACCESS_KEY":
            "platform-secret", "COMIND_SQS_APP_ACCESS_KEY_ID": "apps",
            "COMIND_SQS_APP_SECRET_ACCESS_KEY": "apps-secret"}  # fmt: skip


def _received(app: AppEnv, queue: str) -> str | None:
    """The next body on the app's ``queue`` on SQS (waiting up to 30 s), deleted."""
    sqs = app.client("sqs")
    url = sqs.get_queue_url(QueueName=app.queue_name(queue))["QueueUrl"]
    got: list[dict[str, str]] = []

    def arrived() -> bool:
        got.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []))
        return bool(got)

    if not wait_until(arrived, 30, interval=0.1):
        return None
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    return got[0]["Body"]


def _queues_on_sqs(env: dict[str, str], moto_url: str) -> None:
    """The app's queue and its dead-letter queue are on SQS; what the app's outbox and a
    topic (through its filter) write reaches it there, and the redrive works there."""
    assert "platform-secret" not in json.dumps(env)  # the apps' key, never the platform's
    app = AppEnv.from_environ(env)
    assert (app.sqs_endpoint, app.sqs_key) == (moto_url, ("apps", "apps-secret"))
    sqs = app.client("sqs")
    url = sqs.get_queue_url(QueueName=app.queue_name("entries"))["QueueUrl"]
    redrive = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    dlq_name = app.queue_name("entries-dlq")
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"].endswith(
        f":{dlq_name}"
    )
    with psycopg.connect(env["DATABASE_URL"]) as conn:  # one transaction of the app's
        events.publish(conn, "ledger-posted", POSTED, attributes={"kind": "entry"})
        events.publish(conn, "ledger-posted", OTHER, attributes={"kind": "other"})
        outbox.send(conn, "entries", "direct 2")
    seen: dict[str, str] = {}

    def arrived() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        seen.update({m["Body"]: m["ReceiptHandle"] for m in got.get("Messages", [])})
        return {POSTED, "direct 2"} <= set(seen)

    assert wait_until(arrived, 60, interval=0.1), seen
    assert OTHER not in seen  # the subscription's filter
    sqs.delete_message(QueueUrl=url, ReceiptHandle=seen["direct 2"])
    dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]

    def dead_lettered() -> bool:  # POSTED was received once and not deleted
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", [])
        return [m["Body"] for m in got] == [POSTED]

    assert wait_until(dead_lettered, 30, interval=0.3)
