"""Request and response bodies of the webhook routes (hooks in, callbacks out, deliveries)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from convergio.webhooks import RunEvent

from ._models import ApiModel

__all__ = [
    "AttemptView",
    "CallbackCreated",
    "CallbackIn",
    "CallbackList",
    "CallbackView",
    "DeliveryList",
    "DeliveryView",
    "HookCreated",
    "HookIn",
    "HookList",
    "HookView",
    "OPENAPI_MODELS",
    "openapi_paths",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class HookIn(ApiModel):
    """A hook for a named graph: it starts runs, or with ``event`` raises that event into one."""

    model_config = ConfigDict(extra="forbid")
    graph_ref: str = Field(pattern=_NAME, description="a graph from GET /api/v1/graphs")
    event: str | None = Field(
        default=None,
        pattern=_NAME,
        description="raise this event into a waiting run (POST /hooks/{id}/runs/{run_id}) instead",
    )


class HookView(ApiModel):
    id: str
    graph_ref: str
    event: str | None = None
    url: str
    created_at: str


class HookCreated(HookView):
    secret: str = Field(description="the signing secret; shown this once only")


class HookList(ApiModel):
    hooks: list[HookView]


class CallbackIn(ApiModel):
    """Where to POST run events, and which ones."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2048)
    events: list[RunEvent] = Field(min_length=1, max_length=3)


class CallbackView(ApiModel):
    id: str
    url: str
    events: list[str]
    created_at: str


class CallbackCreated(CallbackView):
    secret: str = Field(description="the signing secret of deliveries; shown this once only")


class CallbackList(ApiModel):
    callbacks: list[CallbackView]


class AttemptView(ApiModel):
    attempt: int
    at: str
    status_code: int | None = None
    error: str | None = None


class DeliveryView(ApiModel):
    id: str
    run_id: str
    event: str
    status: str = Field(description="pending, delivered or failed")
    created_at: str
    attempts: list[AttemptView]


class DeliveryList(ApiModel):
    deliveries: list[DeliveryView]


OPENAPI_MODELS: list[type[BaseModel]] = [
    HookIn,
    HookCreated,
    HookList,
    CallbackIn,
    CallbackCreated,
    CallbackList,
    DeliveryList,
]


def openapi_paths(
    body: Callable[[str], dict[str, Any]], errors: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """The webhook and stream routes of the OpenAPI document (``body``/``errors`` build its parts)."""
    hook_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
    signed = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
        for name in ("X-Convergio-Timestamp", "X-Convergio-Signature", "X-Convergio-Delivery")
    ]
    inbound: dict[str, Any] = {"content": {"application/json": {"schema": {}}}}
    started = {"202": {"description": "started", **body("RunCreated")}, "200": {"description": "a replay"}}
    return {
        "/api/v1/hooks": {
            "post": {
                "summary": "Create an inbound hook for a named graph (its secret is shown once)",
                "requestBody": {"required": True, **body("HookIn")},
                "responses": {"201": {"description": "created", **body("HookCreated")}} | errors(400, 401),
            },
            "get": {
                "summary": "This tenant's hooks",
                "responses": {"200": {"description": "hooks", **body("HookList")}} | errors(401),
            },
        },
        "/api/v1/hooks/{id}": {
            "post": {
                "summary": "A signed delivery: starts a run with the body as input (once per delivery id)",
                "security": [],
                "parameters": [hook_id, *signed],
                "requestBody": inbound,
                "responses": started | errors(400, 401, 404, 409, 413, 422),
            },
            "delete": {"summary": "Delete a hook", "parameters": [hook_id], "responses": errors(401, 404)},
        },
        "/api/v1/hooks/{id}/runs/{run_id}": {
            "post": {
                "summary": "A signed delivery: raises the hook's event into a waiting run",
                "security": [],
                "parameters": [hook_id, run_id, *signed],
                "requestBody": inbound,
                "responses": {"202": {"description": "accepted"}} | errors(401, 404, 409),
            }
        },
        "/api/v1/callbacks": {
            "post": {
                "summary": "Register a URL for run events (completed, failed, waiting for input)",
                "requestBody": {"required": True, **body("CallbackIn")},
                "responses": {"201": {"description": "created", **body("CallbackCreated")}}
                | errors(400, 401),
            },
            "get": {
                "summary": "This tenant's callbacks",
                "responses": {"200": {"description": "callbacks", **body("CallbackList")}} | errors(401),
            },
        },
        "/api/v1/callbacks/{id}": {
            "delete": {"summary": "Delete a callback", "parameters": [hook_id], "responses": errors(401, 404)}
        },
        "/api/v1/callbacks/{id}/deliveries": {
            "get": {
                "summary": "A callback's deliveries, newest first, with each attempt's status code",
                "parameters": [hook_id],
                "responses": {"200": {"description": "deliveries", **body("DeliveryList")}}
                | errors(401, 404),
            }
        },
        "/api/v1/runs/{id}/stream": {
            "get": {
                "summary": "Server-Sent Events: node changes, streamed agent text, then the run's end",
                "parameters": [
                    hook_id,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {"200": {"description": "an event stream", "content": {"text/event-stream": {}}}}
                | errors(400, 401, 404),
            }
        },
    }
