"""Installed plugins per tenant, their grants, and plugin tools offered and called like built-ins.

Layout under the registry root: ``<tenant>/<plugin>/plugin.json``, ``module.wasm`` and
``grants.json``. Installing validates everything that can be checked before a call: the
manifest schema, sizes, that the module compiles and exports the ABI, and that its imports are
within the capabilities its manifest requests. Granting is separate and per tenant; nothing is
granted at install, and a call links only what is granted.
"""

from __future__ import annotations

import builtins
import json
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from convergio.providers import ToolSpec

from ._capabilities import CallContext, LLMComplete
from ._errors import InvalidPlugin, PluginNotFound, PluginToolError
from ._host import PluginHost
from ._kv import KVStore
from ._manifest import TENANT_ID, Capabilities, Manifest, PluginGrants
from ._package import MANIFEST_FILE, parse_manifest, read_package

__all__ = ["InstalledPlugin", "PluginRegistry", "open_registry"]

_MODULE_FILE = "module.wasm"
_GRANTS_FILE = "grants.json"
_MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """A plugin installed for a tenant.

    Attributes:
        manifest: Its manifest.
        grants: What the tenant granted it.
        wasm: Its module bytes.
    """

    manifest: Manifest
    grants: PluginGrants
    wasm: bytes


class PluginRegistry:
    """Plugins installed per tenant, on disk, with an in-memory view.

    Args:
        root: The folder holding installed plugins.
        host: The plugin host that compiles and runs modules.
        kv: The store behind the ``kv`` capability (shared; rows are keyed by tenant and plugin).
        llm: The default completion function for ``llm_complete`` (a call may pass its own).
        public_only: Hosted mode: ``http_fetch`` reaches public addresses only.
    """

    def __init__(
        self,
        root: Path,
        *,
        host: PluginHost,
        kv: KVStore | None = None,
        llm: LLMComplete | None = None,
        public_only: bool = False,
    ) -> None:
        self.root = root
        self.host = host
        self.kv = kv
        self.llm = llm
        self.public_only = public_only
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], tuple[_Stamp, InstalledPlugin]] = {}

    def close(self) -> None:
        """Stop the host's clock thread and close the KV store (the registry is unusable after)."""
        self.host.close()
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
        with self._lock:
            folder = self.root / tenant_id / manifest.name
            grants = PluginGrants(tenant_id=tenant_id, plugin=manifest.name)
            if (folder / _GRANTS_FILE).is_file():
                earlier = PluginGrants.model_validate_json((folder / _GRANTS_FILE).read_bytes())
                if not earlier.capabilities.within(manifest.capabilities):
                    grants = earlier
            # Staged in a sibling folder and swapped in, so a failure leaves the old version whole.
            staging = Path(
                tempfile.mkdtemp(prefix=f".staging-{manifest.name}-", dir=_folder(self.root / tenant_id))
            )
            try:
                (staging / _MODULE_FILE).write_bytes(package.wasm)
                (staging / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
                (staging / _GRANTS_FILE).write_text(grants.model_dump_json(indent=2), encoding="utf-8")
                _swap(staging, folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self._loaded.pop((tenant_id, manifest.name), None)
        return manifest

    def list(self, tenant_id: str) -> list[InstalledPlugin]:
        """The tenant's installed plugins, by name.

        Args:
            tenant_id: The tenant.

        Returns:
            The installed plugins.
        """
        _check_tenant(tenant_id)
        folder = self.root / tenant_id
        names = (
            sorted(
                p.name
                for p in folder.iterdir()
                if not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()
            )
            if folder.is_dir()
            else []
        )
        return [self.get(tenant_id, name) for name in names]

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
        with self._lock:
            folder = self.root / tenant_id / name
            if "/" in name or name.startswith(".") or not (folder / MANIFEST_FILE).is_file():
                raise PluginNotFound(f"no plugin {name!r} is installed")
            stamp = _stamp(folder)
            cached = self._loaded.get((tenant_id, name))
            if cached is not None and cached[0] == stamp:
                return cached[1]
            plugin = InstalledPlugin(
                manifest=parse_manifest((folder / MANIFEST_FILE).read_bytes()),
                grants=PluginGrants.model_validate_json((folder / _GRANTS_FILE).read_bytes()),
                wasm=(folder / _MODULE_FILE).read_bytes(),
            )
            self._loaded[(tenant_id, name)] = (stamp, plugin)
            return plugin

    def remove(self, tenant_id: str, name: str) -> None:
        """Uninstall a plugin and delete what it stored for the tenant.

        Args:
            tenant_id: The tenant.
            name: The plugin name.

        Raises:
            PluginNotFound: the tenant has no plugin of that name.
        """
        self.get(tenant_id, name)
        with self._lock:
            shutil.rmtree(self.root / tenant_id / name)
            self._loaded.pop((tenant_id, name), None)
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
        plugin = self.get(grants.tenant_id, grants.plugin)
        problems = grants.capabilities.problems(plugin.manifest.capabilities)
        if problems:
            raise InvalidPlugin(
                f"cannot grant plugin {grants.plugin!r}: {'; '.join(p['message'] for p in problems)}",
                details=problems,
            )
        with self._lock:
            path = self.root / grants.tenant_id / grants.plugin / _GRANTS_FILE
            partial = path.with_name(f".{_GRANTS_FILE}.tmp")
            partial.write_text(grants.model_dump_json(indent=2), encoding="utf-8")
            partial.replace(path)
            self._loaded.pop((grants.tenant_id, grants.plugin), None)

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
        error = best_match(Draft202012Validator(tool.input_schema).iter_errors(arguments))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "arguments"
            raise PluginToolError(_short(f"{qualified_name}: invalid {where}: {error.message}"))
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


def open_registry(home: Path, *, hosted: bool = False) -> PluginRegistry:
    """The plugins of a state directory: installed under ``home/plugins``, KV in ``home/plugin-kv.sqlite3``.

    The API, the activities and the ``plugins`` command line all open the same folders, so a
    plugin installed or granted by one is seen by the others.

    Args:
        home: The state directory (``CONVERGIO_HOME``).
        hosted: Hosted mode: plugins' ``http_fetch`` reaches public addresses only.

    Returns:
        The registry, with its own host (compiled modules cached under ``home/plugin-cache``).
    """
    home.mkdir(parents=True, exist_ok=True)
    host = PluginHost(cache_dir=home / "plugin-cache")
    kv = KVStore(home / "plugin-kv.sqlite3")
    return PluginRegistry(home / "plugins", host=host, kv=kv, public_only=hosted)


_Stamp = tuple[int, ...]


def _stamp(folder: Path) -> _Stamp:
    """Which version of the plugin's files is on disk, so a change by another process is seen."""
    stamp: list[int] = []
    for name in (MANIFEST_FILE, _GRANTS_FILE, _MODULE_FILE):
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            raise PluginNotFound(f"no plugin {folder.name!r} is installed") from None
        stamp += (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return tuple(stamp)


def _usable(capabilities: Capabilities, *, kv: KVStore | None) -> Capabilities:
    """A ``kv`` grant without a store behind it links nothing (the import is then refused)."""
    return (
        capabilities
        if kv is not None or capabilities.kv is None
        else capabilities.model_copy(update={"kv": None})
    )


def _swap(staging: Path, folder: Path) -> None:
    """Put ``staging`` where ``folder`` is; on failure the earlier version stays in place."""
    if not folder.exists():
        staging.rename(folder)
        return
    retired = staging.with_name(staging.name.replace(".staging-", ".retired-", 1))
    folder.rename(retired)
    try:
        staging.rename(folder)
    except OSError:
        retired.rename(folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_tenant(tenant_id: str) -> None:
    if not re.fullmatch(TENANT_ID, tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}")


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
