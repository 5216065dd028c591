"""``comind demo traffic``: orders for the shop example, posted to the running platform's
ingest endpoint at a steady rate, a few of them malformed on purpose.

Most orders are placed now; about one in ten arrives late (placed up to three days ago) so
the daily batch has past partitions to aggregate. About 3 % fail the order schema (they are
quarantined with reasons) and one request in fifty is not JSON at all (the endpoint answers
400 and queues nothing).
"""

from __future__ import annotations

import json
import random
import ssl
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live

from comind.cli.api_client import call, endpoint
from comind.cli.output import console, emit_json
from comind.errors import ComindError, UsageError

demo_cli = typer.Typer(help="The shop example's demo helpers.", no_args_is_help=True)
COUNTRIES = ("NL", "DE", "FR", "GB", "US")
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP")


def order(rng: random.Random, now: datetime) -> dict[str, Any]:
    late = rng.random() < 0.1
    placed = now - timedelta(seconds=rng.uniform(3600, 3 * 86400)) if late else now
    n = rng.randrange(1, 1_000_000)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "email": f"  Customer{n}@Example.com ",
        "phone": f"+31 6 {n:08d}"[:16],
        "country": rng.choice(COUNTRIES),
        "total": round(rng.uniform(5, 1500), 2),
        "currency": rng.choice(CURRENCIES),
        "customer_id": rng.randrange(1, 101),
        "created_at": placed.isoformat(),
    }


def malformed(rng: random.Random, good: dict[str, Any]) -> dict[str, Any]:
    broken = dict(good)
    match rng.randrange(3):
        case 0:
            del broken["email"]
        case 1:
            broken["total"] = -abs(broken["total"])
        case _:
            broken["currency"] = "XXX"
    return broken


def _ingest_flow(ctx: typer.Context, flow: str | None) -> str:
    flows = call(ctx, "GET", "/api/v1/flows")["flows"]
    http = [str(f["name"]) for f in flows if str(f["source"]).startswith("http://")]
    if flow is not None:
        if flow not in http:
            raise UsageError(f"no flow '{flow}' with an http:// source (these have one: {http})")
        return flow
    if not http:
        raise ComindError("the applied spec has no flow with an http:// source to send to")
    return http[0]


def _wait_for_platform(ctx: typer.Context, flow: str | None, seconds: float) -> None:
    """Until the platform answers and has applied a flow to send to (its first sync)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            _ingest_flow(ctx, flow)
            return
        except ComindError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def traffic(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(min=0.1, max=100_000, help="Orders per second.")] = 5,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many orders.")] = None,
    flow: Annotated[
        str | None,
        typer.Option(help="Flow to post to (default: the first with an http:// source)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable traffic.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the platform to come up.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print totals as JSON at the end.")
    ] = False,
) -> None:
    """Send shop orders to the running platform (Ctrl-C to stop)."""
    if wait:
        _wait_for_platform(ctx, flow, wait)
    name = _ingest_flow(ctx, flow)
    api = endpoint(ctx, admin=True)
    token = call(ctx, "GET", f"/api/v1/flows/{name}/token", admin=True)["token"]
    sender = Sender(f"{api.url}/ingest/{name}", token, random.Random(seed), verify=api.verify)
    try:
        if as_json:
            sender.run(rate, count, lambda: None)
        else:
            with Live(console=console, transient=True) as live:
                sender.run(rate, count, lambda: live.update(sender.line()))
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
    if as_json:
        emit_json(sender.totals)
    else:
        console.print(sender.line())


class Sender:
    def __init__(
        self, url: str, token: str, rng: random.Random, *, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.url, self.rng = url, rng
        auth = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(headers=auth, timeout=30, verify=verify)
        self.totals = {"sent": 0, "malformed": 0, "rejected_requests": 0, "errors": 0}
        self.requests = 0

    def run(self, rate: float, count: int | None, tick: Any) -> None:
        began = time.monotonic()
        while count is None or self.totals["sent"] < count:
            due = int((time.monotonic() - began) * rate) + 1 - self.totals["sent"]
            n = min(max(due, 0), 500, (count - self.totals["sent"]) if count else 500)
            if n:
                self._post(n)
                tick()
            else:
                time.sleep(min(0.2, 1 / rate))

    def _post(self, n: int) -> None:
        now = datetime.now(UTC)
        records = [order(self.rng, now) for _ in range(n)]
        bad = {i for i in range(n) if self.rng.random() < 0.03}
        records = [malformed(self.rng, r) if i in bad else r for i, r in enumerate(records)]
        self.requests += 1
        if self.requests % 50 == 0:
            self._send(b'{"id": "truncated", "total": ', expect=400)
        body = "\n".join(json.dumps(r) for r in records).encode()
        if self._send(body, expect=202):
            self.totals["sent"] += n
            self.totals["malformed"] += len(bad)

    def _send(self, body: bytes, *, expect: int) -> bool:
        try:
            resp = self.http.post(
                self.url, content=body, headers={"Content-Type": "application/x-ndjson"}
            )
        except httpx.HTTPError:
            self.totals["errors"] += 1
            time.sleep(1)
            return False
        if resp.status_code == 400 and expect == 400:
            self.totals["rejected_requests"] += 1
        elif resp.status_code != expect:
            self.totals["errors"] += 1
            return False
        return True

    def line(self) -> str:
        t = self.totals
        return (
            f"sent {t['sent']} orders ({t['malformed']} malformed), "
            f"{t['rejected_requests']} non-JSON requests refused, {t['errors']} errors"
        )

    def close(self) -> None:
        self.http.close()


demo_cli.command("traffic")(traffic)
