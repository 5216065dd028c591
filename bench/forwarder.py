"""The forwarder (issue 19, ``COMIND_QUEUE_BACKEND=sqs``): how fast what the platform's
producers wrote in PostgreSQL reaches the apps' queues on SQS, against its peer in the same
run: a producer sending the same messages to SQS directly with ``send_message_batch``
(batches of 10, what the forwarder sends). SQS is moto's server on this machine (the API
double of AWS), so both rows are bound by moto's speed, not AWS's; the ratio is the cost of
the forwarder's lease, copy and delete in PostgreSQL.

    .venv/bin/python bench/forwarder.py [--messages N] [--body BYTES]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from detached import bench_platform

from comind.platform.local import platform_db
from comind.queue.config import queue_settings
from comind.queue.forwarder import BATCH, Forwarder
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.remote import RemoteQueues

RUNS = 3


@contextmanager
def moto() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def direct(remote: RemoteQueues, queue: str, bodies: list[str]) -> float:
    """messages/s sending ``bodies`` to SQS in batches of 10 (the peer)."""
    began = time.perf_counter()
    for i in range(0, len(bodies), BATCH):
        remote.queues.send(queue, [OutgoingMessage(b) for b in bodies[i : i + BATCH]])
    return len(bodies) / (time.perf_counter() - began)


def forwarded(layer: MessageLayer, remote: RemoteQueues, queue: str, bodies: list[str]) -> float:
    """messages/s the forwarder moves ``bodies`` from PostgreSQL on to SQS (written first)."""
    for i in range(0, len(bodies), 500):
        layer.queues.send(queue, [OutgoingMessage(b) for b in bodies[i : i + 500]])
    forwarder = Forwarder(layer.queues, remote)
    forwarder.follow({queue: None})
    began = time.perf_counter()
    moved = 0
    while moved < len(bodies):
        moved += forwarder.forward_all()[0]
    return len(bodies) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--body", type=int, default=200)
    args = parser.parse_args()
    bodies = ["x" * args.body] * args.messages
    with bench_platform("forwarder") as (_, home, state), moto() as url:
        settings = queue_settings(queue_backend="sqs", sqs_endpoint=url, sqs_region="us-east-1",
                                  sqs_access_key_id="k", sqs_secret_access_key="s")  # fmt: skip
        remote = RemoteQueues.open(settings)
        assert remote is not None
        remote = remote.owned_by(b"bench")
        layer = MessageLayer.open(platform_db(home, state), max_connections=2)
        rows: dict[str, list[float]] = {"direct": [], "forwarder": []}
        try:
            for _ in range(RUNS):
                name = f"bench/f{uuid.uuid4().hex[:8]}"
                layer.admin.create(name)
                remote.admin.create(remote.name(name), tags={"comind-platform": remote.owner})
                rows["direct"].append(direct(remote, remote.name(name), bodies))
                remote.admin.purge(remote.name(name))
                rows["forwarder"].append(forwarded(layer, remote, name, bodies))
        finally:
            layer.close()
            remote.close()
    base = sorted(rows["direct"])[RUNS // 2]
    print(f"{args.messages} messages of {args.body} bytes, median of {RUNS}")
    print(f"{'path':<34} {'messages/s':>11} {'ratio':>6}")
    for label, key in (("SQS send_message_batch (peer)", "direct"),
                       ("PostgreSQL -> forwarder -> SQS", "forwarder")):  # fmt: skip
        rate = sorted(rows[key])[RUNS // 2]
        print(f"{label:<34} {rate:>11,.0f} {rate / base:>5.2f}x")


if __name__ == "__main__":
    main()
