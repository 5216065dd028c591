"""Webhooks from GitHub and GitLab: authenticated before anything is parsed, and the CI
events among them read as CI runs.

- **Nothing unsigned is trusted.** The signature (GitHub ``X-Hub-Signature-256``, an
  HMAC-SHA256 of the raw body) or token (GitLab ``X-Gitlab-Token``) is checked in
  constant time *before* the body is parsed; a missing or wrong one is a 401. With
  no secret configured every hook is refused with 401 rather than accepted unsigned.
- **Status codes say who is at fault.** :class:`WebhookError` carries the HTTP status:
  401 for authentication, 400 for a request that is from no known provider or whose JSON
  is malformed.

Pushes are read by :mod:`comind.gitops.webhooks`; CI events here (:func:`ci_run`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from comind.errors import ComindError

Provider = Literal["github", "gitlab"]


class WebhookError(ComindError):
    """A webhook request refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def authenticate(
    headers: Mapping[str, str], body: bytes, secret: str
) -> tuple[Provider, dict[str, str]]:
    """The provider of an authentic webhook request and its headers, lower-cased; raises
    :class:`WebhookError` (401, 400) for any other."""
    if not secret:
        raise WebhookError("webhook refused: no webhook secret is configured", status=401)
    lowered = {key.lower(): value for key, value in headers.items()}
    if "x-github-event" in lowered:
        _check_github_signature(lowered.get("x-hub-signature-256", ""), body, secret)
        return "github", lowered
    if "x-gitlab-event" in lowered:
        _check_gitlab_token(lowered.get("x-gitlab-token", ""), secret)
        return "gitlab", lowered
    raise WebhookError(
        "unknown webhook: expected a GitHub (X-GitHub-Event) or GitLab (X-Gitlab-Event) request",
        status=400,
    )


def github_signature(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check_github_signature(header: str, body: bytes, secret: str) -> None:
    if not header:
        raise WebhookError("webhook refused: X-Hub-Signature-256 is missing", status=401)
    expected = github_signature(body, secret).encode()
    if not hmac.compare_digest(expected, header.strip().lower().encode(errors="replace")):
        raise WebhookError("webhook refused: X-Hub-Signature-256 does not match", status=401)


def _check_gitlab_token(token: str, secret: str) -> None:
    if not token:
        raise WebhookError("webhook refused: X-Gitlab-Token is missing", status=401)
    if not hmac.compare_digest(secret.encode(), token.encode(errors="replace")):
        raise WebhookError("webhook refused: X-Gitlab-Token does not match", status=401)


def load(body: bytes) -> dict[str, Any]:
    """The JSON object of an authentic request's body; 400 for anything else."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookError("malformed webhook: the body is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookError("malformed webhook: the body is not a JSON object", status=400)
    return payload
