"""The ASGI surface of the embedded host: HTTP triggers, the Durable API, health."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _durable_api, _eventgrid
from ._engine import Engine

__all__ = ["build_asgi_app"]

log = logging.getLogger("convergio.host.http")


def _to_function_request(request: Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=dict(request.headers),
        params=dict(request.query_params),
        route_params=route_params,
        body=body,
    )


def _to_response(result: Any) -> Response:
    """Map what an HTTP function returned to a response, as the worker does.

    An ASGI response (a streamed one, say) passes through, as with the worker's HTTP streams.
    """
    if isinstance(result, Response):
        return result
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        media_type = headers.pop("Content-Type", None) or headers.pop("content-type", None)
        if media_type is None and result.mimetype:
            media_type = result.mimetype
            if result.charset and "charset" not in media_type:
                media_type += f"; charset={result.charset}"
        return Response(
            result.get_body(), status_code=result.status_code, headers=headers, media_type=media_type
        )
    if result is None:
        return Response(status_code=204)
    if isinstance(result, bytes | str):
        return Response(result, media_type="text/plain")
    return Response(json.dumps(result), media_type="application/json")


def build_asgi_app(engine: Engine, *, route_prefix: str, hub: str, base_url: Callable[[], str]) -> Starlette:
    index = engine.index
    index.client_binding = lambda: _durable_api.client_binding(base_url(), hub)
    prefix = f"/{route_prefix.strip('/')}" if route_prefix.strip("/") else ""

    def advertised(_: Request) -> str:
        return base_url()

    async def http_trigger(request: Request) -> Response:
        path = request.url.path[len(prefix) :].strip("/")
        found = index.route(path, request.method)
        if found is None:
            if index.allowed_methods(path):
                return JSONResponse(
                    {
                        "error": {
                            "code": "method_not_allowed",
                            "message": f"{request.method} is not allowed here",
                        }
                    },
                    status_code=405,
                )
            return JSONResponse(
                {"error": {"code": "not_found", "message": f"No function serves /{path}"}}, status_code=404
            )
        route, params = found
        body = await request.body()
        client = _durable_api.client_binding(base_url(), hub) if route.client_params else ""
        try:
            result = await index.call_http(route, _to_function_request(request, body, params), client)
        except Exception:
            log.exception("HTTP function %s failed", route.name)
            return JSONResponse(
                {"error": {"code": "internal_error", "message": "Internal Server Error"}}, status_code=500
            )
        return _to_response(result)

    async def host_status(_: Request) -> Response:
        return JSONResponse(
            {
                "state": "Running",
                "functions": sorted([*(r.name for r in index.http), *index.orchestrators, *index.activities]),
            }
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        import asyncio

        index.loop = asyncio.get_running_loop()
        engine.start()
        try:
            yield
        finally:
            engine.stop()
            # The durable client keeps one aiohttp session per process for its calls back
            # to the Durable API; close it on this loop before the loop goes away.
            from azure.durable_functions.models.utils import http_utils

            await http_utils._close_session()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    routes = [
        Route("/admin/host/status", host_status, methods=["GET"]),
        *_durable_api.routes(engine, advertised, hub),
        *_eventgrid.routes(index),
        Route(f"{prefix}/{{path:path}}" if prefix else "/{path:path}", http_trigger, methods=methods),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
