"""The GitOps acceptance path from outside, against a real Git repository:
commit → webhook → Synced; isolation between apps; drift healed; a broken commit refused;
rollback; orphaned data; a sealed secret reaching only the app's environment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import psycopg
import pytest
from tests.e2e.webapp import web_app
from tests.gitrepo import git
from tests.waiting import wait_until

from comind.embedded.ports import free_port
from comind.gitops.webhooks import github_signature

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
WEB = web_app(
    'json.dumps({"version": os.environ["APP_VERSION"], "pid": os.getpid(), '
    '"database": os.environ.get("DATABASE_URL", "").split("@")[-1], '
    '"secret_len": len(os.environ.get("BOOKS_API_KEY", ""))})'
)
APP = """\
  {name}:
    run: python web.py
    port: {port}
    health: {{http: /healthz}}
    env: {{APP_VERSION: "{version}"}}
"""
SHOP = """\
    database: {name: shopdb}
    cache: {}
    bucket: {name: shop-files}
    queues:
      jobs: {dlq: {max_receives: 2}}
"""
BOOKS = """\
    depends_on: [shop]
    secrets: [api-key]
    database: {name: booksdb}
"""


def spec(shop_port: int, books_port: int | None, version: str) -> str:
    text = "platform: {name: flow}\nenvironments:\n  dev: {}\napps:\n"
    text += APP.format(name="shop", port=shop_port, version=version) + SHOP
    if books_port is not None:
        text += APP.format(name="books", port=books_port, version=version) + BOOKS
    return text


def served(port: int) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).json()
        return doc
    except httpx.HTTPError:
        return {}


def commit(repo: Path, text: str, message: str) -> str:
    (repo / "comind.yaml").write_text(text)
    (repo / "web.py").write_text(WEB)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def jget(comind: Run, *args: str) -> Any:
    return json.loads(comind(*args, "--json", check=True).stdout)


def apps(comind: Run) -> dict[str, dict[str, Any]]:
    return {a["app"]: a for a in jget(comind, "app", "ls")}


def hook(home: Path, state: dict[str, Any], sha: str) -> httpx.Response:
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": "x"}}).encode()  # fmt: skip
    secret = (home / "secrets" / "webhook-secret").read_text().strip()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(body, secret),
               "Content-Type": "application/json"}  # fmt: skip
    return httpx.post(f"{state['api_url']}/api/v1/hooks/git", content=body, headers=headers)


def test_gitops_from_commit_to_rollback(comind: Run, tmp_path: Path, home: Path) -> None:
    repo = tmp_path / "platform-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shop_port, books_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    first = commit(repo, spec(shop_port, None, "1"), "shop")
    fast = {"COMIND_REFRESH_INTERVAL": "1"}
    comind("up", "--detach", "--api-port", "0", "--repo", str(repo), "--env", "dev",
           check=True, extra_env=fast)  # fmt: skip
    state = json.loads((home / "state.json").read_text())
    assert apps(comind)["shop"]["sync"] == "Synced" and apps(comind)["shop"]["health"] == "Healthy"
    assert served(shop_port)["version"] == "1"  # the app's process, with its own database
    assert served(shop_port)["database"].endswith("/shopdb")

    # a bad signature triggers nothing
    syncs_before = len(jget(comind, "history"))
    forged = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}
    bad = httpx.post(f"{state['api_url']}/api/v1/hooks/git", content=b"{}", headers=forged)
    assert bad.status_code == 401
    unknown = httpx.post(f"{state['api_url']}/api/v1/hooks/git", content=b"{}")
    assert unknown.status_code == 400  # neither GitHub's nor GitLab's headers

    # reads need a token (viewer or more), changes the operator role or more
    api = state["api_url"]
    viewer = (home / "secrets" / "api-viewer-token").read_text().strip()
    assert httpx.get(f"{api}/api/v1/apps").status_code == 401
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert httpx.get(f"{api}/api/v1/apps", headers=as_viewer).status_code == 200
    assert httpx.post(f"{api}/api/v1/sync", json={}, headers=as_viewer).status_code == 403
    assert len(jget(comind, "history")) == syncs_before  # nothing was triggered

    # a new app with a sealed secret, committed, arrives through the webhook
    comind("seal", "--app", "books", "--env", "dev", "--name", "api-key", "--repo", str(repo),
           "--from-literal", "BOOKS_API_KEY=hunter2-very-secret", check=True)  # fmt: skip
    second = commit(repo, spec(shop_port, books_port, "2"), "books")
    assert hook(home, state, second).status_code == 202
    assert wait_until(lambda: apps(comind).get("books", {}).get("health") == "Healthy", 60)
    assert served(shop_port)["version"] == "2"  # rolled out to the new revision
    assert served(books_port)["secret_len"] == len("hunter2-very-secret")
    books_env = jget(comind, "app", "env", "books")["env"]
    shop_env = jget(comind, "app", "env", "shop")["env"]
    assert books_env["BOOKS_API_KEY"] == "hunter2-very-secret"
    assert "BOOKS_API_KEY" not in shop_env
    for reader in (("app", "show", "books"), ("history",), ("app", "ls")):
        assert "hunter2" not in comind(*reader, "--json", check=True).stdout

    # each app reaches only its own database
    with psycopg.connect(shop_env["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    stranger = books_env["DATABASE_URL"].rsplit("/", 1)[0] + "/shopdb"
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(stranger).close()

    # the bucket through the S3 endpoint with the app's own key; books cannot see it
    s3 = {name: boto3.client("s3", region_name="us-east-1",
                             endpoint_url=e["AWS_ENDPOINT_URL_S3"],
                             aws_access_key_id=e["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"])
          for name, e in (("shop", shop_env), ("books", books_env))}  # fmt: skip
    s3["shop"].put_object(Bucket=shop_env["OBJECTS_BUCKET"], Key="a/b.json", Body=b"{}")
    assert s3["shop"].get_object(Bucket="shop-files", Key="a/b.json")["Body"].read() == b"{}"
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchBucket"):
        s3["books"].get_object(Bucket="shop-files", Key="a/b.json")

    # a queue deleted behind the platform's back is healed
    sqs = boto3.client("sqs", endpoint_url=shop_env["AWS_ENDPOINT_URL_SQS"],
                       region_name="us-east-1", aws_access_key_id=shop_env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=shop_env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    before = jget(comind, "history")[0]["id"]
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="jobs")["QueueUrl"])

    def healed() -> bool:
        return any(s["trigger"] == "self-heal" and s["outcome"] == "Succeeded" and s["id"] > before
                   for s in jget(comind, "history"))  # fmt: skip

    assert wait_until(healed, 30), jget(comind, "history")[:4]
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"]

    # a broken commit is refused; the running revision stays
    broken = commit(repo, spec(shop_port, books_port, "3").replace("run:", "rnu:", 1), "typo")
    assert hook(home, state, broken).status_code == 202
    assert wait_until(lambda: jget(comind, "history")[0]["outcome"] == "Refused", 30)
    refused = jget(comind, "history")[0]
    assert refused["revision"] == broken and "comind.yaml:6:" in refused["message"]
    assert apps(comind)["books"]["sync"] == "Synced"
    assert served(shop_port)["version"] == "2"

    # diff and a dry run show nothing to do at the good revision
    assert comind("diff", "--revision", second).returncode == 0
    planned = jget(comind, "sync", "--dry-run", "--revision", second)
    assert planned["outcome"] == "Planned"

    # rollback to the first revision: shop serves version 1 again; books is removed, its
    # process stopped and its database orphaned, not dropped
    back = json.loads(comind("rollback", first, "--yes", "--json").stdout)
    assert back["outcome"] == "Succeeded", [
        r for r in back["results"] if r["result"] != "Succeeded"
    ]
    assert served(shop_port)["version"] == "1"
    assert served(books_port) == {}
    books = apps(comind)["books"]
    assert "database/books/booksdb" in books["orphaned"]
    with psycopg.connect(books_env["DATABASE_URL"]):  # data and role still there
        pass
    assert jget(comind, "history")[0]["trigger"].startswith("rollback by ")
    for log in (home / "logs").rglob("*"):  # the secret never reached a log
        assert not log.is_file() or "hunter2" not in log.read_text(errors="replace"), log


def test_token_roles_app_scopes_and_the_audit_log(comind: Run, tmp_path: Path, home: Path) -> None:
    repo = tmp_path / "roles-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    text = spec(free_port("127.0.0.1"), free_port("127.0.0.1"), "1").replace(
        "    secrets: [api-key]\n", "")  # fmt: skip
    commit(repo, text, "two apps")
    git(repo, "checkout", "-q", "-b", "feature-unreviewed")  # a branch main does not hold
    unreviewed = commit(repo, text + "# not reviewed\n", "unreviewed")
    git(repo, "checkout", "-q", "main")
    comind("up", "--detach", "--api-port", "0", "--repo", str(repo), check=True)
    api = json.loads((home / "state.json").read_text())["api_url"]

    def token(*args: str) -> dict[str, Any]:
        return jget(comind, "token", "create", *args)

    def call(method: str, path: str, tok: str, body: dict[str, Any] | None = None) -> Any:
        return httpx.request(method, f"{api}{path}", json=body,
                             headers={"Authorization": f"Bearer {tok}"})  # fmt: skip

    viewer, shop_op = token("--role", "viewer"), token("--role", "operator", "--app", "shop")
    assert call("GET", "/api/v1/apps", viewer["token"]).status_code == 200
    assert call("POST", "/api/v1/sync", viewer["token"], {}).status_code == 403
    assert call("GET", "/api/v1/apps/shop", shop_op["token"]).status_code == 200
    assert call("GET", "/api/v1/apps/books", shop_op["token"]).status_code == 403
    listed = call("GET", "/api/v1/apps", shop_op["token"]).json()["apps"]
    assert [a["app"] for a in listed] == ["shop"]
    assert call("POST", "/api/v1/sync", shop_op["token"], {}).status_code == 403  # names no app
    admin = {
        "Authorization": f"Bearer {(home / 'secrets' / 'api-admin-token').read_text().strip()}"
    }
    for revision in ("feature-unreviewed", unreviewed):  # only main's history deploys
        refused = httpx.post(f"{api}/api/v1/sync", json={"revision": revision}, headers=admin)
        assert refused.status_code == 400 and "not in the history of main" in refused.text
        assert httpx.post(f"{api}/api/v1/rollback", json={"revision": revision},
                          headers=admin).status_code == 400  # fmt: skip
    chose = call("POST", "/api/v1/sync", shop_op["token"], {"app": "shop", "revision": "main"})
    assert chose.status_code == 403 and "followed revision only" in chose.text
    claimed = {"app": "shop", "trigger": "the admin, honestly"}
    started = call("POST", "/api/v1/sync", shop_op["token"], claimed)
    assert started.status_code == 202
    record = call("GET", f"/api/v1/syncs/{started.json()['id']}", shop_op["token"]).json()
    # the history names the authenticated caller first; the caller's words only follow
    assert record["trigger"] == f"sync by {shop_op['id']} (the admin, honestly)"
    comind("token", "revoke", viewer["id"], check=True)
    assert call("GET", "/api/v1/apps", viewer["token"]).status_code == 401
    tokens = jget(comind, "token", "ls")
    assert viewer["token"] not in json.dumps(tokens)  # stored hashed, never shown again
    jget(comind, "app", "env", "shop")
    actions = [(e["actor"], e["action"], e["target"], e["outcome"]) for e in jget(comind, "audit")]
    assert (shop_op["id"], "sync", "shop", "accepted") in actions
    assert (viewer["id"], "sync", "*", "refused") in actions
    assert any(a[1] == "read-secrets" and a[2] == "shop" for a in actions)

    # the audit log is a hash chain: intact, then broken at the entry edited in PostgreSQL
    intact = comind("audit", "verify", "--json", check=True)
    assert json.loads(intact.stdout)["intact"]
    exported = [json.loads(line) for line in
                comind("audit", "export", check=True).stdout.splitlines()]  # fmt: skip
    assert len(exported) >= 5 and all(len(e["hash"]) == 64 for e in exported)
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    password = (home / "secrets" / "postgres-password").read_text().strip()
    with psycopg.connect(host=host, port=port, user="postgres", password=password,
                         dbname="comind") as conn:  # fmt: skip
        conn.execute("UPDATE comind.audit_log SET outcome = 'accepted' WHERE seq = %s",
                     (exported[2]["seq"],))  # fmt: skip
    broken = comind("audit", "verify")
    assert broken.returncode == 1
    assert f"BROKEN at entry {exported[2]['seq']}" in broken.stdout and "edited" in broken.stdout
