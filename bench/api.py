"""API and dashboard latency under load: 50 concurrent clients for 30 s per endpoint against a
running platform, beside the floor of the same server stack.

Platform: ``comind up --detach`` on the bundled example (``examples/shop``) while ``comind demo
traffic`` sends it 20 orders a second (the default, ``example``), or with ``scale`` on a
generated repo (100 apps, each a process with a queue and a bucket; 20 batch flows, each a
worker process waiting for its schedule). Endpoints:
``/metrics``, ``/api/v1/status`` and ``/api/v1/flows`` (viewer token, as Prometheus
scrapes), and the Flows dashboard page (a logged-in session). Baseline: a bare
Starlette app on the same uvicorn (httptools + uvloop) answering a fixed body of the same
size as ``/api/v1/status`` — the floor any handler of this stack starts from. The load
generator is ``wrk`` (Debian's package; one thread, 50 connections, keep-alive) on the same
2 cores, so it still takes CPU from the server: the numbers are an upper bound of what a
remote client would see.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from comind.embedded.ports import free_port

APPS, FLOWS, CLIENTS, SECONDS = 100, 20, 50, 30.0
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"
TRAFFIC_RATE = 20  # orders a second while the example is measured

BASELINE_APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn

BODY = b"x" * int(sys.argv[2])

async def fixed(request):
    return Response(BODY, media_type="application/json")

uvicorn.run(Starlette(routes=[Route("/", fixed)]), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", loop="uvloop", http="httptools")
"""


@dataclass
class Row:
    system: str
    endpoint: str
    size: int  # bytes of one answer
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / SECONDS


def spec() -> str:
    apps = "".join(
        f"  a{i:03d}:\n    run: sleep 3600\n    queues: {{jobs: {{}}}}\n"
        f"    bucket: {{name: a{i:03d}-files}}\n"
        for i in range(APPS)
    )
    flows = "".join(
        f"  f{i:02d}:\n    kind: batch\n    schedule: '0 3 * * *'\n"
        f"    source: objects://a{i:03d}-files/in/\n"
        f'    sink: {{objects: "a{i:03d}-files/out/{{date}}.jsonl", format: jsonl}}\n'
        for i in range(FLOWS)
    )
    return f"platform: {{name: bench-api}}\napps:\n{apps}flows:\n{flows}"


def measure_one(system: str, endpoint: str, url: str, headers: dict[str, str]) -> Row:
    """``wrk`` with CLIENTS connections for SECONDS against ``url``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("bench/api.py needs wrk (Debian: apt install wrk)")
    probe = httpx.get(url, headers=headers, timeout=60)
    if probe.status_code != 200:  # a redirect to the sign-in page would look very fast
        raise RuntimeError(f"{endpoint}: {probe.status_code} before the load even starts")
    args = [wrk, "-t1", f"-c{CLIENTS}", f"-d{SECONDS:.0f}s", "--latency", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Row(system, endpoint, len(probe.content), requests,
               int(errors.group(1)) if errors else 0, _ms(out, "50%"), _ms(out, "99%"))  # fmt: skip


def _ms(out: str, quantile: str) -> float:
    value, unit = re.search(rf"{quantile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _session_cookies(api: str, token: str) -> str:
    """Log in to the dashboard as a user does (the login form with its CSRF field, a token);
    the session as a Cookie header."""
    with httpx.Client(base_url=api, follow_redirects=False) as client:
        form = client.get("/login")
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.text))
        client.post("/login", data={**fields, "token": token})
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def measure(scenario: str = "example") -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="comind-bench-api-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)  # PostgreSQL and the apps run as other users as root: let them through
        repo = root / "repo"
        if scenario == "example":
            shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".comind", "__pycache__"))
        else:
            repo.mkdir()
            (repo / "comind.yaml").write_text(spec())
        cmd = [sys.executable, "-m", "comind.cli.main", "--home", str(root / "home")]
        subprocess.run([*cmd, "up", "--detach", "--api-port", "0", "--repo", str(repo)],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
        traffic = None
        if scenario == "example":
            traffic = subprocess.Popen([*cmd, "demo", "traffic", "--rate", str(TRAFFIC_RATE),
                                        "--json"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            return _measure_platform(root / "home", 1 if scenario == "example" else APPS)
        finally:
            if traffic is not None:
                traffic.terminate()
                traffic.wait()
            subprocess.run([*cmd, "down"], capture_output=True, timeout=300)


def _measure_platform(home: Path, apps: int) -> list[Row]:
    state = json.loads((home / "state.json").read_text())
    api = state["api_url"]
    viewer = (home / "secrets" / "api-viewer-token").read_text().strip()
    admin = (home / "secrets" / "api-admin-token").read_text().strip()
    auth = {"Authorization": f"Bearer {viewer}"}
    _wait_synced(api, auth, apps)
    status_size = len(httpx.get(f"{api}/api/v1/status", headers=auth).content)
    taken = _records_in(api, auth)
    rows = [
        measure_one("comind", "GET /metrics", f"{api}/metrics", dict(auth)),
        measure_one("comind", "GET /api/v1/status", f"{api}/api/v1/status", dict(auth)),
        measure_one("comind", "GET /api/v1/flows", f"{api}/api/v1/flows", dict(auth)),
        measure_one(
            "comind", "GET /flows (page)", f"{api}/flows", {"Cookie": _session_cookies(api, admin)}
        ),
    ]
    print(f"records the flows took in while measured: {_records_in(api, auth) - taken:,}",
          file=sys.stderr)  # fmt: skip
    return [_baseline(status_size), *rows]


def _records_in(api: str, auth: dict[str, str]) -> int:
    """Records every flow has taken in so far: the demo traffic is really flowing."""
    flows = httpx.get(f"{api}/api/v1/flows", headers=auth, timeout=30).json()["flows"]
    return sum(int(f["records_in"]) for f in flows)


def _wait_synced(api: str, auth: dict[str, str], at_least: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        apps = httpx.get(f"{api}/api/v1/apps", headers=auth, timeout=30).json().get("apps", [])
        if len(apps) >= at_least and all(a.get("health") == "Healthy" for a in apps):
            return
        time.sleep(2)
    raise RuntimeError("the platform's apps did not all become Healthy")


def _baseline(size: int) -> Row:
    port = free_port("127.0.0.1")
    script = textwrap.dedent(BASELINE_APP)
    proc = subprocess.Popen([sys.executable, "-c", script, str(port), str(size)])
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return measure_one("bare Starlette + uvicorn", "GET / (a fixed body)", url, {})
    finally:
        proc.terminate()
        proc.wait()


def table(rows: list[Row]) -> str:
    lines = ["| system | endpoint | answer bytes | requests/s | p50 ms | p99 ms | errors |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r.system} | {r.endpoint} | {r.size:,} | {r.per_second:,.0f} | "
                     f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure(sys.argv[1] if len(sys.argv) > 1 else "example")))
