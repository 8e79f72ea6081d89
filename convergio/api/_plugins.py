"""Plugin routes: a tenant uploads WebAssembly plugins, grants them capabilities, lists and removes them.

``POST /api/v1/plugins`` takes a zip (``application/zip``) of ``plugin.json`` and its module and
installs it for the calling tenant only after every check that needs no call: the size (from
``Content-Length`` before the body is touched, then the body itself), the manifest schema, that
the module compiles and exports the ABI, and that its imports stay within the capabilities its
manifest requests. Nothing is granted at upload; ``PUT .../grants`` grants a subset of the
request. Another tenant's plugins do not exist for a caller (404).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest, PayloadTooLarge
from convergio.plugins import PluginGrants, UngrantedImport
from convergio.tenants import Permission

from . import _plugin_models as pm
from ._http import answer, json_response, read_body, tenant_of
from ._service import service

if TYPE_CHECKING:
    from convergio.plugins import PluginRegistry

__all__: list[str] = []

_ROUTE = "v1/plugins"
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})


def _registry() -> PluginRegistry:
    from convergio.wiring import components  # the stores on first use, not at import (issue 22)

    return components().plugins


def _archive(req: func.HttpRequest) -> bytes:
    """The uploaded zip, refused by its declared size before its bytes are read."""
    from convergio.plugins import MAX_ARCHIVE_BYTES  # with the zip reader and wasmtime, on upload

    kind = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in _ZIP_TYPES:
        message = f"expected application/zip, not {kind or 'nothing'}"
        raise InvalidRequest(
            f"content-type: {message}", details=[{"path": "content-type", "message": message}]
        )
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
        raise PayloadTooLarge(f"the archive is {declared} bytes; the limit is {MAX_ARCHIVE_BYTES}")
    body = req.get_body() or b""
    if len(body) > MAX_ARCHIVE_BYTES:
        raise PayloadTooLarge(f"the archive is {len(body)} bytes; the limit is {MAX_ARCHIVE_BYTES}")
    if not body:
        raise InvalidRequest("body: empty; send the plugin's zip archive", details=[_EMPTY])
    return body


_EMPTY = {"path": "body", "message": "empty; send the plugin's zip archive"}


@answer
async def upload_plugin(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    tenant = tenant_of(req, service(), Permission.ADMIN)
    archive = _archive(req)
    registry = _registry()
    try:
        # Compiling a module takes a while: off the event loop, so other requests go on.
        name, replaced = await asyncio.to_thread(_install, registry, tenant.id, archive)
    except UngrantedImport as exc:
        problem = {"path": "module.imports", "message": exc.message}
        error = {"code": exc.code, "message": exc.message, "import": exc.import_name, "details": [problem]}
        return json_response({"error": error}, 422)
    return json_response(pm.view(registry.get(tenant.id, name)), 200 if replaced else 201)


def _install(registry: PluginRegistry, tenant_id: str, archive: bytes) -> tuple[str, bool]:
    before = {plugin.manifest.name for plugin in registry.list(tenant_id)}
    manifest = registry.install(tenant_id, archive)
    return manifest.name, manifest.name in before


@answer
async def list_plugins(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    tenant = tenant_of(req, service(), Permission.ADMIN)
    return json_response(pm.PluginList(plugins=[pm.view(p) for p in _registry().list(tenant.id)]))


@answer
async def put_grants(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    tenant = tenant_of(req, service(), Permission.ADMIN)
    name = str(req.route_params.get("name", ""))
    registry = _registry()
    registry.get(tenant.id, name)  # 404 before looking at the body
    body: pm.GrantsIn = read_body(req, pm.GrantsIn)
    registry.grant(PluginGrants(tenant_id=tenant.id, plugin=name, capabilities=body.capabilities))
    return json_response(pm.view(registry.get(tenant.id, name)))


@answer
async def delete_plugin(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    tenant = tenant_of(req, service(), Permission.ADMIN)
    name = str(req.route_params.get("name", ""))
    _registry().remove(tenant.id, name)
    return json_response({"name": name, "deleted": True})
