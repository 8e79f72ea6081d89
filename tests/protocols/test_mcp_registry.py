"""MCP server records in the tenant store, on both adapters (SQLite file, Cosmos DB emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.protocols import McpServerRecord, McpServerRegistry
from convergio.protocols._types import RemoteToolInfo
from convergio.tenants import TenantStore, UnknownTenant
from tests.tenants._backends import BACKENDS, OpenStore, store_opener


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    return store_opener(str(request.param), request, tmp_path / "home")


@pytest.fixture
def store(open_store: OpenStore) -> TenantStore:
    store = open_store()
    store.add_tenant("Acme")
    store.add_tenant("Globex")
    return store


ADD = RemoteToolInfo("add", "Add two integers.", {"type": "object", "required": ["a", "b"], "$defs": {}})


def test_records_round_trip_per_tenant(store: TenantStore, open_store: OpenStore) -> None:
    registry = McpServerRegistry(store)
    docs = registry.put(
        McpServerRecord("acme", "docs", "https://docs.example/mcp", headers={"x-token": "…ef"}, tools=(ADD,))
    )
    local = registry.put(
        McpServerRecord(
            "acme", "local", None, transport="stdio", command=("python", "-m", "srv"), timeout_s=2.5
        )
    )
    assert docs.updated_at and registry.get("acme", "docs") == docs
    assert registry.list("acme") == [docs, local]
    assert docs.tool("add") == ADD
    assert registry.list("globex") == [] and registry.get("globex", "docs") is None
    assert McpServerRegistry(open_store()).get("acme", "local") == local  # another instance
    assert registry.delete("acme", "docs") and not registry.delete("acme", "docs")
    assert registry.list("acme") == [local]
    with pytest.raises(UnknownTenant):
        registry.put(McpServerRecord("ghost", "docs", "https://docs.example/mcp"))
