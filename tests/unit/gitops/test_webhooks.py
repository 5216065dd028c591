"""Push webhooks: signatures and tokens checked before anything is parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from comind.gitops.webhooks import Push, WebhookError, github_signature, verify_and_parse

SECRET = "hook-secret-123"
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
ZEROS = "0" * 40


def github_push(ref: str = "refs/heads/main", after: str = SHA, **extra: Any) -> bytes:
    payload = {
        "ref": ref,
        "before": "a" * 40,
        "after": after,
        "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
        **extra,
    }
    return json.dumps(payload).encode()


def github_headers(body: bytes, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": github_signature(body, secret),
        "Content-Type": "application/json",
    }


def gitlab_push(ref: str = "refs/heads/main", **fields: Any) -> bytes:
    payload = {
        "object_kind": "push",
        "ref": ref,
        "before": "b" * 40,
        "after": SHA,
        "checkout_sha": SHA,
        "project": {"git_http_url": "https://gitlab.example.com/acme/shop.git"},
        **fields,
    }
    return json.dumps(payload).encode()


def gitlab_headers(event: str = "Push Hook", token: str = SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token}


def refused(headers: dict[str, str], body: bytes, secret: str = SECRET) -> WebhookError:
    with pytest.raises(WebhookError) as caught:
        verify_and_parse(headers, body, secret)
    return caught.value


def test_github_push() -> None:
    body = github_push()
    push = verify_and_parse(github_headers(body), body, SECRET)
    assert push == Push(
        provider="github",
        ref="refs/heads/main",
        sha=SHA,
        repository="https://github.com/acme/shop.git",
    )
    assert push.branch_or_tag == "main"
    assert not push.is_tag
    assert push.concerns("main")
    assert push.concerns("refs/heads/main")
    assert not push.concerns("dev")


def test_gitlab_branch_push() -> None:
    push = verify_and_parse(gitlab_headers(), gitlab_push(), SECRET)
    assert push is not None
    assert (push.provider, push.ref, push.sha) == ("gitlab", "refs/heads/main", SHA)
    assert push.repository == "https://gitlab.example.com/acme/shop.git"


def test_gitlab_tag_push_uses_the_commit_not_the_tag_object() -> None:
    body = gitlab_push("refs/tags/v1", after="c" * 40)
    push = verify_and_parse(gitlab_headers("Tag Push Hook"), body, SECRET)
    assert push is not None
    assert (push.ref, push.sha, push.branch_or_tag) == ("refs/tags/v1", SHA, "v1")
    assert push.is_tag


def test_gitlab_push_without_checkout_sha_uses_after() -> None:
    body = gitlab_push(checkout_sha=None, after="d" * 40)
    push = verify_and_parse(gitlab_headers(), body, SECRET)
    assert push is not None
    assert push.sha == "d" * 40


def test_wrong_signature_is_401() -> None:
    body = github_push()
    headers = github_headers(body) | {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert refused(headers, body).status == 401


def test_garbage_signature_is_401() -> None:
    body = github_push()
    headers = github_headers(body) | {"X-Hub-Signature-256": "sha256=zzé"}
    assert refused(headers, body).status == 401


def test_missing_signature_is_401() -> None:
    body = github_push()
    headers = github_headers(body)
    del headers["X-Hub-Signature-256"]
    assert refused(headers, body).status == 401


def test_signature_made_with_another_secret_is_401() -> None:
    body = github_push()
    assert refused(github_headers(body, secret="another-secret"), body).status == 401


def test_body_altered_after_signing_is_401() -> None:
    body = github_push()
    headers = github_headers(body)
    assert refused(headers, github_push(after="e" * 40)).status == 401


def test_signature_is_checked_before_the_body_is_parsed() -> None:
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "1" * 64}
    assert refused(headers, b"{not json").status == 401


@pytest.mark.parametrize("token", ["wrong", "", SECRET + "x"])
def test_gitlab_wrong_or_missing_token_is_401(token: str) -> None:
    assert refused(gitlab_headers(token=token), gitlab_push()).status == 401


def test_gitlab_without_token_header_is_401() -> None:
    assert refused({"X-Gitlab-Event": "Push Hook"}, gitlab_push()).status == 401


@pytest.mark.parametrize("provider", ["github", "gitlab", "none"])
def test_empty_configured_secret_refuses_everything(provider: str) -> None:
    body = github_push()
    headers = {
        "github": github_headers(body, secret=""),
        "gitlab": gitlab_headers(token=""),
        "none": {},
    }[provider]
    assert refused(headers, body, secret="").status == 401


def test_github_ping_is_acknowledged() -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert verify_and_parse(github_headers(body, event="ping"), body, SECRET) is None


def test_unsigned_ping_is_401() -> None:
    assert refused({"X-GitHub-Event": "ping"}, b"{}").status == 401


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (github_headers(b"{}", event="pull_request"), b"{}"),
        (gitlab_headers("Merge Request Hook"), b"{}"),
    ],
)
def test_other_events_are_acknowledged_and_ignored(headers: dict[str, str], body: bytes) -> None:
    assert verify_and_parse(headers, body, SECRET) is None


def test_unknown_provider_is_400() -> None:
    error = refused({"X-Gitea-Event": "push", "Content-Type": "application/json"}, b"{}")
    assert error.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        json.dumps({"after": SHA}).encode(),
        json.dumps({"ref": "refs/heads/main"}).encode(),
        json.dumps({"ref": "main", "after": SHA}).encode(),
        json.dumps({"ref": "refs/heads/main", "after": "not-a-sha"}).encode(),
    ],
)
def test_malformed_github_push_with_valid_signature_is_400(body: bytes) -> None:
    assert refused(github_headers(body), body).status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({"ref": "refs/heads/main", "checkout_sha": None}).encode(),
        json.dumps({"checkout_sha": SHA}).encode(),
    ],
)
def test_malformed_gitlab_push_with_valid_token_is_400(body: bytes) -> None:
    assert refused(gitlab_headers(), body).status == 400


def test_github_branch_deletion_is_ignored() -> None:
    body = github_push(after=ZEROS, deleted=True)
    assert verify_and_parse(github_headers(body), body, SECRET) is None
    body = github_push(after=ZEROS)
    assert verify_and_parse(github_headers(body), body, SECRET) is None


def test_gitlab_deletion_is_ignored() -> None:
    body = gitlab_push("refs/tags/v1", after=ZEROS, checkout_sha=None)
    assert verify_and_parse(gitlab_headers("Tag Push Hook"), body, SECRET) is None


def test_header_names_in_any_case() -> None:
    body = github_push()
    headers = {key.upper(): value for key, value in github_headers(body).items()}
    assert verify_and_parse(headers, body, SECRET) is not None
    lower = {key.lower(): value for key, value in gitlab_headers().items()}
    assert verify_and_parse(lower, gitlab_push(), SECRET) is not None


def test_uppercase_hex_signature_is_accepted() -> None:
    body = github_push()
    signature = github_signature(body, SECRET)
    headers = github_headers(body) | {"X-Hub-Signature-256": "sha256=" + signature[7:].upper()}
    assert verify_and_parse(headers, body, SECRET) is not None
