"""Installed plugins per tenant, their grants, and plugin tools offered and called like built-ins.

Installing validates everything that can be checked before a call: the manifest schema, sizes,
that the module compiles and exports the ABI, and that its imports are within the capabilities
its manifest requests. Granting is separate and per tenant; nothing is granted at install, and a
call links only what is granted. What was validated is kept by a :class:`PluginStore`: folders
under the home (embedded), or Cosmos DB and Blob Storage shared by every instance (Azure).
"""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convergio.graph._schema import argument_problem
from convergio.providers import ToolSpec

from ._capabilities import CallContext, LLMComplete
from ._errors import InvalidPlugin, PluginNotFound, PluginToolError
from ._files import FilePluginStore
from ._host import PluginHost
from ._kv import KVStore, PluginKV
from ._manifest import PLUGIN_NAME, TENANT_ID, Capabilities, Manifest, PluginGrants
from ._package import read_package
from ._store import InstalledPlugin, PluginStore

if TYPE_CHECKING:
    from convergio.controlplane import BlobPlane, CosmosPlane

__all__ = ["InstalledPlugin", "PluginRegistry", "open_registry"]

_MESSAGE_LIMIT = 300


class PluginRegistry:
    """Plugins installed per tenant, in a store, validated on the way in and run in the host.

    Args:
        store: Where installed plugins are kept; a folder means the embedded
            :class:`~convergio.plugins.FilePluginStore` on it.
        host: The plugin host that compiles and runs modules.
        kv: The store behind the ``kv`` capability (shared; data is keyed by tenant and plugin).
        llm: The default completion function for ``llm_complete`` (a call may pass its own).
        public_only: Hosted mode: ``http_fetch`` reaches public addresses only.
    """

    def __init__(
        self,
        store: Path | PluginStore,
        *,
        host: PluginHost,
        kv: PluginKV | None = None,
        llm: LLMComplete | None = None,
        public_only: bool = False,
    ) -> None:
        self.store: PluginStore = FilePluginStore(store) if isinstance(store, Path) else store
        self.host = host
        self.kv = kv
        self.llm = llm
        self.public_only = public_only

    def close(self) -> None:
        """Stop the host's clock thread and close the stores (the registry is unusable after)."""
        self.host.close()
        self.store.close()
        if self.kv is not None:
            self.kv.close()

    def install(self, tenant_id: str, source: Path | bytes) -> Manifest:
        """Validate a package and install it for a tenant (replacing an earlier version).

        Grants kept from an earlier version are dropped if the new manifest no longer requests them.

        Args:
            tenant_id: The tenant.
            source: A package directory, a ``.zip`` file, or zip bytes (an upload).

        Returns:
            The installed plugin's manifest.

        Raises:
            InvalidPlugin: a bad manifest, module or size (``InvalidManifest``, ``InvalidModule``,
                ``PluginTooLarge``).
            UngrantedImport: the module imports something its manifest does not request.
        """
        _check_tenant(tenant_id)
        package = read_package(source)
        manifest = package.manifest
        module = self.host.compile(package.wasm)
        self.host.check_imports(
            module, manifest.capabilities.imports(), plugin=manifest.name, why="requested in its manifest"
        )
        self.host.check_exports(module, plugin=manifest.name)
        self.store.put(tenant_id, manifest, package.wasm)
        return manifest

    def list(self, tenant_id: str) -> builtins.list[InstalledPlugin]:
        """The tenant's installed plugins, by name.

        Args:
            tenant_id: The tenant.

        Returns:
            The installed plugins.
        """
        _check_tenant(tenant_id)
        return self.store.list(tenant_id)

    def get(self, tenant_id: str, name: str) -> InstalledPlugin:
        """One installed plugin.

        Args:
            tenant_id: The tenant.
            name: The plugin name.

        Returns:
            The plugin.

        Raises:
            PluginNotFound: the tenant has no plugin of that name.
        """
        _check_tenant(tenant_id)
        _check_name(name)
        return self.store.get(tenant_id, name)

    def remove(self, tenant_id: str, name: str) -> None:
        """Uninstall a plugin and delete what it stored for the tenant.

        Args:
            tenant_id: The tenant.
            name: The plugin name.

        Raises:
            PluginNotFound: the tenant has no plugin of that name.
        """
        _check_tenant(tenant_id)
        _check_name(name)
        self.store.remove(tenant_id, name)
        if self.kv is not None:
            self.kv.clear(tenant_id, name)

    def grant(self, grants: PluginGrants) -> None:
        """Set what a tenant grants an installed plugin (replacing earlier grants).

        Args:
            grants: The tenant, plugin and capabilities.

        Raises:
            PluginNotFound: the plugin is not installed for the tenant.
            InvalidPlugin: a capability (or http host) the plugin does not request.
        """

        def check(manifest: Manifest) -> None:
            problems = grants.capabilities.problems(manifest.capabilities)
            if problems:
                raise InvalidPlugin(
                    f"cannot grant plugin {grants.plugin!r}: {'; '.join(p['message'] for p in problems)}",
                    details=problems,
                )

        self.store.set_grants(grants, check)

    def plugin_tool_specs(self, tenant_id: str) -> builtins.list[ToolSpec]:
        """The tools of the tenant's plugins, as offered to a model.

        Args:
            tenant_id: The tenant.

        Returns:
            One spec per tool, named ``plugin.tool``.
        """
        return [
            ToolSpec(name=f"{p.manifest.name}.{t.name}", description=t.description, parameters=t.input_schema)
            for p in self.list(tenant_id)
            for t in p.manifest.tools
        ]

    def call_plugin_tool(
        self,
        tenant_id: str,
        qualified_name: str,
        arguments: dict[str, Any],
        *,
        llm: LLMComplete | None = None,
        max_wall_time_ms: int | None = None,
    ) -> str:
        """Validate arguments against the tool's schema, then run the plugin in a fresh sandbox.

        Args:
            tenant_id: The tenant.
            qualified_name: ``plugin.tool``.
            arguments: The decoded JSON arguments, as the model gave them.
            llm: The completion function for this call (the tenant's provider and budget);
                defaults to the registry's.
            max_wall_time_ms: A tighter wall-time limit for this call (what the caller has left).

        Returns:
            The result text: a string result as it is, anything else as compact JSON.

        Raises:
            PluginNotFound: no such plugin or tool for the tenant.
            PluginToolError: arguments that break the schema, or the plugin answered an error.
            PluginError: the call was stopped (limits, trap, bad output, ungranted import...).
        """
        name, _, tool_name = qualified_name.partition(".")
        plugin = self.get(tenant_id, name)
        tool = plugin.manifest.tool(tool_name)
        if tool is None:
            raise PluginNotFound(f"plugin {name!r} has no tool {tool_name!r}")
        problem = argument_problem(tool.input_schema, arguments)  # RE2, no retrieval, bounded
        if problem is not None:
            raise PluginToolError(_short(f"{qualified_name}: invalid {problem[0]}: {problem[1]}"))
        context = CallContext(
            tenant_id=tenant_id,
            plugin=name,
            grants=_usable(plugin.grants.capabilities, kv=self.kv),
            kv=self.kv,
            llm=llm or self.llm,
            public_only=self.public_only,
        )
        limits = plugin.manifest.limits
        if max_wall_time_ms is not None and max_wall_time_ms < limits.wall_time_ms:
            limits = limits.model_copy(update={"wall_time_ms": max(max_wall_time_ms, 1)})
        answer = self.host.call(
            plugin.wasm, {"tool": tool_name, "arguments": arguments}, limits=limits, context=context
        )
        if "error" in answer:
            message = answer["error"] if isinstance(answer["error"], str) else json.dumps(answer["error"])
            raise PluginToolError(_short(f"{qualified_name}: {message}"))
        result = answer["result"]
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def open_registry(
    home: Path,
    *,
    hosted: bool = False,
    cosmos: CosmosPlane | None = None,
    blob: BlobPlane | None = None,
) -> PluginRegistry:
    """The plugins of a deployment: the home's folders, or the control plane's when it is given.

    The API, the activities and the ``plugins`` command line all open the same store, so a
    plugin installed or granted by one is seen by the others. Embedded: installed under
    ``home/plugins``, KV in ``home/plugin-kv.sqlite3``. With ``cosmos`` and ``blob``: metadata,
    grants and KV in Cosmos DB's ``plugins`` container and packages in Blob Storage, and the
    home is only this instance's cache (extracted packages, compiled modules).

    Args:
        home: The state directory (``CONVERGIO_HOME``); on Azure a per-instance temp folder.
        hosted: Hosted mode: plugins' ``http_fetch`` reaches public addresses only.
        cosmos: The control plane's database (with ``blob``).
        blob: The control plane's blob container (with ``cosmos``).

    Returns:
        The registry, with its own host (compiled modules cached under ``home/plugin-cache``).

    Raises:
        ValueError: only one of ``cosmos`` and ``blob`` is given.
    """
    if (cosmos is None) != (blob is None):
        raise ValueError("the control plane's plugins need both cosmos and blob (or neither)")
    home.mkdir(parents=True, exist_ok=True)
    host = PluginHost(cache_dir=home / "plugin-cache")
    if cosmos is not None and blob is not None:
        from ._azure import CosmosPluginStore
        from ._kv_cosmos import CosmosKVStore

        container = cosmos.container("plugins")
        store: PluginStore = CosmosPluginStore(container, blob, cache_dir=home / "plugin-packages")
        kv: PluginKV = CosmosKVStore(container)
    else:
        store = FilePluginStore(home / "plugins")
        kv = KVStore(home / "plugin-kv.sqlite3")
    return PluginRegistry(store, host=host, kv=kv, public_only=hosted)


def _usable(capabilities: Capabilities, *, kv: PluginKV | None) -> Capabilities:
    """A ``kv`` grant without a store behind it links nothing (the import is then refused)."""
    return (
        capabilities
        if kv is not None or capabilities.kv is None
        else capabilities.model_copy(update={"kv": None})
    )


def _check_tenant(tenant_id: str) -> None:
    if not re.fullmatch(TENANT_ID, tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}")


def _check_name(name: str) -> None:
    if not re.fullmatch(PLUGIN_NAME, name):
        raise PluginNotFound(f"no plugin {name!r} is installed")


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
