"""Event Grid triggers, served where the Functions host serves them.

Event Grid delivers to ``POST /runtime/webhooks/eventgrid?functionName=<name>&code=<key>``: the
``code`` is the host's ``eventgrid_extension`` system key (checked by the host's gate, as Azure's
host checks it), so only a subscription created by someone holding that key can deliver. The
body is a JSON array of events (Event Grid schema), a single CloudEvent (structured mode) or an
array of them (batch). As in the Event Grid extension, the ``aeg-event-type`` header says what
the request is: ``SubscriptionValidation`` (answer ``{"validationResponse": <code>}``, run
nothing), ``Notification`` (run the function once per event; any failure answers 500 so Event
Grid retries the batch), ``Unsubscribe`` (202); anything else is a 400. CloudEvents' abuse
protection is an ``OPTIONS`` request with ``WebHook-Request-Origin``, answered with
``WebHook-Allowed-Origin``. A body nested deeper than ``MAX_DEPTH`` is a 400, as on the
Functions host, whose JSON reader (Json.NET) stops at 64 levels by default: what the functions
are handed is never deep enough to break code that recurses over it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._functions import FunctionIndex

__all__ = ["MAX_DEPTH", "PATH", "routes"]

PATH = "/runtime/webhooks/eventgrid"
MAX_DEPTH = 64
log = logging.getLogger("convergio.host.http")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _loads(raw: bytes | str) -> Any:
    """JSON, refused (``ValueError``) past ``MAX_DEPTH`` levels; the check is iterative."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError("nested too deeply")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return value


def _validation_code(body: Any) -> str | None:
    """The code of a validation event: Event Grid schema (an array) or a CloudEvent (``data``
    may arrive JSON-encoded a second time)."""
    event = body[0] if isinstance(body, list) and body else body
    data = event.get("data") if isinstance(event, dict) else None
    if isinstance(data, str):
        try:
            data = _loads(data)
        except ValueError:
            return None
    code = data.get("validationCode") if isinstance(data, dict) else None
    return str(code) if code is not None else None


def routes(index: FunctionIndex) -> list[Route]:
    async def receive(request: Request) -> Response:
        if request.method == "OPTIONS":
            origin = request.headers.get("webhook-request-origin")
            if not origin:
                return _error(400, "bad_request", "WebHook-Request-Origin is required")
            return Response(
                status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"}
            )
        name = request.query_params.get("functionName", "")
        if name not in index.event_grid:
            return _error(404, "not_found", f"no Event Grid function {name!r}")
        kind = request.headers.get("aeg-event-type", "").lower()
        if kind == "unsubscribe":
            return Response(status_code=202)
        if kind not in ("subscriptionvalidation", "notification"):
            return _error(400, "bad_request", "aeg-event-type must be SubscriptionValidation or Notification")
        try:
            body = _loads(await request.body())
        except ValueError:
            return _error(400, "invalid_json", f"body is not JSON, or nests deeper than {MAX_DEPTH} levels")
        if kind == "subscriptionvalidation":
            code = _validation_code(body)
            if code is None:
                return _error(400, "bad_request", "no validationCode in the validation event")
            log.info("Event Grid subscription validated for %s", name)
            return JSONResponse({"validationResponse": code})
        events = body if isinstance(body, list) else [body]
        if not all(isinstance(event, dict) for event in events):
            return _error(400, "bad_request", "events must be JSON objects")
        for event in events:
            try:
                await asyncio.to_thread(index.call_event_grid, name, json.dumps(event))
            except Exception:
                log.exception("Event Grid function %s failed", name)
                return _error(500, "internal_error", "failed")
        return Response(status_code=200)

    return [Route(PATH, receive, methods=["POST", "OPTIONS"])]
