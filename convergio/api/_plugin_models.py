"""The ``/api/v1/plugins`` request and response models, and their part of the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from convergio.plugins import Capabilities, Limits

from ._models import ApiModel

if TYPE_CHECKING:
    from convergio.plugins import InstalledPlugin

__all__ = ["OPENAPI_MODELS", "GrantsIn", "PluginList", "PluginTool", "PluginView", "openapi_paths", "view"]


class GrantsIn(ApiModel):
    """What the tenant grants a plugin: a subset of what its manifest requests (absent: not granted)."""

    model_config = ConfigDict(extra="forbid")

    capabilities: Capabilities


class PluginTool(ApiModel):
    """One tool as graphs list it in ``tools:`` (``plugin.tool``)."""

    name: str
    description: str
    input_schema: dict[str, Any]


class PluginView(ApiModel):
    """An installed plugin: its manifest summary, tools, requested capabilities and grants."""

    name: str
    version: str
    description: str
    tools: list[PluginTool]
    requested: Capabilities
    granted: Capabilities
    limits: Limits


class PluginList(ApiModel):
    plugins: list[PluginView]


def view(plugin: InstalledPlugin) -> PluginView:
    """The API's view of an installed plugin."""
    manifest = plugin.manifest
    return PluginView(
        name=manifest.name,
        version=manifest.version,
        description=manifest.description,
        tools=[
            PluginTool(
                name=f"{manifest.name}.{t.name}", description=t.description, input_schema=t.input_schema
            )
            for t in manifest.tools
        ],
        requested=manifest.capabilities,
        granted=plugin.grants.capabilities,
        limits=manifest.limits,
    )


OPENAPI_MODELS: list[type[BaseModel]] = [GrantsIn, PluginView, PluginList]


def openapi_paths(
    body: Callable[[str], dict[str, Any]], errors: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """The plugin routes of the OpenAPI document (``body``/``errors`` build its parts)."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    archive = {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/api/v1/plugins": {
            "get": {
                "summary": "This tenant's WebAssembly plugins: tools, requested capabilities, grants",
                "responses": {"200": {"description": "plugins", **body("PluginList")}} | errors(401),
            },
            "post": {
                "summary": "Upload a plugin (a zip of plugin.json and its module); nothing is granted yet",
                "requestBody": {"required": True, **archive},
                "responses": {
                    "201": {"description": "installed", **body("PluginView")},
                    "200": {"description": "replaced an earlier version", **body("PluginView")},
                }
                | errors(400, 401, 413, 422),
            },
        },
        "/api/v1/plugins/{name}": {
            "delete": {
                "summary": "Uninstall a plugin and delete what it stored",
                "parameters": [name],
                "responses": {"200": {"description": "deleted"}} | errors(401, 404),
            }
        },
        "/api/v1/plugins/{name}/grants": {
            "put": {
                "summary": "Set the capabilities this tenant grants a plugin (within what it requests)",
                "parameters": [name],
                "requestBody": {"required": True, **body("GrantsIn")},
                "responses": {"200": {"description": "granted", **body("PluginView")}}
                | errors(400, 401, 404, 422),
            }
        },
    }
