"""The artifact registry over the API. ``POST /api/v1/artifacts/{name}/{version}`` (operator,
audited: the body is the artifact's bytes, ``?commit=&build=&oci=``; streamed to a private
temporary file while hashed, bounded), ``GET /api/v1/artifacts`` (viewer: versions, newest
first, with ``deployed``), ``GET /api/v1/artifacts/{name}/{version}`` (viewer: one version's
record) and ``GET /api/v1/artifacts/{name}/{version}/blob`` (operator: the bytes)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Call, Guard
from comind.api.openapi_schemas import Closed
from comind.api.tokens import forbidden
from comind.cicd.artifacts import DIGEST, ArtifactConflict, ArtifactRegistry, check
from comind.errors import ComindError, UsageError
from comind.governance.access import Principal

MAX_ARTIFACT = 1 << 30  # 1 GiB a version
MAX_LISTED = 1000
BLOCK = 1 << 20


class Artifact(Closed):
    name: str
    version: str
    digest: str = Field(description="sha256:<hex> of the bytes")
    size: int
    commit: str | None
    build: str | None
    oci_ref: str | None = Field(description="an OCI image by digest (cluster mode)")
    created_at: str
    deployed: bool | None = Field(default=None, description="built from a revision an "
                                  "environment runs now (kept by retention)")  # fmt: skip


class ArtifactList(Closed):
    artifacts: list[Artifact]


class ArtifactPushed(Closed):
    name: str
    version: str
    digest: str
    size: int
    stored: bool = Field(description="false: these bytes were held already (stored once)")


class ArtifactsApi:
    def __init__(self, registry: ArtifactRegistry, guard: Guard) -> None:
        self.registry, self.guard = registry, guard

    def routes(self) -> list[Route]:
        one = "/api/v1/artifacts/{name}/{version}"
        return [
            self.guard.route("/api/v1/artifacts", self._list),
            self.guard.route(one, self._get),
            Route(one, self._push, methods=["POST"]),
            Route(f"{one}/blob", self._blob, methods=["GET"]),
        ]

    def _list(self, call: Call) -> dict[str, Any]:
        limit = call.number("limit", 100, 1, MAX_LISTED)
        rows = self.registry.list(call.query.get("name") or None, limit)
        return ArtifactList(artifacts=[Artifact(**r.doc()) for r in rows]).model_dump()

    def _get(self, call: Call) -> dict[str, Any]:
        found = self.registry.get(call.params["name"], call.params["version"])
        if found is None:
            raise Problem(f"no artifact {call.params['name']}@{call.params['version']}", 404)
        return Artifact(**found.doc()).model_dump()

    async def _push(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        who, refused = await self._allowed(request, "artifact-push", f"{name}@{version}")
        if who is None:
            return refused
        params = request.query_params
        try:
            check(name, version, params.get("oci"))
            with tempfile.TemporaryFile() as spool:
                digest, size = await _spool(request, spool)
                pushed = await run_in_threadpool(
                    self.registry.push, name, version, digest, size, _blocks(spool),
                    commit=params.get("commit"), build=params.get("build"),
                    oci_ref=params.get("oci"))  # fmt: skip
        except ComindError as exc:
            await self._audit(who, f"{name}@{version}", "failed", {"error": str(exc)})
            return JSONResponse({"error": str(exc)}, _status(exc))
        detail = {"digest": pushed.digest, "stored": pushed.stored}
        await self._audit(who, f"{name}@{version}", "accepted", detail)
        doc = ArtifactPushed(**vars(pushed)).model_dump()
        return JSONResponse(doc, 201 if pushed.stored else 200)

    async def _blob(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        who, refused = await self._allowed(request, None, f"{name}@{version}")
        if who is None:
            return refused
        try:
            found, blocks = await run_in_threadpool(self.registry.open, name, version)
        except ComindError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        headers = {"Content-Length": str(found.size), "ETag": f'"{found.digest}"',
                   "Content-Disposition": f'attachment; filename="{name}-{version}"'}  # fmt: skip
        return StreamingResponse(blocks, media_type="application/octet-stream", headers=headers)

    async def _allowed(self, request: Request, action: str | None,
                       target: str) -> tuple[Principal | None, Response]:  # fmt: skip
        """The caller when an operator (or more), else the answer refusing it (audited when
        ``action`` is)."""
        who = await self.guard.tokens.principal(request)
        if who is None or not who.may("operator", None):
            if action is not None:
                await self._audit(who, target, "refused", None, action)
            if who is None:
                return None, JSONResponse({"error": "unauthorized: send a valid Bearer token"},
                                          401)  # fmt: skip
            return None, forbidden(who, "operator", " for every app")
        return who, Response()

    async def _audit(self, who: Principal | None, target: str, outcome: str,
                     detail: dict[str, Any] | None,
                     action: str = "artifact-push") -> None:  # fmt: skip
        await run_in_threadpool(self.guard.tokens.audit, who, action, target, outcome, detail)


def _status(exc: ComindError) -> int:
    if isinstance(exc, Problem):
        return exc.status
    if isinstance(exc, ArtifactConflict):
        return 409  # a version never changes
    return 400 if isinstance(exc, UsageError) else 409


async def _spool(request: Request, spool: IO[bytes]) -> tuple[str, int]:
    """The body written to ``spool`` (bounded), its ``sha256:`` digest and size."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_ARTIFACT):
        raise Problem(f"an artifact must be at most {MAX_ARTIFACT} bytes", 413)
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_ARTIFACT:
                raise Problem(f"an artifact must be at most {MAX_ARTIFACT} bytes", 413)
            digest.update(chunk)
            spool.write(chunk)
    except ClientDisconnect:
        raise Problem("the client went away before the artifact arrived", 400) from None
    spool.seek(0)
    found = f"sha256:{digest.hexdigest()}"
    assert DIGEST.fullmatch(found)
    return found, size


def _blocks(spool: IO[bytes]) -> Iterator[bytes]:
    while block := spool.read(BLOCK):
        yield block
