"""One contract over both plugin stores: the home's folders and the control plane (Cosmos DB + Blob).

The Azure adapter runs on the real emulators (``cosmos_plane``, ``blob_plane``). Each case opens
"instances" through ``open_registry`` exactly as the app does: embedded instances share a home;
Azure instances share the planes and each has a home of its own that starts empty.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convergio.controlplane import BlobPlane, CosmosPlane
from convergio.plugins import (
    Capabilities,
    CosmosPluginStore,
    FilePluginStore,
    InvalidPlugin,
    KVCapability,
    LogCapability,
    PluginGrants,
    PluginNotFound,
    PluginRegistry,
    PluginToolError,
    UngrantedImport,
    open_registry,
)
from tests.plugins._wat import constant_answer, module, write_plugin
from tests.plugins.conftest import EXAMPLES, TENANT

NOTES = Capabilities(kv=KVCapability(), log=LogCapability())
Open = Callable[[str], PluginRegistry]


@pytest.fixture(params=["files", "azure"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """Opens a registry as one app instance would, named so a test can open a second one."""
    planes: dict[str, object] = {}
    if request.param == "azure":
        planes = {
            "cosmos": request.getfixturevalue("cosmos_plane"),
            "blob": request.getfixturevalue("blob_plane"),
        }
    opened: list[PluginRegistry] = []

    def open_instance(name: str) -> PluginRegistry:
        home = tmp_path / (name if planes else "shared-home")
        registry = open_registry(home, **planes)  # type: ignore[arg-type]
        opened.append(registry)
        return registry

    yield open_instance
    for registry in opened:
        registry.close()


def constant_plugin(root: Path, answer: str, *, version: str = "0.1.0", **capabilities: object) -> Path:
    data, body = constant_answer(json.dumps({"result": answer}))
    folder = write_plugin(root / version, "constant", module(body, data=data), capabilities=capabilities)
    manifest = json.loads((folder / "plugin.json").read_text())
    (folder / "plugin.json").write_text(json.dumps({**manifest, "version": version}))
    return folder


def test_install_list_call_and_tenants_are_apart(instance: Open) -> None:
    registry = instance("a")
    manifest = registry.install(TENANT, EXAMPLES / "text-stats")
    assert manifest.name == "text-stats"
    [plugin] = registry.list(TENANT)
    assert plugin.manifest == manifest and plugin.wasm[:4] == b"\0asm"
    assert plugin.grants == PluginGrants(tenant_id=TENANT, plugin="text-stats")
    answer = registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": "a b\n"})
    assert json.loads(answer) == {"chars": 4, "words": 2, "lines": 1}
    assert registry.list("tenant-b") == []
    with pytest.raises(PluginNotFound):
        registry.get("tenant-b", "text-stats")
    with pytest.raises(PluginNotFound):
        registry.get(TENANT, "../text-stats")


def test_a_second_instance_sees_installs_grants_kv_and_removals(instance: Open) -> None:
    first, second = instance("a"), instance("b")
    first.install(TENANT, EXAMPLES / "kv-notes")
    assert [p.manifest.name for p in second.list(TENANT)] == ["kv-notes"]
    with pytest.raises(UngrantedImport):  # nothing granted yet: kv is not linked
        second.call_plugin_tool(TENANT, "kv-notes.put", {"key": "k", "value": "v"})

    second.grant(PluginGrants(tenant_id=TENANT, plugin="kv-notes", capabilities=NOTES))
    assert first.get(TENANT, "kv-notes").grants.capabilities == NOTES
    first.call_plugin_tool(TENANT, "kv-notes.put", {"key": "k", "value": "from the first"})
    assert second.call_plugin_tool(TENANT, "kv-notes.get", {"key": "k"}) == "from the first"

    second.remove(TENANT, "kv-notes")
    assert first.list(TENANT) == []
    with pytest.raises(PluginNotFound):
        first.remove(TENANT, "kv-notes")
    first.install(TENANT, EXAMPLES / "kv-notes")  # the removal deleted what it stored
    first.grant(PluginGrants(tenant_id=TENANT, plugin="kv-notes", capabilities=NOTES))
    with pytest.raises(PluginToolError, match="no note under that key"):
        second.call_plugin_tool(TENANT, "kv-notes.get", {"key": "k"})


def test_a_reinstall_replaces_the_module_and_keeps_only_grants_still_requested(
    instance: Open, tmp_path: Path
) -> None:
    first, second = instance("a"), instance("b")
    first.install(TENANT, constant_plugin(tmp_path, "one", log={}))
    assert second.call_plugin_tool(TENANT, "constant.run", {}) == "one"
    logging = Capabilities(log=LogCapability())
    first.grant(PluginGrants(tenant_id=TENANT, plugin="constant", capabilities=logging))

    first.install(TENANT, constant_plugin(tmp_path, "two", version="0.2.0", log={}))
    upgraded = second.get(TENANT, "constant")
    assert (upgraded.manifest.version, upgraded.grants.capabilities) == ("0.2.0", logging)
    assert second.call_plugin_tool(TENANT, "constant.run", {}) == "two"

    first.install(TENANT, constant_plugin(tmp_path, "three", version="0.3.0"))  # requests no log now
    assert second.get(TENANT, "constant").grants.capabilities == Capabilities()
    assert second.call_plugin_tool(TENANT, "constant.run", {}) == "three"


def test_grants_are_checked_against_the_installed_manifest(instance: Open) -> None:
    registry = instance("a")
    with pytest.raises(PluginNotFound):
        registry.grant(PluginGrants(tenant_id=TENANT, plugin="text-stats"))
    registry.install(TENANT, EXAMPLES / "text-stats")
    with pytest.raises(InvalidPlugin, match="'kv' is not requested") as refused:
        registry.grant(PluginGrants(tenant_id=TENANT, plugin="text-stats", capabilities=NOTES))
    assert [d["path"] for d in refused.value.details] == ["capabilities.kv", "capabilities.log"]
    assert registry.get(TENANT, "text-stats").grants.capabilities == Capabilities()


def test_open_registry_picks_the_adapter(
    tmp_path: Path, cosmos_plane: CosmosPlane, blob_plane: BlobPlane
) -> None:
    embedded = open_registry(tmp_path / "embedded")
    hosted = open_registry(tmp_path / "hosted", hosted=True, cosmos=cosmos_plane, blob=blob_plane)
    try:
        assert isinstance(embedded.store, FilePluginStore) and not embedded.public_only
        assert isinstance(hosted.store, CosmosPluginStore) and hosted.public_only
        with pytest.raises(ValueError, match="both cosmos and blob"):
            open_registry(tmp_path / "half", cosmos=cosmos_plane)
    finally:
        embedded.close()
        hosted.close()


def test_an_instance_with_an_empty_home_runs_a_plugin_it_never_saw_installed(
    tmp_path: Path, cosmos_plane: CosmosPlane, blob_plane: BlobPlane
) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    first = open_registry(home_a, cosmos=cosmos_plane, blob=blob_plane)
    second = open_registry(home_b, cosmos=cosmos_plane, blob=blob_plane)
    try:
        first.install(TENANT, EXAMPLES / "text-stats")
        assert not (home_b / "plugins").exists()
        assert [p.manifest.name for p in second.list(TENANT)] == ["text-stats"]
        assert json.loads(second.call_plugin_tool(TENANT, "text-stats.stats", {"text": "x"}))["words"] == 1
        [extracted] = (home_b / "plugin-packages").iterdir()  # fetched from the blob, extracted here
        assert {p.name for p in extracted.iterdir()} == {"plugin.json", "text_stats.wasm"}

        # Scale to zero wipes the disk: a fresh instance on a fresh disk still runs it.
        second.close()
        shutil.rmtree(home_b)
        second = open_registry(home_b, cosmos=cosmos_plane, blob=blob_plane)
        assert json.loads(second.call_plugin_tool(TENANT, "text-stats.stats", {"text": "x y"}))["words"] == 2
    finally:
        first.close()
        second.close()


def test_the_package_blob_is_replaced_and_deleted_with_the_plugin(
    tmp_path: Path, cosmos_plane: CosmosPlane, blob_plane: BlobPlane
) -> None:
    registry = open_registry(tmp_path / "a", cosmos=cosmos_plane, blob=blob_plane)
    try:
        registry.install(TENANT, constant_plugin(tmp_path, "one"))
        container = cosmos_plane.container("plugins")
        [doc] = container.query_items(
            "SELECT * FROM c WHERE c.tenant_id = @pk",
            parameters=[{"name": "@pk", "value": TENANT}],
            partition_key=TENANT,
        )
        old = doc["package"]
        assert old.startswith(f"plugins/{TENANT}/constant/") and blob_plane.get(old) is not None
        registry.install(TENANT, constant_plugin(tmp_path, "two", version="0.2.0"))
        assert blob_plane.get(old) is None
        [doc] = container.query_items(
            "SELECT * FROM c WHERE c.tenant_id = @pk",
            parameters=[{"name": "@pk", "value": TENANT}],
            partition_key=TENANT,
        )
        registry.remove(TENANT, "constant")
        assert blob_plane.get(doc["package"]) is None
    finally:
        registry.close()
