"""Shared plumbing of the ``/api/v1`` routes: the blueprint, JSON answers, body parsing, auth.

Every handler follows the same path: tenant from the request headers, body
through a pydantic model, then the domain call. Errors leave through one place
(``answer``) as ``{"error": {...}}``; an unknown error is a logged, opaque 500.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ValidationError

from convergio.errors import AppError, InvalidRequest, NotFound, PayloadTooLarge
from convergio.graph import path_of
from convergio.tenants import Tenant

from ._service import Service

__all__ = [
    "MAX_BODY_BYTES",
    "answer",
    "base_url",
    "blueprint",
    "int_param",
    "json_response",
    "owned_run",
    "read_body",
    "tenant_of",
]

MAX_BODY_BYTES = 1 << 20
_log = logging.getLogger("convergio.api")
blueprint = df.Blueprint()
Handler = Callable[[func.HttpRequest, df.DurableOrchestrationClient], Awaitable[func.HttpResponse]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body)
    return func.HttpResponse(text, status_code=status, mimetype="application/json", headers=headers)


def answer(handler: Callable[..., Awaitable[func.HttpResponse]]) -> Handler:
    """Turn errors into JSON answers; unknown ones become a logged, opaque 500."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        try:
            return await handler(req, client)
        except AppError as exc:
            return json_response(exc.body(), exc.status_code)
        except Exception:
            _log.error("unhandled error in %s", handler.__name__, exc_info=True)
            return json_response({"error": {"code": "internal", "message": "Internal Server Error"}}, 500)

    return wrapper


def read_body(req: func.HttpRequest, model: type[BaseModel] | None = None) -> Any:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        data = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from None
    if model is None:
        return data
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"path": path_of(e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        raise InvalidRequest(f"{details[0]['path']}: {details[0]['message']}", details=details) from None


def tenant_of(req: func.HttpRequest, svc: Service) -> Tenant:
    return svc.authenticate(dict(req.headers))


def owned_run(req: func.HttpRequest, svc: Service, tenant: Tenant) -> str:
    run_id = str(req.route_params.get("id", ""))
    if svc.store.owner_of(run_id) != tenant.id:
        raise NotFound(f"no run {run_id!r}")
    return run_id


def base_url(req: func.HttpRequest) -> str:
    scheme, _, rest = req.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/api/v1"


def int_param(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: must be between {low} and {high}")
    return value
