"""Connection records: the non-secret half of a tenant's provider connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.tenants import ConnectionRecord, ConnectionRegistry, UnknownTenant, open_tenant_store


def test_put_get_list_delete_per_tenant(tmp_path: Path) -> None:
    store = open_tenant_store(tmp_path)
    acme, _ = store.add_tenant("Acme")
    other, _ = store.add_tenant("Other")
    registry = ConnectionRegistry(store)
    saved = registry.put(
        ConnectionRecord(acme.id, "gpt", "openai", model="gpt-4o-mini", key_fingerprint="…abcd")
    )
    assert saved.updated_at and registry.get(acme.id, "gpt") == saved
    registry.put(
        ConnectionRecord(acme.id, "local", "openai-compatible", endpoint="http://127.0.0.1:11434/v1")
    )
    assert [c.name for c in registry.list(acme.id)] == ["gpt", "local"]
    assert registry.get(other.id, "gpt") is None and registry.list(other.id) == []
    replaced = registry.put(ConnectionRecord(acme.id, "gpt", "openai", model="gpt-4o"))
    assert registry.get(acme.id, "gpt") == replaced and replaced.key_fingerprint is None
    assert ConnectionRegistry(open_tenant_store(tmp_path)).get(acme.id, "gpt") == replaced  # another process
    assert registry.delete(acme.id, "gpt") and not registry.delete(acme.id, "gpt")


def test_unknown_tenant_is_refused(tmp_path: Path) -> None:
    registry = ConnectionRegistry(open_tenant_store(tmp_path))
    with pytest.raises(UnknownTenant):
        registry.put(ConnectionRecord("ghost", "x", "openai"))
