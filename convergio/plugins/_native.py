"""Signed native (Python) plugins: verified, then imported from the very bytes that were verified.

A native plugin is a folder: ``plugin.json`` (``NativeManifest``), a Python module or package
named by its ``python`` field, and ``plugin.sig``. It runs in the worker process with the
platform's rights, so it is trusted only when a key of the trust store signed its package hash
(``CONVERGIO_PLUGIN_TRUSTED_KEYS``); anything unsigned, tampered or signed by an unknown key is
refused and start-up fails. The package is read once, the hash is checked over those bytes, and
the code is compiled from them by an in-memory importer, so swapping a file after the check
changes nothing. Native plugins are platform-wide (``CONVERGIO_NATIVE_PLUGINS``): their tools,
``plugin.tool`` like WebAssembly ones, are offered to every tenant.

Each tool is a function of the plugin's module with the tool's name:
``def stats(arguments: dict[str, Any], context: ToolContext) -> str | JSON``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field

from convergio.tools import Tool, ToolContext

from ._errors import InvalidManifest, InvalidPlugin, PluginError, SignatureError
from ._manifest import PluginInfo
from ._package import MANIFEST_FILE, parse_info
from ._signing import TrustStore, read_verified

__all__ = ["NativeManifest", "NativePlugin", "NativeTools", "load_native_plugins"]

_log = logging.getLogger("convergio.plugins")
_PREFIX = "_convergio_native_"

NativeFunction = Callable[[dict[str, Any], ToolContext], Any]
"""A native tool: validated arguments and the calling agent's context in, text or JSON out."""


class NativeManifest(PluginInfo):
    """``plugin.json`` of a native plugin.

    Attributes:
        python: The module (``name.py``) or package (``name/__init__.py``) in the folder whose
            functions, one per tool and named like it, implement the tools.
    """

    python: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class NativePlugin:
    """A loaded native plugin.

    Attributes:
        manifest: Its manifest.
        signer: The id of the trusted key that signed it.
        functions: Each tool's function, by tool name.
    """

    manifest: NativeManifest
    signer: str
    functions: dict[str, NativeFunction]


class NativeTools:
    """The tools of the platform's native plugins, the same for every tenant.

    Args:
        plugins: The loaded plugins (names unique).
    """

    def __init__(self, plugins: Sequence[NativePlugin]) -> None:
        self.plugins = {plugin.manifest.name: plugin for plugin in plugins}

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        """``plugin.tool`` for every tool of every native plugin."""
        return frozenset(
            f"{name}.{tool.name}" for name, p in self.plugins.items() for tool in p.manifest.tools
        )

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        """The native tool ``name`` bound to one agent call, or ``None`` when no plugin has it."""
        plugin_name, _, tool_name = name.partition(".")
        plugin = self.plugins.get(plugin_name)
        declared = None if plugin is None else plugin.manifest.tool(tool_name)
        if plugin is None or declared is None:
            return None
        function = plugin.functions[tool_name]

        def run(arguments: dict[str, Any]) -> str:
            result = function(arguments, context)
            return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)

        return Tool(name=name, description=declared.description, parameters=declared.input_schema, fn=run)


def load_native_plugins(folders: Sequence[Path], trust_store: TrustStore) -> NativeTools:
    """Verify and load the platform's native plugins; any refusal stops start-up.

    Args:
        folders: The plugin folders (``CONVERGIO_NATIVE_PLUGINS``).
        trust_store: The keys trusted to sign them (``CONVERGIO_PLUGIN_TRUSTED_KEYS``).

    Returns:
        Their tools, as a tool source.

    Raises:
        SignatureError: a package is unsigned (``SignatureMissing``), changed since signing
            (``PackageTampered``) or signed by a key not trusted (``UnknownSigner``).
        InvalidPlugin: a bad manifest, a missing tool function, a module that fails to import,
            or two plugins of the same name.
    """
    if folders and not len(trust_store):
        raise SignatureError(
            "CONVERGIO_NATIVE_PLUGINS lists native plugins but CONVERGIO_PLUGIN_TRUSTED_KEYS trusts no key"
        )
    plugins: list[NativePlugin] = []
    for folder in folders:
        try:
            plugin = load_native_plugin(folder, trust_store)
            if any(p.manifest.name == plugin.manifest.name for p in plugins):
                raise InvalidPlugin(
                    f"{folder}: a native plugin named {plugin.manifest.name!r} is already loaded"
                )
        except PluginError as exc:
            _log.error("native plugin %s refused: %s (%s)", folder, exc.message, exc.code)
            raise
        _log.info(
            "native plugin %s %s loaded (signed by key %s)",
            plugin.manifest.name,
            plugin.manifest.version,
            plugin.signer,
        )
        plugins.append(plugin)
    return NativeTools(plugins)


def load_native_plugin(folder: Path, trust_store: TrustStore) -> NativePlugin:
    """Verify one native plugin and import it from the verified bytes (see ``load_native_plugins``)."""
    if not folder.is_dir():
        raise InvalidManifest(f"{folder}: no such native plugin folder")
    signer, files = read_verified(folder, trust_store)
    raw = files.get(MANIFEST_FILE)
    if raw is None:
        raise InvalidManifest(f"{folder.name}: no {MANIFEST_FILE}")
    manifest = parse_info(raw, NativeManifest, label=folder.name)
    module = _import(folder, manifest, files)
    functions: dict[str, NativeFunction] = {}
    for tool in manifest.tools:
        function = getattr(module, tool.name, None)
        if not callable(function):
            raise InvalidPlugin(f"{folder.name}: module {manifest.python!r} has no function {tool.name!r}")
        functions[tool.name] = function
    return NativePlugin(manifest=manifest, signer=signer, functions=functions)


def _import(folder: Path, manifest: NativeManifest, files: dict[str, bytes]) -> ModuleType:
    name = _PREFIX + manifest.name.replace("-", "_")
    if f"{manifest.python}.py" not in files and f"{manifest.python}/__init__.py" not in files:
        raise InvalidManifest(f"{folder.name}: python: no module {manifest.python!r} in the package")
    _FINDER.add(name, _Sources(folder, manifest.python, files))
    try:
        return importlib.import_module(name)
    except Exception as exc:
        _FINDER.remove(name)
        raise InvalidPlugin(
            f"{folder.name}: importing {manifest.python!r} failed: {type(exc).__name__}: {exc}"
        ) from None


@dataclass(frozen=True, slots=True)
class _Sources:
    folder: Path
    python: str
    files: dict[str, bytes]

    def find(self, relative: str) -> tuple[str, bool] | None:
        """The file of a (sub)module, and whether it is a package."""
        base = "/".join(part for part in (self.python, relative.replace(".", "/")) if part)
        if f"{base}/__init__.py" in self.files:
            return f"{base}/__init__.py", True
        if f"{base}.py" in self.files:
            return f"{base}.py", False
        return None


class _VerifiedLoader(importlib.abc.Loader):
    """Executes a module from the verified bytes, never from the file on disk."""

    def __init__(self, source: bytes, origin: str) -> None:
        self.source = source
        self.origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self.source, self.origin, "exec"), module.__dict__)  # noqa: S102 - signed code


class _VerifiedFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of loaded native plugins (``_convergio_native_<name>[.sub]``) in memory."""

    def __init__(self) -> None:
        self._packages: dict[str, _Sources] = {}
        self._lock = threading.Lock()

    def add(self, name: str, sources: _Sources) -> None:
        with self._lock:
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)
            self._packages[name] = sources
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]  # a reload loads the newly verified bytes

    def remove(self, name: str) -> None:
        with self._lock:
            self._packages.pop(name, None)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top, _, relative = fullname.partition(".")
        sources = self._packages.get(top)
        found = None if sources is None else sources.find(relative)
        if sources is None or found is None:
            return None
        file, is_package = found
        origin = str(sources.folder / file)
        spec = importlib.util.spec_from_loader(
            fullname, _VerifiedLoader(sources.files[file], origin), origin=origin, is_package=is_package
        )
        return spec


_FINDER = _VerifiedFinder()
