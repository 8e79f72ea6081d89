"""The OpenAPI paths of a run's on-demand reads and its retry (graph, outputs, retry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from . import _models as m

__all__ = ["OPENAPI_MODELS", "openapi_paths"]

OPENAPI_MODELS: list[type[BaseModel]] = [m.RetryIn, m.CancelIn]

_RUN_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}


Body = Callable[[str], dict[str, Any]]
Errors = Callable[..., dict[str, Any]]


def openapi_paths(body: Body, errors: Errors) -> dict[str, Any]:
    nodes = {
        "name": "nodes",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "agent ids, separated by commas (1 to 50); all agents when absent",
    }
    return {
        "/api/v1/runs/{id}/graph": {
            "get": {
                "summary": "The graph the run executes (inline graphs included)",
                "parameters": [_RUN_ID],
                "responses": {"200": {"description": "the spec", **body("GraphSpec")}} | errors(401, 404),
            }
        },
        "/api/v1/runs/{id}/outputs": {
            "get": {
                "summary": "What finished agents wrote, read from the run's history",
                "parameters": [_RUN_ID, nodes],
                "responses": {"200": {"description": "node id -> output", **_OBJECT}} | errors(400, 401, 404),
            }
        },
        "/api/v1/runs/{id}/agents/{node}": {
            "get": {
                "summary": "One agent's calls: provider, model, usage, what was billed, errors",
                "parameters": [
                    _RUN_ID,
                    {"name": "node", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "prompt",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                        "description": "each call's prompt and the run's input (may carry students' data)",
                    },
                ],
                "responses": {"200": {"description": "the agent's calls", **_OBJECT}} | errors(400, 401, 404),
            }
        },
        "/api/v1/runs/{id}/retry": {
            "post": {
                "summary": "A new run of a finished one: keep the finished agents (failed) or redo all",
                "parameters": [_RUN_ID],
                "requestBody": {"required": False, **body("RetryIn")},
                "responses": {"202": {"description": "started", **body("RunCreated")}}
                | errors(400, 401, 403, 404, 409),
            }
        },
    }
