"""Plugins: untrusted WebAssembly tools under capabilities and limits, and signed native packages.

An untrusted plugin is a ``plugin.json`` manifest plus a ``.wasm`` module speaking the JSON ABI
of docs/adr/0005-plugin-abi.md. ``PluginRegistry`` installs plugins per tenant, records what each
tenant grants them, offers their tools (``plugin.tool``) and calls them; ``PluginHost`` runs each
call in a fresh wasmtime sandbox with fuel, memory, wall-time and output limits. Native (Python)
plugins are trusted only when signed: ``sign_package`` / ``verify_package`` with a ``TrustStore``,
and ``load_native_plugins`` imports them from the verified bytes. ``PluginTools`` and
``NativeTools`` offer both to agents as tool sources. Installed plugins and their KV data are kept
by a ``PluginStore`` and a ``PluginKV``: files and SQLite in the home (``FilePluginStore``,
``KVStore``) or the control plane, Cosmos DB and Blob Storage (``CosmosPluginStore``,
``CosmosKVStore``), chosen by ``open_registry``. ``python -m convergio plugins
keygen|sign|verify|build|install|grant|list|remove`` is the command line.
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from ._abi import ABI_VERSION, HOST_MODULE
    from ._azure import CosmosPluginStore
    from ._capabilities import LLMComplete, LLMRequest
    from ._errors import (
        InvalidManifest,
        InvalidModule,
        InvalidOutput,
        InvalidPlugin,
        MemoryLimitExceeded,
        OutOfFuel,
        OutputTooLarge,
        PackageTampered,
        PluginError,
        PluginLimitExceeded,
        PluginNotFound,
        PluginTooLarge,
        PluginToolError,
        PluginTrap,
        SignatureError,
        SignatureMissing,
        TableLimitExceeded,
        UngrantedImport,
        UnknownSigner,
        WallTimeExceeded,
    )
    from ._files import FilePluginStore
    from ._host import CacheStats, PluginHost
    from ._kv import KVStore, PluginKV, PutResult
    from ._kv_cosmos import CosmosKVStore
    from ._manifest import (
        Capabilities,
        HTTPCapability,
        KVCapability,
        Limits,
        LLMCapability,
        LogCapability,
        Manifest,
        PluginGrants,
        ToolDecl,
    )
    from ._native import NativeManifest, NativePlugin, NativeTools, load_native_plugins
    from ._package import MAX_ARCHIVE_BYTES, PluginPackage, build_tree, read_package
    from ._registry import InstalledPlugin, PluginRegistry, open_registry
    from ._signing import SIGNATURE_FILE, TrustStore, key_id, package_hash, sign_package, verify_package
    from ._store import PluginStore
    from ._tools import PluginTools

# Imported on first use (issue 22): the API's plugin models need the manifest's models, not
# wasmtime, zip packages or signing.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._abi": ("ABI_VERSION", "HOST_MODULE"),
        "._azure": ("CosmosPluginStore",),
        "._capabilities": ("LLMComplete", "LLMRequest"),
        "._errors": (
            "InvalidManifest",
            "InvalidModule",
            "InvalidOutput",
            "InvalidPlugin",
            "MemoryLimitExceeded",
            "OutOfFuel",
            "OutputTooLarge",
            "PackageTampered",
            "PluginError",
            "PluginLimitExceeded",
            "PluginNotFound",
            "PluginTooLarge",
            "PluginToolError",
            "PluginTrap",
            "SignatureError",
            "SignatureMissing",
            "TableLimitExceeded",
            "UngrantedImport",
            "UnknownSigner",
            "WallTimeExceeded",
        ),
        "._files": ("FilePluginStore",),
        "._host": ("CacheStats", "PluginHost"),
        "._kv": ("KVStore", "PluginKV", "PutResult"),
        "._kv_cosmos": ("CosmosKVStore",),
        "._manifest": (
            "Capabilities",
            "HTTPCapability",
            "KVCapability",
            "Limits",
            "LLMCapability",
            "LogCapability",
            "Manifest",
            "PluginGrants",
            "ToolDecl",
        ),
        "._native": ("NativeManifest", "NativePlugin", "NativeTools", "load_native_plugins"),
        "._package": ("MAX_ARCHIVE_BYTES", "PluginPackage", "build_tree", "read_package"),
        "._registry": ("InstalledPlugin", "PluginRegistry", "open_registry"),
        "._signing": (
            "SIGNATURE_FILE",
            "TrustStore",
            "key_id",
            "package_hash",
            "sign_package",
            "verify_package",
        ),
        "._store": ("PluginStore",),
        "._tools": ("PluginTools",),
    },
)

__all__ = [
    "ABI_VERSION",
    "HOST_MODULE",
    "MAX_ARCHIVE_BYTES",
    "SIGNATURE_FILE",
    "CacheStats",
    "Capabilities",
    "CosmosKVStore",
    "CosmosPluginStore",
    "FilePluginStore",
    "HTTPCapability",
    "InstalledPlugin",
    "InvalidManifest",
    "InvalidModule",
    "InvalidOutput",
    "InvalidPlugin",
    "KVCapability",
    "KVStore",
    "LLMCapability",
    "LLMComplete",
    "LLMRequest",
    "Limits",
    "LogCapability",
    "Manifest",
    "MemoryLimitExceeded",
    "NativeManifest",
    "NativePlugin",
    "NativeTools",
    "OutOfFuel",
    "OutputTooLarge",
    "PackageTampered",
    "PluginError",
    "PluginGrants",
    "PluginHost",
    "PluginKV",
    "PluginLimitExceeded",
    "PluginNotFound",
    "PluginPackage",
    "PluginRegistry",
    "PluginStore",
    "PluginTooLarge",
    "PluginTools",
    "PluginToolError",
    "PluginTrap",
    "PutResult",
    "SignatureError",
    "SignatureMissing",
    "TableLimitExceeded",
    "ToolDecl",
    "TrustStore",
    "UngrantedImport",
    "UnknownSigner",
    "WallTimeExceeded",
    "build_tree",
    "key_id",
    "load_native_plugins",
    "open_registry",
    "package_hash",
    "read_package",
    "sign_package",
    "verify_package",
]
