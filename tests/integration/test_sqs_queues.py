"""The apps' queues on an SQS service (COMIND_QUEUE_BACKEND=sqs): the provider makes each
queue there with its dead-letter redrive (and the one in PostgreSQL the platform's producers
write to, without one), and the forwarder moves what those producers wrote on to SQS. Each
runs against moto's server (the double of AWS) and against this platform's own SQS endpoint
of a running platform: the two must agree."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.waiting import wait_until

from comind.api import sqs_shapes as shapes
from comind.api.sqs_actions import SqsActions
from comind.api.sqs_call import Call
from comind.errors import ComindError
from comind.gitops.providers.base import Kept
from comind.gitops.providers.queues import QueueProvider
from comind.gitops.providers.sqs_queues import SqsQueueProvider, forwarded
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource, render
from comind.platform import Platform
from comind.platform.secrets import platform_sealer
from comind.queue import metrics
from comind.queue.config import queue_settings
from comind.queue.errors import UnsupportedOperation
from comind.queue.forwarder import TRIES, Forwarder
from comind.queue.layer import MessageLayer
from comind.queue.metrics import QueueDepthCollector
from comind.queue.model import Attribute, OutgoingMessage, parse_redrive_policy
from comind.queue.remote import RemoteQueues, SqsUnavailable
from comind.queue.remote_depth import SqsDepths
from comind.queue.sqs import SqsQueueAdmin, SqsQueues, sqs_client
from comind.queue.types import ReceivedMessage
from comind.spec import load_spec
from comind.stores.postgres import PgTarget, make_pool

SPEC = """\
platform: {name: shop}
apps:
  orders:
    run: sleep 1
    queues:
      jobs: {visibility_timeout: 1, dlq: {max_receives: 1}}
      steps: {fifo: true, content_based_dedup: true}
"""


@pytest.fixture(params=["moto", "platform"])
def remote(request: pytest.FixtureRequest) -> Iterator[RemoteQueues]:
    prefix = "t" + uuid.uuid4().hex[:8] + "-"
    if request.param == "moto":
        url, key, secret = request.getfixturevalue("moto_url"), "testing", "testing"
    else:
        runtime: Platform = request.getfixturevalue("runtime")
        assert runtime.credentials is not None
        made = runtime.credentials.ensure(prefix.rstrip("-"))
        url, key, secret = runtime.url, made.access_key_id, made.secret
    settings = queue_settings(queue_backend="sqs", sqs_endpoint=url, sqs_region="us-east-1",
                              sqs_access_key_id=key, sqs_secret_access_key=secret,
                              sqs_queue_prefix=prefix)  # fmt: skip
    opened = RemoteQueues.open(settings)
    assert opened is not None
    found = opened.owned_by(b"the platform key of " + prefix.encode())
    yield found
    found.close()


@pytest.fixture
def layer(pg: PgTarget) -> Iterator[MessageLayer]:
    opened = MessageLayer.open(pg, max_connections=4)
    yield opened
    opened.close()


def _queues(tmp_path: Path) -> dict[str, Resource]:
    (tmp_path / "comind.yaml").write_text(SPEC)
    return {r.name: r for r in render(load_spec(tmp_path), tmp_path) if r.kind == "queue"}


def test_the_provider_makes_each_queue_on_sqs_with_its_redrive(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    provider = SqsQueueProvider(QueueProvider(layer), remote)
    queues = _queues(tmp_path)
    for name in ("jobs-dlq", "jobs", "steps"):  # the order a sync applies them in
        assert not provider.observe(queues[name]).exists
        provider.apply(queues[name])
        assert provider.observe(queues[name]).sync == "Synced"
    jobs = remote.admin.attributes(remote.name("orders/jobs"))
    dlq = remote.admin.attributes(remote.name("orders/jobs-dlq"))
    assert parse_redrive_policy(jobs["RedrivePolicy"]) == (remote.name("orders/jobs-dlq"), 1)
    assert dlq["QueueArn"].endswith(remote.name("orders/jobs-dlq"))
    assert remote.admin.attributes(remote.name("orders/steps.fifo"))["FifoQueue"] == "true"
    assert "RedrivePolicy" not in layer.admin.attributes("orders/jobs")  # nothing dead-letters

    remote.admin.set_attributes(remote.name("orders/jobs"), {"VisibilityTimeout": "9"})
    drift = provider.observe(queues["jobs"]).drift
    assert drift == ("on SQS VisibilityTimeout is 9, spec says 1",)
    provider.apply(queues["jobs"])
    assert provider.observe(queues["jobs"]).drift == ()

    # what an app receives and does not delete goes to its dead-letter queue on SQS
    remote.queues.send(remote.name("orders/jobs"), [OutgoingMessage("poison")])
    assert remote.queues.receive(remote.name("orders/jobs"), wait_seconds=1)
    assert provider.observe(queues["jobs"]).holds_data

    def dead_lettered() -> bool:  # its next receive, once visible again, moves it
        remote.queues.receive(remote.name("orders/jobs"), wait_seconds=0)
        return [m.body for m in _drain(remote, "orders/jobs-dlq")] == ["poison"]

    assert wait_until(dead_lettered, 20, interval=0.3)
    remote.queues.send(remote.name("orders/jobs"), [OutgoingMessage("waiting")])
    with pytest.raises(Kept, match="its queue on SQS holds messages"):
        provider.delete(queues["jobs"])
    assert remote.admin.names(remote.prefix) == sorted(
        remote.name(n) for n in ("orders/jobs", "orders/jobs-dlq", "orders/steps.fifo")
    )


def test_the_forwarder_moves_what_the_platform_wrote_on_to_sqs(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    provider = SqsQueueProvider(QueueProvider(layer), remote)
    queues = _queues(tmp_path)
    for name in ("jobs-dlq", "jobs", "steps"):
        provider.apply(queues[name])
    kind = {"kind": Attribute("String", "order")}
    layer.queues.send("orders/jobs", [OutgoingMessage(f"job {i}", kind) for i in range(12)])
    steps = [OutgoingMessage(f"step {i}", group_id=f"g{i % 2}") for i in range(6)]
    layer.queues.send("orders/steps.fifo", steps)
    forwarder = Forwarder(layer.queues, remote)
    assert forwarded(queues.values()) == {"orders/jobs": "orders/jobs-dlq",
                                          "orders/steps.fifo": None}  # fmt: skip
    forwarder.follow(forwarded(queues.values()))
    before = metrics.FORWARDED.labels("orders/jobs")._value.get()
    while forwarder.forward_all()[0]:
        pass
    assert metrics.FORWARDED.labels("orders/jobs")._value.get() - before == 12
    assert layer.queues.stats("orders/jobs").visible == 0  # nothing left behind
    got = _drain(remote, "orders/jobs")
    assert sorted(m.body for m in got) == sorted(f"job {i}" for i in range(12))
    assert all(m.attributes == kind for m in got)
    ordered = [m.body for m in _drain(remote, "orders/steps.fifo")]
    for group in (0, 1):  # each group in the order it was written
        assert [b for b in ordered if int(b[-1]) % 2 == group] == [
            f"step {i}" for i in range(6) if i % 2 == group
        ]


def test_a_batch_sqs_does_not_take_stays_in_postgresql(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    provider = SqsQueueProvider(QueueProvider(layer), remote)
    queues = _queues(tmp_path)
    for name in ("jobs-dlq", "jobs"):
        provider.apply(queues[name])
    layer.queues.send("orders/jobs", [OutgoingMessage("kept")])
    down = queue_settings(queue_backend="sqs", sqs_endpoint="http://127.0.0.1:9",
                          sqs_region="us-east-1", sqs_access_key_id="k",
                          sqs_secret_access_key="s")  # fmt: skip
    with pytest.raises(SqsUnavailable, match=r"SQS at http://127.0.0.1:9 does not answer"):
        RemoteQueues.open(down)
    gone = SqsQueues(sqs_client(down))
    failing = Forwarder(layer.queues, RemoteQueues(down, gone, SqsQueueAdmin(gone), "o"))
    failing.follow({"orders/jobs": "orders/jobs-dlq"})
    assert failing.forward_all() == (0, True)  # counted, and the thread waits longer
    assert layer.queues.stats("orders/jobs").visible == 1  # not lost
    forwarder = Forwarder(layer.queues, remote)
    forwarder.follow({"orders/jobs": "orders/jobs-dlq"})
    assert forwarder.forward_all() == (1, False)
    assert [m.body for m in _drain(remote, "orders/jobs")] == ["kept"]

    remote.admin.delete(remote.name("orders/jobs"))  # gone from SQS after a lease was taken
    layer.queues.send("orders/jobs", [OutgoingMessage("again")])
    assert forwarder.forward_all() == (0, False)  # the sync makes it again; nothing is lost
    assert layer.queues.stats("orders/jobs").visible == 1  # released at once, not leased


def test_large_and_refused_messages_hold_up_nothing_behind_them(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    """Batches stay within SQS's payload limit (two 200 KiB messages go one by one); a
    message SQS keeps refusing moves to the dead-letter queue in PostgreSQL after a few
    tries while the others go on (red team 19a M1, L1)."""
    provider = SqsQueueProvider(QueueProvider(layer), remote)
    queues = _queues(tmp_path)
    for name in ("jobs-dlq", "jobs"):
        provider.apply(queues[name])
    big = ["a" * 200_000, "b" * 200_000]
    layer.queues.send("orders/jobs", [OutgoingMessage(b) for b in big])
    forwarder = Forwarder(layer.queues, remote)
    forwarder.follow(forwarded(queues.values()))
    while forwarder.forward_all()[0]:
        pass
    assert sorted(m.body for m in _drain(remote, "orders/jobs")) == big

    remote.admin.set_attributes(remote.name("orders/jobs"), {"MaximumMessageSize": "1024"})
    layer.queues.send("orders/jobs", [OutgoingMessage("x" * 2000), OutgoingMessage("small")])
    refused = metrics.FORWARD_REFUSED.labels("orders/jobs")._value.get()
    for _ in range(TRIES + 2):  # each pass tries the refused one again, at once
        assert forwarder.forward_all()[1] is False  # SQS answered: no backoff
    assert metrics.FORWARD_REFUSED.labels("orders/jobs")._value.get() == refused + 1
    assert [m.body for m in _drain(remote, "orders/jobs")] == ["small"]
    [parked] = layer.queues.receive("orders/jobs-dlq", max_messages=10)
    assert parked.body == "x" * 2000 and layer.queues.stats("orders/jobs").visible == 0


def test_a_queue_another_platform_made_is_never_changed_nor_fed(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    """Two platforms whose prefixes meet name one SQS queue alike; the second refuses to
    take over the first's (its tag says whose it is) and forwards nothing into it (red team
    19a M2)."""
    queues = _queues(tmp_path)
    other = remote.owned_by(b"another platform's key")
    SqsQueueProvider(QueueProvider(layer), other).apply(queues["jobs-dlq"])
    mine = SqsQueueProvider(QueueProvider(layer), remote)
    with pytest.raises(ComindError, match="was not made by this platform"):
        mine.apply(queues["jobs-dlq"])
    assert "not this platform's queue" in mine.observe(queues["jobs-dlq"]).drift[-1]
    name = remote.name("orders/jobs-dlq")
    remote.queues.send(name, [OutgoingMessage("theirs")])
    layer.queues.send("orders/jobs-dlq", [OutgoingMessage("mine")])
    forwarder = Forwarder(layer.queues, remote)
    forwarder.follow({"orders/jobs-dlq": None})
    assert forwarder.forward_all() == (0, False)
    assert [m.body for m in _drain(remote, "orders/jobs-dlq")] == ["theirs"]
    layer.admin.purge("orders/jobs-dlq")
    with pytest.raises(Kept, match="not this platform's queue"):
        mine.delete(queues["jobs-dlq"])
    assert remote.admin.attributes(name)["MessageRetentionPeriod"] == "1209600"  # untouched


def _drain(remote: RemoteQueues, queue: str) -> list[ReceivedMessage]:
    name, got = remote.name(queue), []
    while batch := remote.queues.receive(name, max_messages=10, wait_seconds=0):
        got += batch
        for message in batch:
            remote.queues.delete(name, message.receipt_handle)
    return got


def test_apps_get_the_apps_key_and_flows_only_the_platforms_endpoints(
    runtime: Platform, moto_url: str
) -> None:
    settings = queue_settings(queue_backend="sqs", sqs_endpoint=moto_url, sqs_region="us-east-1",
                              sqs_access_key_id="platform", sqs_secret_access_key="platform-s",
                              sqs_queue_prefix="env-", sqs_app_access_key_id="apps",
                              sqs_app_secret_access_key="apps-s")  # fmt: skip
    remote = RemoteQueues.open(settings)
    assert runtime.credentials is not None and runtime.db is not None and remote is not None
    pool = make_pool(runtime.db, max_size=1)
    try:
        secrets = SecretStore(pool, platform_sealer(runtime.engines.home))
        envs = replace(runtime.app_environments(runtime.credentials, secrets), remote=remote)
        app = envs.base("orders")
        assert app["AWS_ENDPOINT_URL_SQS"] == moto_url
        assert app["COMIND_SQS_QUEUE_PREFIX"] == "env-orders_"
        assert (app["COMIND_SQS_ACCESS_KEY_ID"], app["COMIND_SQS_SECRET_ACCESS_KEY"]) == (
            "apps", "apps-s")  # fmt: skip
        flow = envs.endpoints("flow.ingest")  # what a flow's workers get (worker_env.py)
        assert flow["AWS_ENDPOINT_URL_SQS"] == runtime.url  # the platform's, as the flow
        assert not any(k.startswith("COMIND_SQS") for k in flow)
        assert "platform-s" not in json.dumps(app) + json.dumps(flow)
    finally:
        pool.close()
        remote.close()


def test_the_depth_gauge_reads_the_queues_on_sqs(
    remote: RemoteQueues, layer: MessageLayer, tmp_path: Path
) -> None:
    """comind_queue_messages (and the dead-letter alert on it) counts what rests on SQS,
    sampled by the forwarder, plus what waits in PostgreSQL to be forwarded."""
    provider = SqsQueueProvider(QueueProvider(layer), remote)
    queues = _queues(tmp_path)
    for name in ("jobs-dlq", "jobs"):
        provider.apply(queues[name])
    remote.queues.send(remote.name("orders/jobs-dlq"), [OutgoingMessage("dead 1"),
                                                        OutgoingMessage("dead 2")])  # fmt: skip
    remote.queues.send(remote.name("orders/jobs"), [OutgoingMessage("on sqs")])
    layer.queues.send("orders/jobs", [OutgoingMessage("not forwarded yet")])
    depths = SqsDepths(remote)
    assert depths.due() and depths.current() == {}
    depths.sample(["orders/jobs", "orders/jobs-dlq", "orders/nowhere"])
    assert not depths.due()
    assert depths.current() == {"orders/jobs": (1, 0, 0), "orders/jobs-dlq": (2, 0, 0)}

    # SQS stops answering: the last values stay (a zero would clear the dead-letter alert)
    away = queue_settings(queue_backend="sqs", sqs_endpoint="http://127.0.0.1:9",
                          sqs_region="us-east-1", sqs_access_key_id="k",
                          sqs_secret_access_key="s")  # fmt: skip
    depths.remote = replace(remote, admin=SqsQueueAdmin(SqsQueues(sqs_client(away))))
    depths.sample(["orders/jobs", "orders/jobs-dlq"])
    assert depths.current() == {"orders/jobs": (1, 0, 0), "orders/jobs-dlq": (2, 0, 0)}
    depths.remote.admin.queues.client.close()

    local = int(layer.admin.attributes("orders/jobs")["ApproximateNumberOfMessages"])
    gauge = next(iter(QueueDepthCollector(layer.pool, depths.current).collect()))
    visible = {s.labels["queue"]: s.value for s in gauge.samples
               if s.labels["state"] == "visible"}  # fmt: skip
    assert visible["orders/jobs-dlq"] >= 2  # the alert fires for the dead letters on SQS
    assert visible["orders/jobs"] == 1 + local


def test_the_platforms_endpoint_gives_no_app_the_side_that_waits_to_be_forwarded(
    layer: MessageLayer,
) -> None:
    """Red team 19a L3: with the apps' queues on SQS, an app could receive (and delete)
    from the PostgreSQL side of its queue what the forwarder was to move on, or redrive,
    move or reconfigure it away. It may still send there (that is forwarded) and look;
    anything else is refused with one line."""
    layer.admin.create("orders/side", {})
    actions = SqsActions(layer, apps_on_sqs=True)
    url = f"http://platform/{shapes.account_of('orders')}/side"
    sent = actions.run("SendMessage", Call("orders", {"QueueUrl": url, "MessageBody": "m"}, ""))
    assert isinstance(sent, dict) and sent["MessageId"]
    arn = shapes.arn_for("orders", "orders/side")
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    for action, params in (("ReceiveMessage", {}), ("PurgeQueue", {}),
                           ("DeleteMessage", {"ReceiptHandle": "r"}), ("DeleteQueue", {}),
                           ("SetQueueAttributes", {"Attributes": {"MaximumMessageSize": "1024"}}),
                           ("StartMessageMoveTask", {"SourceArn": arn}),
                           ("CreateQueue", {"QueueName": "x", "Attributes": {
                               "RedrivePolicy": redrive}})):  # fmt: skip
        # red team 19a L3, helper 52: taking, redriving, moving or changing the side
        with pytest.raises(UnsupportedOperation, match="the apps' queues live on SQS"):
            actions.run(action, Call("orders", {"QueueUrl": url, **params}, ""))
    assert layer.admin.attributes("orders/side")["ApproximateNumberOfMessages"] == "1"
    got = SqsActions(layer).run("ReceiveMessage", Call("orders", {"QueueUrl": url}, ""))
    assert isinstance(got, dict) and [m["Body"] for m in got["Messages"]] == ["m"]  # embedded
