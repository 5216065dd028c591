"""The SQS-compatible endpoint: the AWS JSON protocol (current boto3 and aws-cli) and the
query protocol (older SDKs), plus STS ``GetCallerIdentity`` (:mod:`comind.api.sqs_sts`).

Each request is authenticated with SigV4 against the per-app credentials; the access
key decides which app the request acts for. A long poll is awaited without a worker
thread or a pooled connection, at most ``LongPolls.per_app`` at once per app
(:mod:`comind.api.sqs_polls`). Errors carry SQS's shape name in
``__type`` and the query-compatible code in ``x-amzn-query-error``, which botocore
turns into the same exception classes it raises against AWS.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from comind.api import sqs_query, sqs_sts
from comind.api.auth import signing_app
from comind.api.errors import Problem
from comind.api.limits import read_bounded
from comind.api.sigv4 import AuthError
from comind.api.sqs_actions import SqsActions
from comind.api.sqs_call import Call
from comind.api.sqs_polls import LongPolls, Waiting
from comind.apps.credentials import Credentials
from comind.observe.metrics import SQS_REQUESTS
from comind.queue.errors import InvalidParameterValue, QueueError

log = logging.getLogger("comind.sqs")
JSON_TYPE = "application/x-amz-json-1.0"
XML_TYPE = "text/xml"
TARGET_PREFIX = "AmazonSQS."


# a batch of ten 256 KiB messages, form-encoded by the query protocol, fits with room to spare
MAX_SQS_BYTES = 4 * 1024 * 1024


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (its request was read whole)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class SqsEndpoint:
    """POST handler speaking SQS's JSON and query protocols."""

    def __init__(self, actions: SqsActions, credentials: Credentials, endpoint_url: str) -> None:
        self.actions, self.credentials, self.endpoint_url = actions, credentials, endpoint_url
        self.polls = LongPolls(actions.queues)

    async def handle(self, request: Request) -> Response:
        """Serve one request in the JSON protocol (X-Amz-Target) or the query protocol."""
        target = request.headers.get("x-amz-target", "")
        json_protocol = bool(target)
        began = time.perf_counter()
        action = target.removeprefix(TARGET_PREFIX)
        request_id = str(uuid.uuid4())
        try:
            # bounded before the signature is checked (SigV4 covers the body's hash)
            body = await read_bounded(request, MAX_SQS_BYTES)
            action, result = await run_in_threadpool(self._serve, request, body, action)
            if isinstance(result, Waiting):  # awaited here: no thread, no connection held
                result = await self.polls.answer(result, gone=lambda: _disconnected(request))
        except Problem as exc:
            error = ("RequestEntityTooLarge" if exc.status == 413 else "InvalidRequest",
                     "InvalidRequest", str(exc), exc.status, True)  # fmt: skip
        except AuthError as exc:
            error = (exc.code, exc.code, exc.message, exc.status, True)
        except QueueError as exc:
            error = (type(exc).__name__, exc.code, exc.message, exc.status, exc.sender_fault)
        else:
            SQS_REQUESTS.labels(action or "unknown", "ok").observe(time.perf_counter() - began)
            headers = {"x-amzn-RequestId": request_id}
            if json_protocol:
                return JSONResponse(result, media_type=JSON_TYPE, headers=headers)
            if action == sqs_sts.ACTION:
                auth = request.headers.get("authorization", "")
                identity = sqs_sts.caller_identity(result["app"], auth, request_id)
                return Response(identity, media_type=XML_TYPE, headers=headers)
            return Response(
                sqs_query.render(action, result, request_id), media_type=XML_TYPE, headers=headers
            )
        SQS_REQUESTS.labels(action or "unknown", "error").observe(time.perf_counter() - began)
        return _error_response(json_protocol, request_id, *error)

    def _serve(
        self, request: Request, body: bytes, action: str
    ) -> tuple[str, dict[str, Any] | Waiting]:
        """Authenticate, parse and run, in one worker thread (one hop per request)."""
        app = signing_app(request, body, self.credentials)
        if request.headers.get("x-amz-target"):
            params = _params(body)
        else:
            action, params = sqs_query.parse(body, request.url.query)
            if action == sqs_sts.ACTION:
                return action, {"app": app}
            if "QueueUrl" not in params and request.url.path.count("/") == 2:
                params["QueueUrl"] = self.endpoint_url + request.url.path
        call = Call(app=app, params=params, endpoint=self.endpoint_url)
        return action, self.actions.run(action, call)


def _error_response(
    json_protocol: bool,
    request_id: str,
    shape: str,
    code: str,
    message: str,
    status: int,
    sender: bool,
) -> Response:
    if not json_protocol:
        body = sqs_query.render_error(code, message, sender, request_id)
        return Response(
            body, status_code=status, media_type=XML_TYPE, headers={"x-amzn-RequestId": request_id}
        )
    fault = "Sender" if sender else "Receiver"
    return JSONResponse(
        {"__type": f"com.amazonaws.sqs#{shape}", "message": message},
        status_code=status,
        media_type=JSON_TYPE,
        headers={"x-amzn-query-error": f"{code};{fault}", "x-amzn-RequestId": request_id},
    )


def _params(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidParameterValue("The request body is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise InvalidParameterValue("The request body must be a JSON object.")
    return doc
