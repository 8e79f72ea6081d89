"""Durable entities and durable HTTP: not run by the embedded host yet, and saying so (ADR 0021).

An app may declare entity functions, and the host still starts (they are listed as not run). What
would use them fails with one clear sentence instead of a symptom:

* ``call_entity`` / ``signal_entity`` / ``call_http`` in an orchestrator fail the instance (the
  action shim raises with these texts);
* the client's ``signal_entity`` / ``read_entity_state`` reach the Durable API's ``entities/``
  routes, which answer ``501`` with the sentence as the error body and log it. The SDK turns any
  status it does not expect into ``The operation failed with an unexpected status code 501``;
  without these routes it met a plain-text 404 and raised a bare ``JSONDecodeError``, and
  ``read_entity_state`` must not answer 404 either: that means "no such entity" to the SDK.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._shim import ENTITIES_UNSUPPORTED

__all__ = ["ENTITIES_UNSUPPORTED", "routes"]

log = logging.getLogger("convergio.host.entities")


def routes(base: str) -> list[Route]:
    """The Durable API's entity endpoints under ``base``: all answer 501 with the reason."""

    async def entities(request: Request) -> Response:
        name = request.path_params.get("name", "")
        key = request.path_params.get("key")
        target = f"{name}@{key}" if key is not None else name
        verb = "signal" if request.method == "POST" else "read"
        message = f"Cannot {verb} entity '{target}': {ENTITIES_UNSUPPORTED}."
        log.warning("%s", message)
        return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=501)

    methods = ["GET", "POST", "DELETE"]
    return [
        Route(f"{base}/entities", entities, methods=methods),
        Route(f"{base}/entities/{{name}}", entities, methods=methods),
        Route(f"{base}/entities/{{name}}/{{key}}", entities, methods=methods),
    ]
