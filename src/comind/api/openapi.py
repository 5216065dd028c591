"""The OpenAPI 3.1 document of the platform's JSON API, served at ``GET /api/v1/openapi.json``.

It is built from two lists kept beside each other: the operations
(:mod:`comind.api.openapi_ops`: path, method, parameters, who may call) and the bodies'
pydantic models (:mod:`comind.api.openapi_schemas`, and :mod:`comind.api.openapi_control` for
the control API the CLI calls), whose JSON Schemas (2020-12, the dialect OpenAPI 3.1 uses)
become ``components/schemas``. Roles go in the security
requirements, as OpenAPI 3.1 allows for non-OAuth schemes (``bearerToken: [operator]``),
and again as ``x-comind-role`` / ``x-comind-app-tokens`` for tools that ignore those.

The document is served open, like ``/healthz``: it describes the API's shape, carries no
data of the platform, and a client (or a code generator) needs it before it has a token.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from comind import __version__
from comind.api.openapi_cicd import CICD_OPS
from comind.api.openapi_governance import GOVERNANCE_OPS
from comind.api.openapi_ops import OPS as PLATFORM_OPS
from comind.api.openapi_ops import Op, Param, Text
from comind.api.openapi_schemas import Problem

PATH = "/api/v1/openapi.json"
OPS = PLATFORM_OPS + GOVERNANCE_OPS + CICD_OPS
REQUESTS = list(dict.fromkeys(op.body for op in OPS if op.body is not None))
DESCRIPTION = """\
The REST API of a Comind-Ops platform: status, queues and dead letters, flows, backups,
metrics history, alerts, GitOps (apps, resources, syncs), tokens and the audit log, the
stored logs, and the lineage graph. The GitOps operations are served when the platform
follows a Git repository.

**Tokens.** Send `Authorization: Bearer TOKEN`. Roles are ordered viewer < operator < admin;
each operation names the least role it needs in its security requirement. The state
directory holds a built-in admin and viewer token; `comind token create` makes others,
optionally limited to one app (`x-comind-app-tokens` says how such a token is treated:
`filtered` answers show its app's part, `own` needs its own app in the path or body,
`refused` is a view or change of the whole platform). Reads also accept a signed-in
dashboard session cookie. Every change is written to the audit log, refused or not.

**Errors** are JSON `Problem`s (`{"error": "..."}`) with a status saying why: 400 a bad
request, 401 no valid token, 403 a role too low or another app, 404 not found, 409 a
conflict with the platform's state.

**Not described here:** the dashboard's HTML pages and forms, and the SQS-compatible
(`POST /`) and S3-compatible endpoints: those speak AWS's own APIs, signed with SigV4 by the
per-app credentials (`comind app env APP`)."""
SCHEMES: dict[str, Any] = {
    "bearerToken": {"type": "http", "scheme": "bearer",
                    "description": "A platform token; the requirement lists the least role."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "comind_session",
                      "description": "A signed-in dashboard session (reads only)."},
    "ingestToken": {"type": "http", "scheme": "bearer",
                    "description": "A flow's own ingest token (`comind flow token NAME`)."},
    "githubSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256",
                        "description": "GitHub's HMAC-SHA256 of the body with the webhook "
                                       "secret."},
    "gitlabToken": {"type": "apiKey", "in": "header", "name": "X-Gitlab-Token",
                    "description": "GitLab's secret token: the webhook secret."},
}  # fmt: skip
TAGS = ["status", "queues", "flows", "privacy", "quality", "backups", "buckets", "keys", "metrics",
        "gitops", "ci", "access", "logs", "lineage"]  # fmt: skip
APP_TOKENS = {
    "filtered": "A token limited to one app sees that app's part.",
    "own": "A token limited to one app may do this for its own app only.",
    "refused": "Tokens limited to one app are refused (this concerns the whole platform).",
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy: callers may change it)."""
    return json.loads(_rendered())  # type: ignore[no-any-return]


async def serve(request: Request) -> Response:
    """``GET /api/v1/openapi.json``: the document, rendered once per process."""
    return Response(_rendered(), media_type="application/json")


@cache
def _rendered() -> bytes:
    schemas, refs = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    doc = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "Comind-Ops API", "version": __version__, "description": DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "tags": [{"name": t} for t in TAGS],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SCHEMES},
    }  # fmt: skip
    return json.dumps(doc, indent=1).encode()


def _schemas() -> tuple[dict[str, Any], dict[type[BaseModel], dict[str, str]]]:
    """``components/schemas`` and the ``$ref`` of each model: answers as serialized,
    request bodies as accepted."""
    answers = [m for op in OPS for m in op.ok.values() if not isinstance(m, Text)]
    found: list[type[BaseModel]] = [Problem, *answers, *REQUESTS]
    models = dict.fromkeys(found)  # once each, in order; the models they use come along
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if m in REQUESTS else "serialization") for m in models
    ]
    keys, top = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    return top["$defs"], {model: ref for (model, _), ref in keys.items()}  # type: ignore[misc]


def _operation(op: Op, refs: dict[type[BaseModel], dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": " ".join(filter(None, [op.description, _who(op)])),
        "security": _security(op),
    }
    if op.auth == "token":
        out["x-comind-role"], out["x-comind-app-tokens"] = op.role, op.apps
    if op.params:
        out["parameters"] = [_param(p) for p in op.params]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": refs[op.body]}}}  # fmt: skip
    if op.raw_body is not None:
        binary = {"schema": {"type": "string", "format": "binary"}}
        out["requestBody"] = {"required": True, "description": op.raw_body,
                              "content": {"application/octet-stream": binary}}  # fmt: skip
    out["responses"] = _responses(op, refs)
    return out


def _who(op: Op) -> str:
    """Who may call ``op``, in a sentence."""
    if op.auth == "none":
        return "No token needed."
    if op.auth == "ingest":
        return "Needs the flow's ingest token or an operator token."
    if op.auth == "webhook":
        return "Authenticated by the webhook secret (GitHub signature or GitLab token)."
    session = " (or a dashboard session)" if op.method == "GET" else ""
    article = "an" if op.role == "admin" else "a"
    return f"Needs {article} {op.role} token{session}. {APP_TOKENS[op.apps]}"


def _security(op: Op) -> list[dict[str, list[str]]]:
    if op.auth == "none":
        return []  # explicitly open
    if op.auth == "ingest":
        return [{"ingestToken": []}, {"bearerToken": ["operator"]}]
    if op.auth == "webhook":
        return [{"githubSignature": []}, {"gitlabToken": []}]
    role: list[str] = [op.role]
    reads = [{"sessionCookie": role}] if op.method == "GET" else []
    return [{"bearerToken": role}, *reads]


def _param(p: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": p.type}
    if p.type == "integer":
        schema["minimum"] = 1
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.default is not None:
        schema["default"] = p.default
    return {"name": p.name, "in": p.where, "required": p.where == "path" or p.required,
            "description": p.description, "schema": schema}  # fmt: skip


def _responses(op: Op, refs: dict[type[BaseModel], dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, body in sorted(op.ok.items()):
        if isinstance(body, Text):
            content = {body.media_type: {"schema": body.schema}}
            out[str(status)] = {"description": body.description, "content": content}
        else:
            content = {"application/json": {"schema": refs[body]}}
            out[str(status)] = {"description": op.summary, "content": content}
    errors = dict(op.errors)
    if op.auth in ("token", "ingest"):
        errors.setdefault(401, "no valid token")
        errors.setdefault(403, "the token's role is too low, or it is limited to another app")
    problem = {"application/json": {"schema": refs[Problem]}}
    for status, why in sorted(errors.items()):
        out[str(status)] = {"description": why, "content": problem}
    return out
