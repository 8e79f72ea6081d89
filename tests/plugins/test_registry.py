"""The registry and the host: examples, tool specs, zip packages, the module cache, the build command."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

import convergio.plugins as plugins
from convergio.plugins import PluginHost, PluginNotFound, PluginRegistry, PluginToolError
from convergio.plugins.__main__ import main
from convergio.providers import ToolSpec
from tests.plugins.conftest import EXAMPLES, TENANT

SURFACE = {
    "ABI_VERSION",
    "CacheStats",
    "Capabilities",
    "CosmosKVStore",
    "CosmosPluginStore",
    "FilePluginStore",
    "HOST_MODULE",
    "MAX_ARCHIVE_BYTES",
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
    "SIGNATURE_FILE",
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
}


def test_public_surface_is_pinned() -> None:
    assert sorted(plugins.__all__) == sorted(SURFACE)


def test_installed_tools_are_offered_and_called_like_built_ins(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    [spec] = registry.plugin_tool_specs(TENANT)
    assert isinstance(spec, ToolSpec) and spec.name == "text-stats.stats"
    assert registry.plugin_tool_specs("tenant-b") == []
    answer = registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": "Ciao, mondo!\nÈ tardi.\n"})
    assert json.loads(answer) == {"chars": 22, "words": 4, "lines": 2}


def test_arguments_are_checked_against_the_schema(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    with pytest.raises(PluginToolError, match=r"text-stats\.stats: invalid arguments: 'text' is a required"):
        registry.call_plugin_tool(TENANT, "text-stats.stats", {})


def test_unknown_plugins_and_tools_are_not_found(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    with pytest.raises(PluginNotFound):
        registry.call_plugin_tool("tenant-b", "text-stats.stats", {"text": ""})
    with pytest.raises(PluginNotFound, match="no tool 'nope'"):
        registry.call_plugin_tool(TENANT, "text-stats.nope", {})
    with pytest.raises(PluginNotFound):
        registry.remove(TENANT, "../text-stats")


def test_remove_uninstalls(registry: PluginRegistry) -> None:
    registry.install(TENANT, EXAMPLES / "text-stats")
    registry.remove(TENANT, "text-stats")
    assert registry.list(TENANT) == []


def test_a_zip_upload_installs(registry: PluginRegistry) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (EXAMPLES / "text-stats").iterdir():
            if path.suffix in (".json", ".wat"):
                archive.write(path, f"text-stats/{path.name}")
    manifest = registry.install(TENANT, buffer.getvalue())
    assert manifest.name == "text-stats"


def test_the_module_cache_compiles_once(tmp_path: Path) -> None:
    with PluginHost(cache_dir=tmp_path / "cache") as host:
        registry = PluginRegistry(tmp_path / "installed", host=host)
        registry.install(TENANT, EXAMPLES / "text-stats")
        for _ in range(5):
            registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": "a b"})
        assert host.stats.compiles == 1 and host.stats.memory_hits == 5
    assert len(list((tmp_path / "cache").glob("*.cwasm"))) == 1
    with PluginHost(cache_dir=tmp_path / "cache") as fresh:
        registry = PluginRegistry(tmp_path / "installed", host=fresh)
        registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": "a b"})
        assert (fresh.stats.compiles, fresh.stats.disk_hits) == (0, 1)


def test_the_build_command_writes_wasm_next_to_wat(tmp_path: Path) -> None:
    source = tmp_path / "text-stats"
    source.mkdir()
    for name in ("plugin.json", "text_stats.wat"):
        (source / name).write_bytes((EXAMPLES / "text-stats" / name).read_bytes())
    assert main(["build", str(tmp_path)]) == 0
    assert (source / "text_stats.wasm").read_bytes()[:4] == b"\0asm"
