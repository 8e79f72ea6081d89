"""One contract over both encrypted stores: the home's file and the control plane (Cosmos DB emulator).

Key Vault keeps its own suite against the HTTP-boundary fake (test_keyvault.py). Each backend here
can open a second store on the same data (another process on the home; another instance, with a
home of its own, on the control plane), show every stored byte, and move an entry by hand.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from convergio.controlplane import CosmosPlane
from convergio.secrets import (
    CachedSecretStore,
    CosmosSecretStore,
    LocalSecretStore,
    Secret,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    fingerprint,
    open_secret_store,
)

KEY = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"
OTHER_KEY = "sk-ant-api03-Hh7Jj2Kk9Ll4Mm1Nn8Pp3Qq6Rr0Ss5Tt"
TENANTS = ("victim", "attacker", "t1", "t2")


@dataclass
class Backend:
    """Where a store's entries live, and the hands a test needs on them."""

    kind: str
    home: Path
    plane: CosmosPlane | None = None
    master_key: bytes = field(default_factory=lambda: os.urandom(32))

    def open(self, *, master_key: bytes | None = None) -> SecretStore:
        key = master_key or self.master_key
        if self.plane is None:
            return LocalSecretStore(self.home, master_key=key)
        return CosmosSecretStore(self.plane.container("secrets"), master_key=key)

    def stored(self) -> bytes:
        """Every stored byte (the file, or every document)."""
        if self.plane is None:
            return b"".join(p.read_bytes() for p in self.home.rglob("*") if p.is_file())
        return json.dumps([self._docs(t) for t in TENANTS]).encode()

    def move(self, source: tuple[str, str], target: tuple[str, str]) -> None:
        """Copy an entry, as it is, under another (tenant, name): an attacker with write access."""
        if self.plane is None:
            path = self.home / "secrets.json"
            doc = json.loads(path.read_text())
            doc["tenants"].setdefault(target[0], {})[target[1]] = doc["tenants"][source[0]][source[1]]
            path.write_text(json.dumps(doc))
            return
        [found] = [d for d in self._docs(source[0]) if d["name"] == source[1]]
        body = {k: v for k, v in found.items() if not k.startswith("_")}
        self.plane.container("secrets").upsert_item(
            {**body, "id": target[1], "tenant_id": target[0], "name": target[1]}
        )

    def _docs(self, tenant_id: str) -> list[dict[str, Any]]:
        assert self.plane is not None
        return list(
            self.plane.container("secrets").query_items(
                "SELECT * FROM c WHERE c.tenant_id = @pk",
                parameters=[{"name": "@pk", "value": tenant_id}],
                partition_key=tenant_id,
            )
        )


@pytest.fixture(params=["local", "cosmos"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    plane = request.getfixturevalue("cosmos_plane") if request.param == "cosmos" else None
    return Backend(request.param, tmp_path / "home", plane)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG, the Azure SDK's HTTP logging included."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_round_trip_list_and_a_second_store_reads(backend: Backend) -> None:
    store = backend.open()
    info = store.put("t1", "openai", Secret(KEY))
    store.put("t1", "anthropic", Secret(OTHER_KEY))
    assert info.fingerprint == fingerprint(KEY)
    assert store.get("t1", "openai").reveal() == KEY
    infos = store.list("t1")
    assert [(i.name, i.fingerprint) for i in infos] == [
        ("anthropic", fingerprint(OTHER_KEY)),
        ("openai", fingerprint(KEY)),
    ]
    assert store.list("t2") == []
    with pytest.raises(SecretNotFound):
        store.get("t2", "openai")
    assert backend.open().get("t1", "anthropic").reveal() == OTHER_KEY


def test_put_replaces_and_delete_removes(backend: Backend) -> None:
    store, other = backend.open(), backend.open()
    store.put("t1", "openai", Secret(KEY))
    other.put("t1", "openai", Secret(OTHER_KEY))
    assert store.get("t1", "openai").reveal() == OTHER_KEY
    assert other.delete("t1", "openai") is True
    assert store.delete("t1", "openai") is False
    with pytest.raises(SecretNotFound):
        store.get("t1", "openai")
    assert store.list("t1") == []


def test_nothing_in_clear_in_storage_logs_reprs_or_errors(
    backend: Backend, every_log: pytest.LogCaptureFixture
) -> None:
    store = backend.open()
    for tenant in ("t1", "t2"):
        store.put(tenant, "openai", Secret(KEY))
        store.put(tenant, "anthropic", Secret(OTHER_KEY))
    store.get("t1", "openai")
    store.list("t1")
    store.delete("t2", "anthropic")
    with pytest.raises(SecretStoreError, match="another master key") as wrong_key:
        backend.open(master_key=os.urandom(32)).get("t1", "openai")

    stored = backend.stored()
    shown = every_log.text + repr(store) + str(wrong_key.value) + repr(store.list("t1"))
    for value in (KEY, OTHER_KEY):
        for form in (value.encode(), base64.b64encode(value.encode())):
            assert form not in stored
        assert all(value[i : i + 8].encode() not in stored for i in range(len(value) - 8))
        assert value not in shown
    assert wrong_key.value.__cause__ is None


def test_an_entry_moved_to_another_tenant_or_name_fails_its_integrity_check(backend: Backend) -> None:
    store = backend.open()
    store.put("victim", "openai", Secret(KEY))
    backend.move(("victim", "openai"), ("attacker", "openai"))
    backend.move(("victim", "openai"), ("victim", "renamed"))
    for tenant, name in (("attacker", "openai"), ("victim", "renamed")):
        with pytest.raises(SecretStoreError, match="integrity check") as raised:
            store.get(tenant, name)
        assert KEY not in str(raised.value) and raised.value.__cause__ is None
    assert store.get("victim", "openai").reveal() == KEY


def test_names_and_values_are_checked_before_anything_is_stored(backend: Backend) -> None:
    store = backend.open()
    for bad in ("", "OpenAI", "a/b", "x" * 64):
        with pytest.raises(ValueError, match="connection name"):
            store.put("t1", bad, Secret(KEY))
    with pytest.raises(ValueError, match="tenant id"):
        store.get("t 1", "openai")
    with pytest.raises(ValueError, match="empty"):
        store.put("t1", "openai", Secret(""))
    with pytest.raises(TypeError, match="Secret"):
        store.put("t1", "openai", KEY)  # type: ignore[arg-type]
    assert store.list("t1") == []


def test_the_control_plane_needs_the_shared_master_key(tmp_path: Path, cosmos_plane: CosmosPlane) -> None:
    with pytest.raises(SecretStoreError, match="CONVERGIO_SECRETS_MASTER_KEY") as refused:
        open_secret_store(home=tmp_path / "a", cosmos=cosmos_plane)
    assert "per instance" in str(refused.value)
    assert not (tmp_path / "a" / "secrets.key").exists()
    for bad in ("not base64 at all!", base64.b64encode(b"short").decode()):
        with pytest.raises(SecretStoreError, match="master key setting") as raised:
            open_secret_store(home=tmp_path / "a", cosmos=cosmos_plane, master_key_b64=bad)
        assert bad not in str(raised.value)


def test_a_secret_put_by_one_instance_is_read_by_another(tmp_path: Path, cosmos_plane: CosmosPlane) -> None:
    key_b64 = base64.b64encode(os.urandom(32)).decode()
    first = open_secret_store(home=tmp_path / "a", cosmos=cosmos_plane, master_key_b64=key_b64)
    second = open_secret_store(
        home=tmp_path / "b", cosmos=cosmos_plane, master_key_b64=key_b64, ttl_seconds=0
    )
    assert isinstance(first, CachedSecretStore) and isinstance(first.inner, CosmosSecretStore)
    first.put("rome-primary", "openai", Secret(KEY))
    assert second.get("rome-primary", "openai").reveal() == KEY
    assert [i.name for i in second.list("rome-primary")] == ["openai"]
    assert second.delete("rome-primary", "openai") is True
    assert first.list("rome-primary") == []
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # no file on any disk


def test_key_vault_comes_first(tmp_path: Path, cosmos_plane: CosmosPlane) -> None:
    from convergio.secrets import KeyVaultSecretStore
    from tests.secrets._fake_vault import FakeCredential, new_vault_url

    store = open_secret_store(
        home=tmp_path, key_vault_url=new_vault_url(), credential=FakeCredential(), cosmos=cosmos_plane
    )
    assert isinstance(store, CachedSecretStore) and isinstance(store.inner, KeyVaultSecretStore)
