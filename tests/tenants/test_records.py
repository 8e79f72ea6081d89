"""Tenant records (the storage under connections and MCP servers), on both adapters."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from convergio.tenants import ConnectionRegistry, TenantRecords, TenantStore, UnknownTenant, open_tenant_store
from tests.tenants._backends import OpenStore

BODY = {"kind": "openai", "nested": {"list": [1, 2.5, None, True], "text": "é ✓"}, "empty": {}}


def test_records_are_kept_whole_per_kind_tenant_and_name(store: TenantStore, open_store: OpenStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    connections, servers = store.records("connections"), store.records("mcp_servers")
    assert isinstance(connections, TenantRecords)
    connections.put("acme", "b/odd?name#1", BODY)  # characters Cosmos DB refuses in ids
    connections.put("acme", "a", {"n": 1})
    assert connections.get("acme", "b/odd?name#1") == BODY
    assert connections.list("acme") == [{"n": 1}, BODY]  # by name
    assert connections.list("beta") == [] and connections.get("beta", "a") is None
    assert servers.get("acme", "a") is None and servers.list("acme") == []  # kinds do not mix
    connections.put("acme", "a", {"n": 2})
    assert open_store().records("connections").get("acme", "a") == {"n": 2}  # another instance
    assert connections.delete("acme", "a") and not connections.delete("acme", "a")
    assert not connections.delete("nobody", "a")
    assert connections.list("acme") == [BODY]


def test_records_of_unknown_tenants_are_refused(store: TenantStore) -> None:
    with pytest.raises(UnknownTenant):
        store.records("connections").put("ghost", "x", {})
    assert store.records("connections").list("ghost") == []


@pytest.mark.parametrize("kind", ["", "Connections", "run", "key", "tenant", "principal", "a-b", "x" * 33])
def test_bad_or_reserved_kinds_are_refused(store: TenantStore, kind: str) -> None:
    with pytest.raises(ValueError, match="record kind"):
        store.records(kind)


_LEGACY_SCHEMA = """
CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE connections (
    tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, kind TEXT NOT NULL,
    endpoint TEXT NULL, deployment TEXT NULL, api_version TEXT NULL, model TEXT NULL,
    key_fingerprint TEXT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, name)
);
CREATE TABLE mcp_servers (
    tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, url TEXT NULL,
    transport TEXT NOT NULL, command TEXT NOT NULL, headers TEXT NOT NULL, timeout_s REAL NOT NULL,
    tools TEXT NOT NULL, refreshed_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, name)
);
INSERT INTO tenants VALUES ('acme', 'Acme', '2025-01-01T00:00:00.000000+00:00');
INSERT INTO connections VALUES ('acme', 'gpt', 'openai', NULL, NULL, NULL, 'gpt-4o', '…abcd', 't1');
INSERT INTO mcp_servers VALUES ('acme', 'docs', 'https://docs.example/mcp', 'http', '[]',
    '{"x-token": "…ef"}', 5.0,
    '[{"name": "add", "description": "Add.", "input_schema": {"type": "object"}}]', 't2', 't3');
"""


def test_an_earlier_releases_tables_are_folded_into_records_once(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "tenants.sqlite3") as db:
        db.executescript(_LEGACY_SCHEMA)
    store = open_tenant_store(tmp_path)
    gpt = ConnectionRegistry(store).get("acme", "gpt")
    assert gpt is not None and (gpt.model, gpt.key_fingerprint, gpt.updated_at) == ("gpt-4o", "…abcd", "t1")
    docs = store.records("mcp_servers").get("acme", "docs")
    assert docs is not None and docs["headers"] == {"x-token": "…ef"} and docs["tools"][0]["name"] == "add"
    assert json.loads(json.dumps(docs)) == docs
    with sqlite3.connect(tmp_path / "tenants.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"connections", "mcp_servers"} & tables
    assert ConnectionRegistry(open_tenant_store(tmp_path)).list("acme") == [gpt]  # opened again: unchanged


def test_create_makes_a_record_once_whoever_races(store: TenantStore, open_store: OpenStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    keys, other = store.records("idempotency"), open_store().records("idempotency")
    assert keys.create("acme", "k/1", {"run_id": "r1"})
    assert not other.create("acme", "k/1", {"run_id": "r2"})  # another instance loses the claim
    assert keys.get("acme", "k/1") == {"run_id": "r1"}
    assert other.create("beta", "k/1", {"run_id": "r3"})  # per tenant
    with pytest.raises(UnknownTenant):
        keys.create("ghost", "k", {})


def test_delete_if_removes_a_record_only_while_it_is_unchanged(
    store: TenantStore, open_store: OpenStore
) -> None:
    store.add_tenant("Acme")
    keys, other = store.records("idempotency"), open_store().records("idempotency")
    seen = {"run_id": "r1", "created_at": "2026-01-01T00:00:00+00:00", "n": [1, 2]}
    keys.put("acme", "k", seen)
    other.put("acme", "k", {**seen, "run_id": "r2"})  # rewritten by another instance after the read
    assert not keys.delete_if("acme", "k", seen)
    assert keys.get("acme", "k") == {**seen, "run_id": "r2"}
    assert keys.delete_if("acme", "k", {"n": [1, 2], "created_at": seen["created_at"], "run_id": "r2"})
    assert keys.get("acme", "k") is None
    assert not keys.delete_if("acme", "k", seen)  # nothing left to remove
    store.records("connections").put("acme", "k", seen)  # another kind, same name and body
    assert not keys.delete_if("acme", "k", seen)
    assert store.records("connections").get("acme", "k") == seen
