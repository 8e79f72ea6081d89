"""Connection records: the non-secret half of a tenant's provider connections, on both adapters."""

from __future__ import annotations

import pytest

from convergio.tenants import ConnectionRecord, ConnectionRegistry, TenantStore, UnknownTenant
from tests.tenants._backends import OpenStore


def test_put_get_list_delete_per_tenant(store: TenantStore, open_store: OpenStore) -> None:
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
    assert ConnectionRegistry(open_store()).get(acme.id, "gpt") == replaced  # another instance
    assert registry.delete(acme.id, "gpt") and not registry.delete(acme.id, "gpt")
    assert [c.name for c in registry.list(acme.id)] == ["local"]


def test_unknown_tenant_is_refused(store: TenantStore) -> None:
    registry = ConnectionRegistry(store)
    with pytest.raises(UnknownTenant):
        registry.put(ConnectionRecord("ghost", "x", "openai"))
