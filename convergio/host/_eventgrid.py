"""Event Grid triggers, served where the Functions host serves them.

Event Grid delivers to ``POST /runtime/webhooks/eventgrid?functionName=<name>``: a JSON array
of events (Event Grid schema), a single CloudEvent (structured mode) or an array of them
(batch). The host answers the two validation handshakes (Event Grid's
``SubscriptionValidation`` event, the CloudEvents ``OPTIONS`` abuse-protection request) and
runs the function once per event; any failure answers 500 so Event Grid retries the batch.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._functions import FunctionIndex

__all__ = ["PATH", "routes"]

PATH = "/runtime/webhooks/eventgrid"
log = logging.getLogger("convergio.host.http")


def routes(index: FunctionIndex) -> list[Route]:
    async def receive(request: Request) -> Response:
        if request.method == "OPTIONS":
            origin = request.headers.get("webhook-request-origin", "*")
            return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin})
        name = request.query_params.get("functionName", "")
        if name not in index.event_grid:
            message = f"no Event Grid function {name!r}"
            return JSONResponse({"error": {"code": "not_found", "message": message}}, status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": {"code": "invalid_json", "message": "body is not JSON"}}, 400)
        events = body if isinstance(body, list) else [body]
        if request.headers.get("aeg-event-type") == "SubscriptionValidation" and events:
            return JSONResponse({"validationResponse": events[0].get("data", {}).get("validationCode")})
        for event in events:
            try:
                await asyncio.to_thread(index.call_event_grid, name, json.dumps(event))
            except Exception:
                log.exception("Event Grid function %s failed", name)
                return JSONResponse({"error": {"code": "internal_error", "message": "failed"}}, 500)
        return Response(status_code=200)

    return [Route(PATH, receive, methods=["POST", "OPTIONS"])]
