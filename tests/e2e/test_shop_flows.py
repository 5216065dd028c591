"""The shop's flows from outside, as the issue's acceptance describes: `comind up` runs them,
`comind demo traffic` posts orders (a few malformed), and the data moves: orders validated,
enriched through the cache, upserted and fanned out; malformed ones quarantined; a poison
record dead-lettered, fixed and replayed; the daily batch writes Parquet partitions; the
customers' batch hashes the email, and lineage names what a change of that column reaches."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pyarrow.parquet as pq
import pytest
from tests.hidden import bearer
from tests.waiting import wait_until

from comind.embedded.ports import free_port
from comind.governance.keyring import Keyring

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def shop_copy(tmp_path: Path) -> Path:
    """The example on free ports (a `make up` on this machine keeps 8101-8103)."""
    repo = tmp_path / "shop"
    shutil.copytree(SHOP, repo, ignore=shutil.ignore_patterns("__pycache__"))
    spec = (repo / "comind.yaml").read_text()
    for port in ("8101", "8102", "8103"):
        spec = spec.replace(f"port: {port}", f"port: {free_port('127.0.0.1')}")
    (repo / "comind.yaml").write_text(spec)
    return repo


# appended to the copy's analytics code, which the customer-orders flow runs (a map: step):
# what that code can reach, written to its own HOME (red team 21e G1, G2)
SPY = """

def _seen() -> None:
    import json, os
    from pathlib import Path
    home = Path.cwd().parents[3]  # HOME/apps/ACCOUNT/code/REVISION
    try:
        readable = bool(list((home / "secrets").iterdir()))
    except OSError:
        readable = False
    seen = {"uid": os.getuid(), "pid": os.getpid(), "secrets": readable,
            "found": (home / "secrets").is_dir(),
            "logins": sorted(k for k in os.environ if k.endswith("PASSWORD"))}
    (Path.home() / "seen.json").write_text(json.dumps(seen))


_order_day = order_day


def order_day(order):  # noqa: F811
    _seen()
    return _order_day(order)
"""


def viewer_token(home: Path) -> str:
    return (home / "secrets" / "api-viewer-token").read_text().strip()


def flows(comind: Run) -> dict[str, dict[str, object]]:
    out = comind("flow", "ls", "--json", check=True).stdout
    return {f["name"]: f for f in json.loads(out)}


def test_the_shop_flows_move_data_end_to_end(comind: Run, home: Path, tmp_path: Path) -> None:
    repo = shop_copy(tmp_path)
    with (repo / "analytics" / "flows.py").open("a") as code:
        code.write(SPY)
    comind("up", "--repo", str(repo), "--detach", "--api-port", "0", timeout=300, check=True)
    assert wait_until(lambda: all(f["state"] == "Healthy" for f in flows(comind).values()), 120)

    sent = json.loads(
        comind(
            "demo",
            "traffic",
            "--rate",
            "400",
            "--count",
            "300",
            "--seed",
            "7",
            "--json",
            timeout=120,
            check=True,
        ).stdout
    )
    assert sent["sent"] == 300 and sent["malformed"] > 0 and sent["errors"] == 0
    good = 300 - sent["malformed"]
    assert wait_until(lambda: flows(comind)["order-facts"]["records_out"] == good, 120)
    ingest = flows(comind)["ingest-orders"]
    assert ingest["records_in"] == 300 and ingest["records_out"] == good
    assert ingest["records_quarantined"] == sent["malformed"]
    status = json.loads(comind("flow", "status", "ingest-orders", "--json", check=True).stdout)
    assert status["quarantined"] and status["quarantined"][0]["reasons"]
    # their PII: masked for the viewer (the CLI's default token), raw with --raw (admin)
    ls = ("flow", "quarantine", "ls", "ingest-orders", "--limit", "1000", "--json")
    masked = json.loads(comind(*ls, check=True).stdout)
    raw = {r["id"]: r for r in json.loads(comind(*ls, "--raw", check=True).stdout)}
    emails = [r for r in masked if "email" in r["pii"]]
    assert emails and all(not r["raw"] and "@" not in r["record"]["email"] for r in emails)
    assert all(raw[r["id"]]["raw"] and "@" in raw[r["id"]]["record"]["email"] for r in emails)

    state = json.loads((home / "state.json").read_text())
    pg = state["engines"]["postgres"]["address"]
    password = (home / "secrets" / "postgres-password").read_text().strip()
    host, port = pg.rsplit(":", 1)

    def query(db: str, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(
            host=host, port=port, user="postgres", password=password, dbname=db
        ) as c:
            cur = c.execute(sql)
            return cur.fetchall() if cur.description else []

    assert query("orders", "SELECT count(*) FROM enriched_orders") == [(good,)]
    # sealed by the workers (their own login), so the table holds no raw email
    held = "SELECT count(*) FROM comind.flow_quarantine WHERE record->>'email' LIKE '%@%'"
    assert query("comind", held) == [(0,)]
    tiers = query("orders", "SELECT count(*) FROM enriched_orders WHERE tier IS NULL")
    assert tiers == [(0,)]  # every order was enriched with its customer's tier
    assert query("analytics", "SELECT count(*) FROM order_facts") == [(good,)]

    # the orders app reads /tiers through the SDK's query cache (issue 20): the second read
    # is a hit, a write to customers makes the next one compute again; the platform exports
    # the app's counts
    ports = {app: int(p) for app, p in re.findall(r"\n  (\w+):\n(?:    .*\n)*?    port: (\d+)",
                                                 (repo / "comind.yaml").read_text())}  # fmt: skip
    tiers = f"http://127.0.0.1:{ports['orders']}/tiers"
    first = httpx.get(tiers).json()
    assert httpx.get(tiers).json() == first == {"free": 33, "gold": 33, "silver": 34}
    query("orders", "INSERT INTO customers VALUES (101, 'new', 'gold', 'NL')")
    assert wait_until(lambda: httpx.get(tiers).json()["gold"] == 34, 30)
    scraped = httpx.get(state["metrics_url"], headers=bearer(viewer_token(home))).text
    hits = re.search(r'comind_app_cache_hits_total\{app="orders"\} (\d+)', scraped)
    assert hits is not None and int(hits[1]) >= 1

    # each order placed is settled by payments and shipped by orders, once each, and each
    # announces it through its outbox in the same transaction: payments publishes
    # payment-settled (to orders/order-events), orders sends order-shipped there itself
    assert wait_until(
        lambda: (
            query("payments", "SELECT count(*) FROM settlements") == [(good,)]
            and query("orders", "SELECT count(*) FROM shipments") == [(good,)]
        ),
        60,
    )
    events = ("queue", "stats", "orders/order-events", "--json")
    assert wait_until(lambda: json.loads(comind(*events, check=True).stdout)["attributes"][
        "ApproximateNumberOfMessages"] == str(2 * good), 30)  # fmt: skip
    # analytics subscribes to order-placed for NL, DE and FR only: the ingest flow's topic
    # sink sends each order's (cleansed) country as a message attribute, which the filter
    # matches
    (near,) = query("orders", "SELECT count(*) FROM enriched_orders "
                              "WHERE country IN ('NL', 'DE', 'FR')")[0]  # fmt: skip
    feed = ("queue", "stats", "analytics/order-feed", "--json")
    assert 0 < int(str(near)) < good
    assert wait_until(lambda: json.loads(comind(*feed, check=True).stdout)["attributes"][
        "ApproximateNumberOfMessages"] == str(near), 60)  # fmt: skip
    for app in ("orders", "payments"):  # relayed and gone, none refused
        assert query(app, "SELECT count(*) FROM comind_outbox.messages") == [(0,)]
    settled = httpx.get(f"http://127.0.0.1:{ports['payments']}/settlements").json()
    assert sum(c["count"] for c in settled.values()) == good
    assert httpx.get(f"http://127.0.0.1:{ports['orders']}/shipments").json() == {"shipped": good}
    facts = httpx.get(f"http://127.0.0.1:{ports['analytics']}/facts").json()
    assert sum(f["orders"] for f in facts.values()) == good  # cached for the spec's ttl

    # a poison record: valid, but with a field the table lacks -> dead letter, fix, replay
    token = json.loads(comind("flow", "token", "ingest-orders", "--json", check=True).stdout)[
        "token"
    ]
    order = {
        "id": "poison-1",
        "email": "p@example.com",
        "total": 5,
        "currency": "EUR",
        "created_at": datetime.now(UTC).isoformat(),
        "coupon": "XMAS",
    }
    resp = httpx.post(
        f"{state['api_url']}/ingest/ingest-orders",
        json=order,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 202
    assert wait_until(lambda: flows(comind)["ingest-orders"]["dead_letters_waiting"] == 1, 60)
    letters = json.loads(comind("flow", "dlq", "ingest-orders", "--json", check=True).stdout)
    assert letters[0]["record"]["id"] == "poison-1" and "coupon" in letters[0]["error"]
    query("orders", "ALTER TABLE enriched_orders ADD COLUMN coupon text")
    replayed = json.loads(comind("flow", "replay", "ingest-orders", "--json", check=True).stdout)
    assert (replayed["replayed"], replayed["written"], replayed["failed_again"]) == (1, 1, 0)
    assert query("orders", "SELECT coupon FROM enriched_orders WHERE id = 'poison-1'") == [
        ("XMAS",)
    ]

    # the dataset's pii (email: hash, phone: mask) is law: no clear email or phone rests in
    # enriched_orders, and an email is the HMAC under the platform's PII key (issue 17)
    pii_key = Keyring(home / "secrets").hmac_key()
    assert query("orders", "SELECT email FROM enriched_orders WHERE id = 'poison-1'") == [
        (hmac.new(pii_key, b"p@example.com", hashlib.sha256).hexdigest(),)
    ]
    clear = "SELECT count(*) FROM enriched_orders WHERE email LIKE '%@%' OR phone ~ '^[+0-9 ]+$'"
    assert query("orders", clear) == [(0,)]
    masked = query("orders", "SELECT phone FROM enriched_orders WHERE phone IS NOT NULL")
    assert masked and all(str(p).startswith("****") for (p,) in masked)
    # the workers' login reaches the token vault only through its functions (red team)
    rights = query("comind", "SELECT has_table_privilege('comind_worker', 'comind.pii_tokens', "
                   "'SELECT'), has_table_privilege('comind_worker', 'comind.pii_token_uses', "
                   "'INSERT'), has_function_privilege('comind_worker', "
                   "'comind.add_token(bytea, text, bytea, text)', 'EXECUTE')")  # fmt: skip
    assert rights == [(False, False, True)]

    # the daily batch: yesterday's partition on demand, then a backfill of the days before
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    run = json.loads(
        comind(
            "flow", "run", "daily-revenue", "--partition", day.isoformat(), "--json", check=True
        ).stdout
    )
    assert run[0]["status"] == "succeeded"
    first = (day - timedelta(days=2)).isoformat()
    filled = json.loads(
        comind(
            "flow",
            "backfill",
            "daily-revenue",
            "--from",
            first,
            "--to",
            day.isoformat(),
            "--json",
            check=True,
        ).stdout
    )
    assert all(r["status"] == "succeeded" for r in filled)
    lake = home / "objects" / "analytics-lake" / "revenue"
    table = pq.read_table(io.BytesIO((lake / f"{day}.parquet").read_bytes())).to_pylist()
    assert {"currency", "orders", "sum_total"} <= set(table[0]) if table else True
    assert (lake / f"{first}.parquet").exists()

    # orders per customer and day, the email hashed before it leaves orders; lineage follows
    # the email column there (issue 16's acceptance)
    per_customer = json.loads(comind("flow", "run", "customer-orders", "--partition",
                                     day.isoformat(), "--json", check=True).stdout)  # fmt: skip
    assert per_customer[0]["status"] == "succeeded", per_customer
    seen = json.loads(next((home / "apps").glob("*customer-orders*/home/seen.json")).read_text())
    platform_pid = int(json.loads((home / "state.json").read_text())["pid"])
    assert seen["found"] and not seen["secrets"]  # it found the secrets, and could not read them
    assert seen["pid"] != platform_pid  # never the platform's process
    if os.geteuid() == 0:  # the flow's own OS user, not root
        assert seen["uid"] != 0
    assert "COMIND_FLOW_DB_PASSWORD" in seen["logins"]  # the flow's logins, and only those
    placed = query(
        "orders",
        "SELECT count(*) FROM enriched_orders WHERE created_at >= "
        f"'{day}T00:00Z' AND created_at < '{day + timedelta(days=1)}T00:00Z'",
    )[0][0]
    rows = query("analytics", f"SELECT email, orders FROM customer_orders WHERE day = '{day}'")
    assert sum(int(str(r[1])) for r in rows) == placed
    emails = query("analytics", "SELECT email FROM customer_orders")
    assert emails and all("@" not in str(e) for (e,) in emails)  # hashed, every day
    hashed = {e for (e,) in query("orders", "SELECT email FROM enriched_orders")}
    assert {e for (e,) in emails} <= hashed  # the same HMAC in both datasets: they join
    impact = json.loads(comind("lineage", "impact", "orders.enriched_orders.email", "--json",
                               check=True).stdout)["impact"]  # fmt: skip
    assert {"flow:customer-orders", "dataset:analytics.customer_orders", "app:analytics",
            "app:orders"} <= {n["id"] for n in impact}  # fmt: skip
    assert "flow:daily-revenue" not in {n["id"] for n in impact}

    viewer = bearer((home / "secrets" / "api-viewer-token").read_text().strip())
    metrics = httpx.get(f"{state['api_url']}/metrics", headers=viewer).text
    # 300 orders and the poison one, which the replay (run by the platform) counts again
    counted = re.findall(
        r'comind_flow_records_total\{flow="ingest-orders",outcome="in"\} (\S+)', metrics
    )
    assert counted == ["302.0"], counted

    # a dataset rule (orders.enriched_orders: range total [0, 100000]) the order's schema
    # allows: the gate quarantines the order with the rule, never the value, as its reason
    big = {k: v for k, v in order.items() if k != "coupon"} | {"id": "big-1", "total": 200000}
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{state['api_url']}/ingest/ingest-orders"
    assert httpx.post(url, json=big, headers=headers).status_code == 202

    def quarantined_big() -> list[list[str]]:
        doc = json.loads(comind("flow", "status", "ingest-orders", "--json", check=True).stdout)
        return [q["reasons"] for q in doc["quarantined"] if q["record"]["id"] == "big-1"]

    assert wait_until(lambda: quarantined_big() == [["range total [0, 100000]"]], 60)
    assert query("orders", "SELECT count(*) FROM enriched_orders WHERE id = 'big-1'") == [(0,)]
    checked = comind("quality", "run", "orders.enriched_orders", "--json", check=True)
    assert all(r["passed"] for r in json.loads(checked.stdout))  # as the quality role
    scores = json.loads(comind("quality", "ls", "--json", check=True).stdout)
    assert {s["dataset"]: s["checks_ratio"] for s in scores}["orders.enriched_orders"] == 1.0

    unknown = comind("flow", "status", "nope")
    assert unknown.returncode != 0 and "no flow 'nope'" in unknown.stderr
