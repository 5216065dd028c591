"""The OpenAPI document against a running platform: every route the app serves under
``/api/v1`` is documented with its methods (and every documented one is served); every
read answers, with an admin token, a status and a body its documented schema accepts; roles
are enforced as documented; errors and the changes a test may make answer as documented.

The platform follows a Git repository with one app (queues with a DLQ), an HTTP-fed flow and
an alert rule; the fixture puts a dead letter, ingested records (one quarantined), a backup
(through the API) and metric samples in place first, so the lists the reads answer are not
empty and their items get checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from tests.bad_input import requests
from tests.dba import dba
from tests.dead_letters import dead_letter
from tests.e2e.webapp import web_app
from tests.hidden import Hidden, bearer
from tests.platforms import make_settings
from tests.waiting import wait_until

from comind.embedded.ports import free_port
from comind.flows.access import dataset_table
from comind.gitops.source import GitSource
from comind.governance.access import AccessStore
from comind.platform import Platform
from comind.spec import load_spec
from comind.stores.postgres import superuser

pytestmark = pytest.mark.timeout(300)

SPEC = """\
platform: {{name: api}}
environments: {{dev: {{}}}}
apps:
  shop:
    run: python web.py
    port: {port}
    health: {{http: /healthz}}
    database: {{}}
    bucket: {{name: api-files, versioning: true, versions: {{keep_for: 1d}}}}
    queues:
      jobs: {{dlq: {{max_receives: 1}}}}
      done: {{}}
datasets:
  shop.items: {{store: postgres://shop/items, quality: [{{not_null: [id]}}]}}
flows:
  relay:
    kind: stream
    source: http://shop
    batch: {{size: 100, max_wait: 0}}
    steps: [{{validate: schemas/record.json}}]
    sink: {{queue: shop/done}}
alerts:
  - {{name: EngineDown, expr: "comind_engine_up == 0", for: 1m}}
"""
RECORD = '{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}'
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
DOC = "urn:comind:openapi"
# the values of the documented operations' path and required query parameters, on this
# platform (a new operation with parameters needs its entry here)
ARGS: dict[str, dict[str, str]] = {
    "/api/v1/queues/{name}/dlq": {"name": "shop/jobs"},
    "/api/v1/queues/{name}/redrive": {"name": "shop/jobs"},
    "/api/v1/backups/{id}/verify": {"id": "nope"},
    "/api/v1/flows/{name}": {"name": "relay"},
    "/api/v1/flows/{name}/runs": {"name": "relay"},
    "/api/v1/flows/{name}/traces": {"name": "relay"},
    "/api/v1/flows/{name}/dlq": {"name": "relay"},
    "/api/v1/flows/{name}/token": {"name": "relay"},
    "/api/v1/flows/{name}/run": {"name": "nope"},
    "/api/v1/flows/{name}/backfill": {"name": "nope"},
    "/api/v1/flows/{name}/replay": {"name": "nope"},
    "/api/v1/flows/{name}/quarantine": {"name": "relay"},
    "/api/v1/flows/{name}/quarantine/discard": {"name": "nope"},
    "/api/v1/flows/{name}/quarantine/replay": {"name": "nope"},
    "/api/v1/quality/{dataset}": {"dataset": "shop.items"},
    "/api/v1/quality/{dataset}/run": {"dataset": "nope"},
    "/api/v1/privacy/scan/{dataset}": {"dataset": "shop.items"},
    "/api/v1/buckets/{bucket}/versions": {"bucket": "api-files"},
    "/api/v1/buckets/{bucket}/restore": {"bucket": "api-files"},
    "/api/v1/ci/commits/{sha}": {"sha": "c" * 40},
    "/api/v1/artifacts/{name}/{version}": {"name": "tool", "version": "1.0"},
    "/api/v1/artifacts/{name}/{version}/blob": {"name": "tool", "version": "1.0"},
    "/api/v1/apps/{app}": {"app": "shop"},
    "/api/v1/metrics/query": {"name": "comind_engine_up"},
    "/api/v1/queues/{name}/stats": {"name": "shop/jobs-dlq"},
    "/api/v1/queues/{name}/messages": {"name": "shop/jobs-dlq"},
    "/api/v1/queues/{name}/purge": {"name": "shop/done"},
    "/api/v1/queues/{name}/moves": {"name": "shop/jobs"},
    "/api/v1/tokens/{id}/revoke": {"id": "nope"},
    "/api/v1/apps/{app}/env": {"app": "shop"},
    "/api/v1/apps/{app}/rotate-key": {"app": "nope"},
    "/api/v1/logs": {"app": "shop"},  # the platform's own log is a file of `comind up` only
    "/api/v1/lineage/column": {"node": "queue:shop/done", "field": "id"},
    "/api/v1/lineage/impact": {"node": "http:shop", "field": "id"},
}
# the list each of these reads answers must hold items here (so their schemas are exercised)
FILLED = {"/api/v1/queues": "queues", "/api/v1/queues/{name}/dlq": "messages",
          "/api/v1/flows": "flows", "/api/v1/flows/{name}/traces": "traces",
          "/api/v1/flows/{name}": "quarantined", "/api/v1/flows/{name}/quarantine": "records",
          "/api/v1/backups": "backups", "/api/v1/metrics/query": "series",
          "/api/v1/alerts": "rules", "/api/v1/apps": "apps", "/api/v1/resources": "resources",
          "/api/v1/syncs": "syncs", "/api/v1/queues/{name}/stats": "dead_letter_sources",
          "/api/v1/queues/{name}/messages": "messages", "/api/v1/queues/{name}/moves": "moves",
          "/api/v1/tokens": "tokens", "/api/v1/audit": "entries", "/api/v1/logs": "lines",
          "/api/v1/apps/{app}/env": "env", "/api/v1/lineage": "graph",
          "/api/v1/lineage/column": "graph", "/api/v1/lineage/impact": "impact",
          "/api/v1/deployments": "deployments", "/api/v1/artifacts": "artifacts"}  # fmt: skip


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})  # fmt: skip


@pytest.fixture(scope="module")
def following(engine_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The platform as `comind up --repo` runs it, following a Git repository."""
    repo = tmp_path_factory.mktemp("openapi-repo")
    git(repo, "init", "-q", "-b", "main")
    (repo / "comind.yaml").write_text(SPEC.format(port=free_port("127.0.0.1")))
    (repo / "web.py").write_text(web_app('"ok"'))
    (repo / "schemas").mkdir()
    (repo / "schemas" / "record.json").write_text(RECORD)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop and relay")
    home = engine_root / "openapi"
    source = GitSource(str(repo), ref="main", workdir=home / "git")
    spec = load_spec(source.checkout(source.fetch()), env="dev")
    settings = make_settings(home).model_copy(update={"sample_interval": 0.5})
    run = Platform(settings, about={"platform": "api"}, spec=spec, source=source, env="dev")
    run.start()
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture(scope="module")
def doc(following: Platform) -> dict[str, Any]:
    answer = httpx.get(f"{following.url}/api/v1/openapi.json")  # no token: it is open
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def admin(following: Platform) -> Hidden:
    return Hidden(following.engines.home.secret("api-admin-token"))


@pytest.fixture(scope="module")
def filled(following: Platform, doc: dict[str, Any], admin: Hidden) -> Platform:
    """The platform with something in every list: a dead letter, a flow batch, a backup."""
    layer = following.messages
    assert layer is not None
    assert wait_until(lambda: "shop/jobs" in layer.admin.depths(), timeout=60)
    dead_letter(layer, "shop/jobs", '{"poison": true}')
    ingested = httpx.post(f"{following.url}/ingest/relay", json=[{"id": 1}, {"id": "two"}],
                          headers=bearer(admin))  # fmt: skip
    assert answers_as_documented(doc, "/ingest/{flow}", "post", ingested) == []
    backup = httpx.post(f"{following.url}/api/v1/backups", json={"type": "redis"},
                        headers=bearer(admin), timeout=120)  # fmt: skip
    assert answers_as_documented(doc, "/api/v1/backups", "post", backup) == []
    assert backup.status_code == 200
    token = httpx.post(f"{following.url}/api/v1/tokens", json={"role": "viewer", "app": "shop"},
                       headers=bearer(admin))  # fmt: skip
    assert answers_as_documented(doc, "/api/v1/tokens", "post", token) == []
    assert token.status_code == 201
    pushed = httpx.post(f"{following.url}/api/v1/artifacts/tool/1.0", content=b"tool bytes",
                        params={"commit": "d" * 40}, headers=bearer(admin))  # fmt: skip
    assert answers_as_documented(doc, "/api/v1/artifacts/{name}/{version}", "post", pushed) == []
    assert pushed.status_code in (200, 201)
    # shop/jobs is empty: the move has nothing to take, and GET .../moves lists it
    move = httpx.post(f"{following.url}/api/v1/queues/shop/jobs/moves",
                      json={"to": "shop/done", "rate": 10}, headers=bearer(admin))  # fmt: skip
    assert answers_as_documented(doc, "/api/v1/queues/{name}/moves", "post", move) == []
    assert move.status_code == 202

    def has(path: str, key: str) -> bool:
        found = httpx.get(f"{following.url}{path}", headers=bearer(admin))
        return found.status_code == 200 and bool(found.json()[key])

    assert following.spec is not None  # the dataset's table, for a privacy scan to read
    use = dataset_table(following.spec, "shop.items")
    with dba(superuser(following.engines.postgres).with_db(use.database)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY)")
    assert wait_until(lambda: has("/api/v1/flows/relay/traces", "traces"), timeout=90)
    assert wait_until(lambda: has("/api/v1/flows/relay", "quarantined"))
    assert wait_until(lambda: has("/api/v1/metrics/query?name=comind_engine_up", "series"))
    assert wait_until(lambda: has("/api/v1/logs?app=shop", "lines"))
    return following


def served(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(path template, method) of every route, as OpenAPI writes them ({name}, no HEAD)."""
    out: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", prefix + route.path)
            out |= {(path, m) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, Mount):
            out |= served(route.routes, prefix + route.path)
    return out


def test_every_route_is_documented_and_every_documented_route_served(
    following: Platform, doc: dict[str, Any]
) -> None:
    assert following.server is not None
    app = following.server.server.config.app
    assert isinstance(app, Starlette)
    routes = served(app.routes)
    documented = {(path, m.upper()) for path, ops in doc["paths"].items() for m in ops}
    missing = sorted(r for r in routes - documented if r[0].startswith("/api/v1/"))
    assert not missing, (
        "served but not in the OpenAPI document (add an Op to src/comind/api/openapi_ops.py): "
        + ", ".join(f"{m} {p}" for p, m in missing)
    )
    gone = sorted(documented - routes)
    assert not gone, "documented but not served: " + ", ".join(f"{m} {p}" for p, m in gone)


def test_every_read_answers_as_documented(
    filled: Platform, doc: dict[str, Any], admin: Hidden
) -> None:
    args = arguments(filled, admin)
    problems: list[str] = []
    for path, ops in doc["paths"].items():
        if "get" not in ops:
            continue
        url = concrete(path, ops["get"], args.get(path, {}))
        if url is None:
            problems.append(f"GET {path}: no value for its parameters in ARGS")
            continue
        answer = httpx.get(f"{filled.url}{url}", headers=bearer(admin), timeout=30)
        problems += answers_as_documented(doc, path, "get", answer)
        if path in FILLED and answer.status_code == 200 and not answer.json()[FILLED[path]]:
            problems.append(f"GET {url}: {FILLED[path]} is empty")
    assert not problems, "\n".join(problems)


def test_roles_are_enforced_as_documented(
    filled: Platform, doc: dict[str, Any], admin: Hidden
) -> None:
    """Each token operation refuses a caller without a token (401) and one a role below
    what it documents (403); a read answers a token of exactly its role."""
    assert filled.messages is not None
    operator = Hidden(AccessStore(filled.messages.pool).create("operator")[1])
    tokens = {"viewer": Hidden(filled.engines.home.secret("api-viewer-token")),
              "operator": operator, "admin": admin}  # fmt: skip
    below = {"operator": "viewer", "admin": "operator"}
    args = arguments(filled, admin)
    problems: list[str] = []
    for path, method, op in [(p, m, o) for p, ops in doc["paths"].items() for m, o in ops.items()]:
        role = op.get("x-comind-role")
        if role is None:
            continue
        url = concrete(path, op, args.get(path, {}))
        if url is None:
            problems.append(f"{method.upper()} {path}: no value for its parameters in ARGS")
            continue
        calls = [("no token", 401)] + ([(below[role], 403)] if role in below else [])
        calls += [(role, 200)] if method == "get" else []  # changes: refusals only
        for caller, status in calls:
            headers = bearer(tokens[caller]) if caller in tokens else {}
            answer = httpx.request(method, f"{filled.url}{url}", headers=headers, json={})
            if answer.status_code != status:
                problems.append(f"{method.upper()} {url} documented for {role}, called with "
                                f"{caller}: {answer.status_code}, not {status}")  # fmt: skip
            problems += answers_as_documented(doc, path, method, answer)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/v1/flows/{name}", "/api/v1/flows/nope", 404),
        ("/api/v1/queues/{name}/dlq", "/api/v1/queues/shop/nope/dlq", 404),
        ("/api/v1/queues/{name}/dlq", "/api/v1/queues/shop/done/dlq", 409),
        ("/api/v1/syncs", "/api/v1/syncs?limit=many", 400),
        ("/api/v1/metrics/query", "/api/v1/metrics/query", 400),
        ("/api/v1/queues/{name}/stats", "/api/v1/queues/shop/nope/stats", 404),
        ("/api/v1/queues/{name}/messages", "/api/v1/queues/shop/done/messages?limit=0", 400),
        ("/api/v1/audit", "/api/v1/audit?limit=many", 400),
        ("/api/v1/logs", "/api/v1/logs?level=loud", 400),
        ("/api/v1/logs", "/api/v1/logs?since=yesterday", 400),
        ("/api/v1/apps/{app}/env", "/api/v1/apps/nope/env", 404),
    ],
)
def test_errors_answer_documented_problems(
    following: Platform, doc: dict[str, Any], admin: Hidden, path: str, url: str, status: int
) -> None:
    answer = httpx.get(f"{following.url}{url}", headers=bearer(admin))
    assert answer.status_code == status
    assert answers_as_documented(doc, path, "get", answer) == []


def arguments(platform: Platform, admin: Hidden) -> dict[str, dict[str, str]]:
    """:data:`ARGS`, and the id of a sync that happened on ``platform``."""
    syncs = httpx.get(f"{platform.url}/api/v1/syncs", headers=bearer(admin)).json()["syncs"]
    return {**ARGS, "/api/v1/syncs/{sync_id}": {"sync_id": str(syncs[0]["id"])}}


def concrete(path: str, op: dict[str, Any], values: dict[str, str]) -> str | None:
    """``path`` with its parameters filled in from ``values`` (None: one is missing)."""
    params = op.get("parameters", [])
    if any(p["required"] and p["name"] not in values for p in params):
        return None
    query = "&".join(f"{p['name']}={values[p['name']]}" for p in params
                     if p["in"] == "query" and p["name"] in values)  # fmt: skip
    url = re.sub(r"{(\w+)}", lambda m: values[m[1]], path)
    return f"{url}?{query}" if query else url


def answers_as_documented(
    doc: dict[str, Any], path: str, method: str, answer: httpx.Response
) -> list[str]:
    """What is wrong with ``answer`` to ``method path`` by the document (empty: nothing)."""
    where = f"{method.upper()} {answer.request.url.raw_path.decode()}"
    documented = doc["paths"][path][method]["responses"].get(str(answer.status_code))
    if documented is None:
        return [f"{where}: status {answer.status_code} is not documented: {answer.text[:300]}"]
    media = answer.headers.get("content-type", "").split(";")[0]
    types = [t for t in documented["content"] if t.split(";")[0] == media]
    if not types:
        return [f"{where}: {media} is not documented for {answer.status_code}"]
    body = answer.json() if media == "application/json" else answer.text
    parts = ["paths", path, method, "responses", str(answer.status_code), "content", types[0],
             "schema"]  # fmt: skip
    errors = validator(doc, parts).iter_errors(body)
    return [f"{where}: {e.json_path}: {e.message}" for e in errors]


def validator(doc: dict[str, Any], parts: list[str]) -> Draft202012Validator:
    """A validator of the schema at ``parts`` in ``doc``, its $refs resolved in ``doc``."""
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    registry: Registry[Any] = Registry().with_resource(DOC, DRAFT202012.create_resource(doc))
    return Draft202012Validator({"$ref": f"{DOC}#/{pointer}"}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)  # fmt: skip


def test_changes_answer_as_documented(filled: Platform, doc: dict[str, Any], admin: Hidden) -> None:
    """The changes a test may make to a shared platform (a dry-run sync and prune, auto-sync
    left on, a restore point, a redrive: run last, it empties the DLQ the reads look at), and
    refusals of the others."""
    admin_, viewer = bearer(admin), bearer(filled.engines.home.secret("api-viewer-token"))
    github = {"X-GitHub-Event": "push"}  # and no signature
    calls = [
        ("/api/v1/sync", "/api/v1/sync", {"dry_run": True}, admin_, 202),
        ("/api/v1/autosync", "/api/v1/autosync", {"enabled": True}, admin_, 200),
        ("/api/v1/queues/{name}/redrive", "/api/v1/queues/shop/jobs/redrive", {}, admin_, 202),
        ("/api/v1/queues/{name}/redrive", "/api/v1/queues/shop/done/redrive", {}, admin_, 409),
        ("/api/v1/backups/prune", "/api/v1/backups/prune", {"dry_run": True}, admin_, 200),
        (
            "/api/v1/backups/restore-points",
            "/api/v1/backups/restore-points",
            {"name": "t1"},
            admin_,
            200,
        ),
        ("/api/v1/backups/{id}/verify", "/api/v1/backups/nope/verify", {}, admin_, 400),
        ("/api/v1/backups", "/api/v1/backups", {"type": "weekly"}, admin_, 400),
        ("/api/v1/rollback", "/api/v1/rollback", {}, viewer, 403),
        ("/api/v1/backups/switch", "/api/v1/backups/switch", {"engine": "x"}, viewer, 403),
        ("/api/v1/hooks/git", "/api/v1/hooks/git", {"ref": "refs/heads/main"}, github, 401),
        ("/api/v1/queues/{name}/messages", "/api/v1/queues/shop/done/messages", {"body": "hi"},
         admin_, 200),
        ("/api/v1/queues/{name}/messages", "/api/v1/queues/shop/done/messages", {}, admin_, 400),
        ("/api/v1/queues/{name}/purge", "/api/v1/queues/shop/done/purge", {}, admin_, 200),
        ("/api/v1/queues/{name}/purge", "/api/v1/queues/shop/nope/purge", {}, admin_, 404),
        ("/api/v1/queues/{name}/moves", "/api/v1/queues/shop/done/moves", {"rate": 0}, admin_,
         400),
        ("/api/v1/queues/{name}/moves", "/api/v1/queues/shop/done/moves", {"to": "shop/nope"},
         admin_, 404),
        ("/api/v1/tokens", "/api/v1/tokens", {"role": "root"}, admin_, 400),
        ("/api/v1/tokens/{id}/revoke", "/api/v1/tokens/nope/revoke", {}, admin_, 404),
        ("/api/v1/sessions/end", "/api/v1/sessions/end", {}, admin_, 200),
        ("/api/v1/apps/{app}/rotate-key", "/api/v1/apps/nope/rotate-key", {}, admin_, 404),
    ]  # fmt: skip
    problems: list[str] = []
    for path, url, body, headers, status in calls:
        answer = httpx.post(f"{filled.url}{url}", json=body, headers=headers, timeout=30)
        if answer.status_code != status:
            problems.append(f"POST {url}: {answer.status_code}, not {status}: {answer.text}")
        problems += answers_as_documented(doc, path, "post", answer)
    assert not problems, "\n".join(problems)


def test_a_token_made_and_revoked_answers_as_documented(
    filled: Platform, doc: dict[str, Any], admin: Hidden
) -> None:
    made = httpx.post(f"{filled.url}/api/v1/tokens", json={"role": "operator", "expires": "1h"},
                      headers=bearer(admin))  # fmt: skip
    assert made.status_code == 201
    assert answers_as_documented(doc, "/api/v1/tokens", "post", made) == []
    url = f"{filled.url}/api/v1/tokens/{made.json()['id']}/revoke"
    for status in (200, 404):  # the second time it is no longer active
        revoked = httpx.post(url, headers=bearer(admin))
        assert revoked.status_code == status
        assert answers_as_documented(doc, "/api/v1/tokens/{id}/revoke", "post", revoked) == []


@pytest.mark.parametrize(
    ("path", "url", "own"),
    [
        ("/api/v1/queues/{name}/stats", "/api/v1/queues/shop/jobs/stats", True),
        ("/api/v1/queues/{name}/moves", "/api/v1/queues/shop/jobs/moves", True),
        ("/api/v1/logs", "/api/v1/logs?app=shop", True),
        ("/api/v1/logs", "/api/v1/logs", False),
    ],
)
def test_app_tokens_reach_their_own_app_only(
    filled: Platform, doc: dict[str, Any], path: str, url: str, own: bool
) -> None:
    """What ``x-comind-app-tokens: own`` says: a token of the app reads it, a token of
    another app (or of one app, for the whole platform) is refused."""
    assert doc["paths"][path]["get"]["x-comind-app-tokens"] == "own"
    assert filled.messages is not None
    store = AccessStore(filled.messages.pool)
    shop, other = (Hidden(store.create("viewer", app=a)[1]) for a in ("shop", "other"))
    for token, status in ((shop, 200 if own else 403), (other, 403)):
        answer = httpx.get(f"{filled.url}{url}", headers=bearer(token))
        assert answer.status_code == status
        assert answers_as_documented(doc, path, "get", answer) == []


def test_bad_input_is_a_4xx_in_one_line_never_a_500(
    following: Platform, doc: dict[str, Any], admin: Hidden
) -> None:
    """Every operation, with parameters of the wrong shape and bodies of the wrong types."""
    wrong: list[str] = []
    with httpx.Client(base_url=following.url, headers=bearer(admin), timeout=60) as client:
        for bad in requests(doc):
            try:
                answer = client.request(bad.method, bad.url, content=bad.body,
                                        headers={"content-type": "application/json"})  # fmt: skip
            except httpx.TransportError as exc:
                wrong.append(f"{bad}: {exc!r}")
                continue
            if not 400 <= answer.status_code < 500 and answer.status_code not in (200, 201, 202):
                wrong.append(f"{bad}: {answer.status_code} {answer.text[:200]}")
            elif answer.status_code >= 400 and not _one_line(answer):
                wrong.append(f"{bad}: {answer.status_code} not one line: {answer.text[:200]}")
    assert wrong == [], "\n".join(wrong)


def _one_line(answer: httpx.Response) -> bool:
    if answer.headers.get("content-type", "").startswith("application/json"):
        error = answer.json().get("error") if isinstance(answer.json(), dict) else None
        return isinstance(error, str) and "\n" not in error and "Traceback" not in error
    return "\n" not in answer.text.strip() and "Traceback" not in answer.text
