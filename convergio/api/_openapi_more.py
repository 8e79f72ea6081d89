"""The rest of the OpenAPI document: tenant settings, usage, the MCP and A2A endpoints, and errors.

Every route the app serves is in the document (a client generator, or a fuzzer, sees all of
it), and every operation declares the errors the shared plumbing can answer: 401 (a key is
needed), 400/413/415 (a body or a parameter is checked), 400/404 (a path names something), so
"an undocumented status code" is a bug, not a matter of taste.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from . import _models as m
from ._mcp_servers import McpServerIn, McpServerList, McpServerView
from ._retention import OPENAPI_MODELS as RETENTION_MODELS
from ._retention import openapi_paths as retention_paths

__all__ = ["OPENAPI_MODELS", "declare_errors", "openapi_paths"]

OPENAPI_MODELS: list[type[BaseModel]] = [
    m.ConnectionIn,
    m.ConnectionView,
    m.ConnectionList,
    McpServerIn,
    McpServerView,
    McpServerList,
    *RETENTION_MODELS,
]
_METHODS = ("get", "put", "post", "delete", "patch")

Body = Callable[[str], dict[str, Any]]
Errors = Callable[..., dict[str, Any]]


def _param(name: str, where: str = "path", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string", **schema}}


def openapi_paths(body: Body, errors: Errors) -> dict[str, Any]:
    """Connections, MCP servers, usage, ``/api/mcp`` and ``/api/a2a``."""
    name = _param("name", pattern="^[a-z0-9][a-z0-9-]{0,62}$")
    deleted = {"responses": {"200": {"description": "deleted"}}}
    rpc: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    return retention_paths(body, errors) | {
        "/api/v1/tenants/me/connections": {
            "get": {
                "summary": "This tenant's provider connections (key fingerprints only)",
                "responses": {"200": {"description": "connections", **body("ConnectionList")}},
            }
        },
        "/api/v1/tenants/me/connections/{name}": {
            "put": {
                "summary": "Create or replace a provider connection (the key is write-only)",
                "parameters": [name],
                "requestBody": {"required": True, **body("ConnectionIn")},
                "responses": {
                    "200": {"description": "replaced", **body("ConnectionView")},
                    "201": {"description": "created", **body("ConnectionView")},
                },
            },
            "get": {
                "summary": "One provider connection",
                "parameters": [name],
                "responses": {"200": {"description": "the connection", **body("ConnectionView")}},
            },
            "delete": {
                "summary": "Delete a connection and its key",
                "parameters": [name],
                **deleted,
            },
        },
        "/api/v1/tenants/me/mcp-servers": {
            "get": {
                "summary": "This tenant's MCP servers and their tools",
                "responses": {"200": {"description": "servers", **body("McpServerList")}},
            }
        },
        "/api/v1/tenants/me/mcp-servers/{name}": {
            "put": {
                "summary": "Register or replace an MCP server; its tools are listed before it is stored",
                "parameters": [name],
                "requestBody": {"required": True, **body("McpServerIn")},
                "responses": {
                    "200": {"description": "replaced", **body("McpServerView")},
                    "201": {"description": "registered", **body("McpServerView")},
                }
                | errors(422, 502),
            },
            "get": {
                "summary": "One MCP server",
                "parameters": [name],
                "responses": {"200": {"description": "the server", **body("McpServerView")}},
            },
            "delete": {"summary": "Forget an MCP server", "parameters": [name], **deleted},
        },
        "/api/v1/tenants/me/mcp-servers/{name}/refresh": {
            "post": {
                "summary": "List the server's tools again",
                "parameters": [name],
                "responses": {"200": {"description": "refreshed", **body("McpServerView")}} | errors(502),
            }
        },
        "/api/v1/usage": {
            "get": {
                "summary": "Billed usage rolled up by run, agent, model, day or unit",
                "parameters": [
                    _param("from", "query", description="ISO date or time, inclusive"),
                    _param("to", "query", description="ISO date or time, exclusive"),
                    _param("group_by", "query", description="comma-separated: run, agent, model, day, unit"),
                ],
                "responses": {"200": {"description": "rows and total (EUR)"}},
            }
        },
        "/api/mcp": {
            "post": {
                "summary": "MCP (Streamable HTTP, JSON answers): the named graphs as tools",
                "parameters": [_param("Origin", "header", description="browsers: this host's own")],
                "requestBody": rpc,
                "responses": {
                    "200": {"description": "a JSON-RPC answer (errors too)"},
                    "202": {"description": "a notification or response, accepted"},
                }
                | errors(403, 406),
            }
        },
        "/api/a2a/{graph}": {
            "post": {
                "summary": "A2A JSON-RPC: the named graph as an agent",
                "parameters": [_param("graph")],
                "requestBody": rpc,
                "responses": {"200": {"description": "a JSON-RPC answer (errors too)"}},
            }
        },
        "/api/a2a/{graph}/.well-known/agent-card.json": {
            "get": {
                "summary": "The graph's A2A agent card",
                "parameters": [_param("graph")],
                "responses": {"200": {"description": "the agent card"}},
            }
        },
    }


def declare_errors(paths: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """Add the errors the shared plumbing answers to each operation that can meet them."""
    for path, item in paths.items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            codes = set()
            if operation.get("security") != []:
                codes.add(401)
            if "{" in path:
                codes |= {400, 404}
            if operation.get("requestBody"):
                codes |= {400, 413, 415}
            if any(p.get("in") in ("query", "header") for p in operation.get("parameters", [])):
                codes.add(400)
            responses = operation.setdefault("responses", {})
            for code, response in errors(*sorted(codes)).items():
                responses.setdefault(code, response)
    return paths
