"""Push webhooks from GitHub and GitLab: verified first, then parsed.

:func:`verify_and_parse` is a pure function of the request's headers, raw body and
the configured secret, so any HTTP layer can call it and tests need no server. It
guarantees:

- **Nothing unsigned is trusted.** The signature (GitHub ``X-Hub-Signature-256``, an
  HMAC-SHA256 of the raw body) or token (GitLab ``X-Gitlab-Token``) is checked in
  constant time *before* the body is parsed; a missing or wrong one is a 401. With
  no secret configured every hook is refused with 401 rather than accepted unsigned.
- **Status codes say who is at fault.** :class:`WebhookError` carries the HTTP status:
  401 for authentication, 400 for a request that is from no known provider, or a
  push whose JSON is malformed or lacks ``ref`` / the new commit.
- **``None`` means "acknowledged, nothing to do".** A GitHub ``ping``, any event other
  than a push (GitHub ``push``, GitLab ``Push Hook`` / ``Tag Push Hook``), and a push
  that deletes a branch or tag all return ``None``: the caller answers 2xx so the
  provider does not retry, and triggers no sync.

A returned :class:`Push` only says *that* a ref moved; the caller fetches the source
and syncs the commit it resolves, never trusting the payload's SHA blindly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from comind.cicd.hooks import Provider, WebhookError, authenticate, github_signature, load

__all__ = ["Push", "WebhookError", "github_signature", "verify_and_parse"]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GITLAB_PUSHES = frozenset({"Push Hook", "Tag Push Hook"})
_PREFIXES = ("refs/heads/", "refs/tags/")


@dataclass(frozen=True)
class Push:
    """A push to ``ref`` whose new tip is ``sha``."""

    provider: Provider
    ref: str
    sha: str
    repository: str

    @property
    def branch_or_tag(self) -> str:
        """The short name: ``main`` for ``refs/heads/main``, ``v1`` for ``refs/tags/v1``."""
        for prefix in _PREFIXES:
            if self.ref.startswith(prefix):
                return self.ref.removeprefix(prefix)
        return self.ref

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    def concerns(self, ref: str) -> bool:
        """Whether this push moved ``ref`` (a short branch/tag name or a full ref)."""
        return ref in (self.ref, self.branch_or_tag)


def verify_and_parse(headers: Mapping[str, str], body: bytes, secret: str) -> Push | None:
    """The push a webhook request announces, ``None`` if it needs no action.

    Raises :class:`WebhookError` (401 or 400) for a request that must be refused.
    """
    provider, lowered = authenticate(headers, body, secret)
    if provider == "github":
        return _github(lowered, body)
    return _gitlab(lowered, body)


def _github(headers: Mapping[str, str], body: bytes) -> Push | None:
    if headers["x-github-event"].strip() != "push":
        return None
    payload = load(body)
    if payload.get("deleted") is True:
        return None
    return _push("github", payload, _field(payload, "after"), _repository(payload, "repository"))


def _gitlab(headers: Mapping[str, str], body: bytes) -> Push | None:
    if headers["x-gitlab-event"].strip() not in _GITLAB_PUSHES:
        return None
    payload = load(body)
    # checkout_sha is the commit (``after`` names the tag object of an annotated tag);
    # it is null when the ref was deleted.
    checkout = payload.get("checkout_sha")
    sha = checkout if isinstance(checkout, str) else _field(payload, "after")
    return _push("gitlab", payload, sha, _repository(payload, "project", "repository"))


def _push(provider: Provider, payload: dict[str, Any], sha: str, repository: str) -> Push | None:
    ref = _field(payload, "ref")
    if not ref.startswith("refs/"):
        raise WebhookError(f"malformed push: ref {ref!r} is not a full ref name", status=400)
    sha = sha.lower()
    if not _SHA.fullmatch(sha):
        raise WebhookError(f"malformed push: {sha!r} is not a commit SHA", status=400)
    if not sha.strip("0"):
        return None
    return Push(provider=provider, ref=ref, sha=sha, repository=repository)


def _field(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise WebhookError(f"malformed push: {name!r} is missing", status=400)
    return value


def _repository(payload: Mapping[str, Any], *keys: str) -> str:
    """Informational: the clone URL or name of the pushed repository, if given."""
    for key in keys:
        repo = payload.get(key)
        if isinstance(repo, dict):
            for name in ("clone_url", "git_http_url", "url", "full_name", "path_with_namespace"):
                if isinstance(repo.get(name), str):
                    return str(repo[name])
    return ""
