"""The OpenAPI 3.1 document of ``/api/v1``, generated from the pydantic models."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from convergio.graph import GraphSpec

from . import _hook_models as h
from . import _models as m
from . import _openapi_more as more
from . import _openapi_people as people
from . import _openapi_runs as runs
from . import _people_models as people_models
from . import _plugin_models as pm
from . import _usage_graphs as usage_graphs

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


def _body(model: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF.format(model=model)}}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "error", **_body("ErrorBody")} for code in codes}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """Paths by hand (they are few), schemas from the models (so they cannot drift)."""
    models: list[type[BaseModel]] = [
        m.RunRequest,
        m.RunCreated,
        m.RunView,
        m.RunList,
        m.GraphList,
        m.ErrorBody,
        m.BudgetView,
        m.ConsentIn,
    ]
    models.append(GraphSpec)
    models += h.OPENAPI_MODELS
    models += pm.OPENAPI_MODELS
    models += more.OPENAPI_MODELS
    models += people_models.OPENAPI_MODELS
    models += runs.OPENAPI_MODELS
    _, schemas = models_json_schema([(model, "validation") for model in models], ref_template=_REF)
    run_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    ok = {"200": {"description": "ok"}}
    paths = {
        "/api/v1/runs": {
            "post": {
                "summary": "Start a run of an inline graph or a named one",
                "requestBody": {"required": True, **_body("RunRequest")},
                "responses": {"202": {"description": "started", **_body("RunCreated")}}
                | _errors(400, 401, 413, 422),
            },
            "get": {
                "summary": "This tenant's runs, newest first",
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (
                        ("limit", "integer"),
                        ("cursor", "string"),  # next_cursor of the previous page
                        ("offset", "integer"),  # deprecated: cursor
                        ("status", "string"),
                        ("waiting", "boolean"),  # true: runs that wait for human input
                    )
                ],
                "responses": {"200": {"description": "runs", **_body("RunList")}} | _errors(400, 401),
            },
        },
        "/api/v1/runs/{id}": {
            "get": {
                "summary": "A run: status, per-node progress, usage and output (with a strong ETag)",
                "parameters": [
                    run_id,
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the run", **_body("RunView")},
                    "304": {"description": "not modified: the If-None-Match tag is the run's ETag"},
                }
                | _errors(401, 404),
            },
            "delete": {
                "summary": "Purge a finished run",
                "parameters": [run_id],
                "responses": ok | _errors(404, 409),
            },
        },
        "/api/v1/runs/{id}/cancel": {
            "post": {
                "summary": "Cancel a run",
                "parameters": [run_id],
                "requestBody": {"required": False, **_body("CancelIn")},
                "responses": ok | _errors(400, 401, 404, 409),
            }
        },
        "/api/v1/runs/{id}/events/{name}": {
            "post": {
                "summary": "Send human input to an agent that awaits it",
                "parameters": [
                    run_id,
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"202": {"description": "accepted"}} | _errors(400, 401, 404, 409),
            }
        },
        "/api/v1/tenants/me/budget": {
            "get": {
                "summary": "This month's limits, spending, managed-key consent and recent quota events",
                "responses": {"200": {"description": "the budget", **_body("BudgetView")}} | _errors(401),
            },
            "put": {
                "summary": "Set the monthly limits and managed-key access (admins)",
                "requestBody": {"required": True, **_body("BudgetIn")},
                "responses": {"200": {"description": "the budget", **_body("BudgetView")}}
                | _errors(400, 403),
            },
        },
        "/api/v1/tenants/me/overage-consent": {
            "post": {
                "summary": "Consent to managed-key spending over the monthly cap, up to an amount",
                "requestBody": {"required": True, **_body("ConsentIn")},
                "responses": {"201": {"description": "recorded"}} | _errors(400, 401, 409),
            }
        },
        "/api/v1/graphs": {
            "get": {
                "summary": "The named graphs shipped with the app",
                "responses": {"200": {"description": "graphs", **_body("GraphList")}} | _errors(401),
            }
        },
        "/api/v1/graphs/{name}": {
            "get": {
                "summary": "One named graph's spec",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "the spec", **_body("GraphSpec")}} | _errors(401, 404),
            }
        },
    }
    paths |= h.openapi_paths(_body, _errors)
    paths |= pm.openapi_paths(_body, _errors)
    paths |= more.openapi_paths(_body, _errors)
    paths |= people.openapi_paths(_body, _errors)
    paths |= runs.openapi_paths(_body, _errors)
    paths |= usage_graphs.openapi_paths(_body, _errors)
    more.declare_errors(paths, _errors)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Convergio Core API", "version": "1.0.0"},
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
        "security": [{"apiKey": []}],
        "paths": paths,
    }
