"""Calling a running platform's REST API from the CLI: the one control path.

Locally, with the tokens of the state directory; remotely, with ``--server URL --token T``
(or ``COMIND_SERVER`` / ``COMIND_TOKEN``), verifying HTTPS as any site or against
``--ca-cert``. While an engine heals (PostgreSQL restarted by the supervisor in about a
second) the API answers 503 at once; this client retries a read that got one, and any call
whose connection was refused (it never arrived), with backoff for at most ``RETRY_SECONDS``,
then says in one line what is unavailable. A change that got a 503 is not sent again: part of
it may have been done, so the line says to check before running it again.
Every other answer is final: a refusal names the role needed and the role given.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer

from comind.cli.connect import globals_of, home_of
from comind.errors import ComindError, UsageError
from comind.platform.local import api_verify, running_state

RETRY_SECONDS = 12.0
TIMEOUT = httpx.Timeout(120.0, connect=5.0)
ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: str = field(repr=False)
    verify: ssl.SSLContext | bool


class Retry(Exception):
    """An answer worth asking again for: the API or an engine behind it is not up yet."""


def endpoint(ctx: typer.Context, *, admin: bool = False) -> Endpoint:
    """Where the API is and which token to send: the global options, else the state dir's."""
    opts = globals_of(ctx)
    if opts.server:
        if not opts.token:
            raise UsageError("--server needs a token: pass --token T or set COMIND_TOKEN")
        return Endpoint(opts.server.rstrip("/"), opts.token, _verify(opts.ca_cert))
    home = home_of(ctx)
    state = running_state(home)
    if state.api_url is None:
        raise ComindError("the platform is starting; its API is not up yet (try again shortly)")
    token = opts.token or home.secret("api-admin-token" if admin else "api-viewer-token")
    verify = _verify(opts.ca_cert) if opts.ca_cert else api_verify(state)
    return Endpoint(state.api_url, token, verify)


def remote(ctx: typer.Context) -> bool:
    """Whether the command is aimed at a platform elsewhere (``--server``)."""
    return bool(globals_of(ctx).server)


def call(
    ctx: typer.Context,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    admin: bool = False,
    timeout: float = 120.0,
) -> Any:
    """The JSON answer of ``method path`` (waiting up to ``timeout`` seconds for it: long
    work such as a backup answers when done); an API error becomes a one-line ComindError."""
    target = endpoint(ctx, admin=admin)
    limit = httpx.Timeout(timeout, connect=5.0)
    return retrying(lambda: _answer(target, method, path, body, params, limit),
                    f"{method} {path}")  # fmt: skip


def retrying(
    attempt: Callable[[], Any],
    what: str,
    *,
    budget: float = RETRY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``attempt()``, asked again with backoff while it raises :class:`Retry`, for at most
    ``budget`` seconds; then its last reason, as one line about ``what``."""
    deadline = clock() + budget
    delay = 0.2
    while True:
        try:
            return attempt()
        except Retry as exc:
            if clock() + delay > deadline:
                raise ComindError(f"{what}: {exc}") from None
        sleep(delay)  # backoff while the engine or the API comes back
        delay = min(delay * 2, 2.0)


def _answer(
    target: Endpoint,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, Any] | None,
    timeout: httpx.Timeout = TIMEOUT,
) -> Any:
    url = f"{target.url}{path}"
    headers = {"Authorization": f"Bearer {target.token}"}
    try:
        resp = httpx.request(method, url, json=body, params=params, timeout=timeout,
                             headers=headers, verify=target.verify)  # fmt: skip
    except httpx.ConnectError as exc:
        if _tls_failure(exc):
            raise ComindError(f"cannot verify the certificate of {target.url}: {exc} (for a "
                              "private CA, pass --ca-cert FILE)") from None  # fmt: skip
        raise Retry(f"the platform's API at {target.url} does not answer ({exc})") from None
    except httpx.HTTPError as exc:
        raise ComindError(f"the platform's API at {target.url} did not answer: {exc}") from None
    if resp.status_code == 503 and method == "GET":
        raise Retry(_message(resp))
    if resp.status_code == 503:  # a change may have been made before the engine went away:
        raise ComindError(f"{method} {path}: {_message(resp)}; not retried (it changes "
                          "something): check its effect, then run it again")  # fmt: skip
    if resp.status_code >= 400:
        raise _refusal(method, path, resp)
    return resp.json()


def _refusal(method: str, path: str, resp: httpx.Response) -> ComindError:
    """One line for a refused or failed request; input errors exit 2."""
    message = _message(resp)
    if resp.status_code == 401:
        return ComindError(f"{method} {path}: the token was refused (unknown, expired or revoked)")
    if resp.status_code == 403:
        return ComindError(f"{method} {path}: {_forbidden(resp) or message}")
    if resp.status_code in (400, 404, 413):
        return UsageError(message)
    return ComindError(f"{method} {path}: {message}")


def _forbidden(resp: httpx.Response) -> str | None:
    """'this needs an operator token; the token given is a viewer' from a 403's fields."""
    doc = _json(resp)
    needs, held, app = doc.get("needs"), doc.get("role"), doc.get("app")
    if needs not in ROLES or held not in ROLES:
        return None
    if ROLES.index(held) < ROLES.index(needs):
        return f"this needs {_a(needs)} token; the token given is {_a(held)}"
    return f"the token given is limited to app {app}" if app else None


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _message(resp: httpx.Response) -> str:
    found = _json(resp).get("error")
    return str(found) if found else (resp.text.strip().splitlines() or ["no answer"])[0][:200]


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        doc = resp.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _tls_failure(exc: httpx.ConnectError) -> bool:
    return "CERTIFICATE" in str(exc).upper() or "SSL" in str(exc).upper()


def _verify(ca_cert: Any) -> ssl.SSLContext | bool:
    """Verify as any HTTPS site, or against the private CA in ``ca_cert``."""
    if ca_cert is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_cert))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-cert {ca_cert}: not a readable PEM CA file ({exc})") from None


def upload(ctx: typer.Context, path: str, file: Path, params: dict[str, Any]) -> Any:
    """POST ``file``'s bytes (streamed) to ``path``; the JSON answer."""
    target = endpoint(ctx, admin=True)  # locally the admin token; remotely the one given
    headers = {"Authorization": f"Bearer {target.token}",
               "Content-Length": str(file.stat().st_size)}  # fmt: skip
    with file.open("rb") as handle:
        try:
            blocks = iter(lambda: handle.read(1 << 20), b"")
            resp = httpx.post(f"{target.url}{path}", content=blocks, params=params,
                              headers=headers, verify=target.verify,
                              timeout=httpx.Timeout(600.0, connect=5.0))  # fmt: skip
        except httpx.HTTPError as exc:
            raise ComindError(f"POST {path}: the platform's API did not answer: {exc}") from None
    if resp.status_code >= 400:
        raise _refusal("POST", path, resp)
    return resp.json()


def download(ctx: typer.Context, path: str, out: Path) -> int:
    """GET ``path``'s bytes into ``out`` (written whole or not at all); how many."""
    target = endpoint(ctx, admin=True)
    headers = {"Authorization": f"Bearer {target.token}"}
    partial = out.with_name(f".{out.name}.part")
    try:
        with httpx.stream("GET", f"{target.url}{path}", headers=headers, verify=target.verify,
                          timeout=httpx.Timeout(600.0, connect=5.0)) as resp:  # fmt: skip
            if resp.status_code >= 400:
                resp.read()
                raise _refusal("GET", path, resp)
            with partial.open("wb") as handle:
                for block in resp.iter_bytes():
                    handle.write(block)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise ComindError(f"GET {path}: the platform's API did not answer: {exc}") from None
    partial.replace(out)
    return out.stat().st_size
