"""Calling the running platform's REST API from the CLI, with the tokens of its state dir."""

from __future__ import annotations

from typing import Any

import httpx
import typer

from comind.cli.connect import api_verify, home_of, running_state
from comind.errors import ComindError, UsageError


def call(
    ctx: typer.Context,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    admin: bool = False,
    timeout: float = 120,
) -> Any:
    """The JSON answer of ``method path``; an API error becomes a one-line ComindError."""
    home = home_of(ctx)
    state = running_state(home)
    if "api_url" not in state:
        raise ComindError("the platform is starting; its API is not up yet (try again shortly)")
    token = home.secret("api-admin-token" if admin else "api-viewer-token")
    try:
        resp = httpx.request(
            method, f"{state['api_url']}{path}", json=body, params=params, timeout=timeout,
            headers={"Authorization": f"Bearer {token}"}, verify=api_verify(state),
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise ComindError(f"the platform's API did not answer: {exc}") from None
    if resp.status_code >= 400:
        try:
            message = resp.json().get("error", resp.text)
        except ValueError:
            message = resp.text
        # the request was wrong (exit 2) rather than refused or failed (exit 1)
        wrong = resp.status_code in (400, 404)
        raise (UsageError if wrong else ComindError)(f"{method} {path}: {message}")
    return resp.json()
