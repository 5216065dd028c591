"""The one wrapper of the control API: roles, bounded bodies, engine outages as 503, and the
audit entry of every mutation written by the wrapper alone."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from tests.asgi import request

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.tokens import Tokens
from comind.errors import UsageError
from comind.governance.access import Principal

ADMIN, VIEWER = "admin-token-for-tests", "viewer-token-for-tests"
Entry = tuple[str, str, str, str, dict[str, Any] | None]


class RecordingTokens(Tokens):
    def __init__(self) -> None:
        super().__init__(admin=ADMIN, viewer=VIEWER)
        self.entries: list[Entry] = []

    def audit(self, who: Principal | None, action: str, target: str, outcome: str,
              detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.entries.append((who.id if who else "anonymous", action, target, outcome, detail))


def purge(call: Call) -> Answer:
    if call.params["name"] == "down":
        raise psycopg.OperationalError("connection refused")
    if call.params["name"] == "busy":
        raise PoolTimeout("couldn't get a connection after 3.00 sec")
    if call.params["name"] == "nope":
        raise Problem("no queue 'nope'", 404)
    if call.params["name"] == "bad":
        raise UsageError("bad name")
    return Answer({"purged": call.number("limit", 1, 1, 10)}, detail={"why": call.text("why")})


@pytest.fixture
def tokens() -> RecordingTokens:
    return RecordingTokens()


class AppClient:
    """Requests to an ASGI app in this process, one event loop per request."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return request(self.app, "POST", path, **kwargs)


@pytest.fixture
def client(tokens: RecordingTokens) -> AppClient:
    guard = Guard(tokens, max_body=100)
    route = guard.route("/q/{name}/purge", purge, method="POST", role="operator", action="purge")
    return AppClient(Starlette(routes=[route]))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_mutation_without_an_audit_action_cannot_be_routed(tokens: RecordingTokens) -> None:
    with pytest.raises(ValueError, match="name its audit action"):
        Guard(tokens).route("/x", purge, method="POST")


def test_an_accepted_mutation_is_audited_once_with_its_detail(
    client: AppClient, tokens: RecordingTokens
) -> None:
    done = client.post("/q/jobs/purge", json={"limit": 3, "why": "test"}, headers=bearer(ADMIN))
    assert (done.status_code, done.json()) == (200, {"purged": 3})
    assert tokens.entries == [("builtin-admin", "purge", "jobs", "accepted", {"why": "test"})]


def test_a_viewer_is_refused_with_the_roles_named_and_audited(
    client: AppClient, tokens: RecordingTokens
) -> None:
    refused = client.post("/q/jobs/purge", headers=bearer(VIEWER))
    assert refused.status_code == 403
    assert (refused.json()["needs"], refused.json()["role"]) == ("operator", "viewer")
    assert client.post("/q/jobs/purge").status_code == 401
    assert [e[0::3] for e in tokens.entries] == [("builtin-viewer", "refused"),
                                                 ("anonymous", "refused")]  # fmt: skip


@pytest.mark.parametrize("name", ["down", "busy"])
def test_an_unavailable_engine_is_a_503_in_one_line(
    client: AppClient, tokens: RecordingTokens, name: str
) -> None:
    answer = client.post(f"/q/{name}/purge", headers=bearer(ADMIN))
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "PostgreSQL is unavailable right now (restarting?); try again shortly"
    }
    assert tokens.entries[0][3] == "failed"


@pytest.mark.parametrize(("name", "status"), [("nope", 404), ("bad", 400)])
def test_input_errors_keep_their_status(client: AppClient, name: str, status: int) -> None:
    assert client.post(f"/q/{name}/purge", headers=bearer(ADMIN)).status_code == status


def test_bodies_are_bounded_and_must_be_json_objects(client: AppClient) -> None:
    post = lambda body: client.post("/q/jobs/purge", content=body, headers=bearer(ADMIN))  # noqa: E731
    assert post(b'{"why": "' + b"x" * 200 + b'"}').status_code == 413
    assert post(b"[1, 2]").status_code == 400
    assert post(b"{not json").status_code == 400
    assert post(b'{"limit": 11}').json() == {"error": "limit must be between 1 and 10"}
