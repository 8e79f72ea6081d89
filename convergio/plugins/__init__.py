"""Plugins: untrusted WebAssembly tools under capabilities and limits, and signed native packages.

An untrusted plugin is a ``plugin.json`` manifest plus a ``.wasm`` module speaking the JSON ABI
of docs/adr/0005-plugin-abi.md. ``PluginRegistry`` installs plugins per tenant, records what each
tenant grants them, offers their tools (``plugin.tool``) and calls them; ``PluginHost`` runs each
call in a fresh wasmtime sandbox with fuel, memory, wall-time and output limits. Native (Python)
plugins are trusted only when signed: ``sign_package`` / ``verify_package`` with a ``TrustStore``.
``python -m convergio.plugins keygen|sign|verify|build`` is the command line.
"""

from ._abi import ABI_VERSION, HOST_MODULE
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
    UngrantedImport,
    UnknownSigner,
    WallTimeExceeded,
)
from ._host import CacheStats, PluginHost
from ._kv import KVStore
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
from ._package import PluginPackage, build_tree, read_package
from ._registry import InstalledPlugin, PluginRegistry
from ._signing import SIGNATURE_FILE, TrustStore, key_id, package_hash, sign_package, verify_package

__all__ = [
    "ABI_VERSION",
    "HOST_MODULE",
    "SIGNATURE_FILE",
    "CacheStats",
    "Capabilities",
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
    "OutOfFuel",
    "OutputTooLarge",
    "PackageTampered",
    "PluginError",
    "PluginGrants",
    "PluginHost",
    "PluginLimitExceeded",
    "PluginNotFound",
    "PluginPackage",
    "PluginRegistry",
    "PluginTooLarge",
    "PluginToolError",
    "PluginTrap",
    "SignatureError",
    "SignatureMissing",
    "ToolDecl",
    "TrustStore",
    "UngrantedImport",
    "UnknownSigner",
    "WallTimeExceeded",
    "build_tree",
    "key_id",
    "package_hash",
    "read_package",
    "sign_package",
    "verify_package",
]
