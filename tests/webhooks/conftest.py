"""The webhook store's contract runs against both adapters: SQLite in a home, Cosmos DB on the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.controlplane import CosmosPlane
from convergio.secrets import LocalSecretStore
from convergio.webhooks import WebhookStore, open_webhook_store
from tests._emulators import CosmosEmulator


def another_client(plane: CosmosPlane, emulator: CosmosEmulator) -> CosmosPlane:
    """The same database through a client of its own, as another instance has (its containers exist)."""
    return CosmosPlane.connect(emulator.endpoint, plane.database.id, key=emulator.key, verify_tls=False)


@pytest.fixture
def secrets(tmp_path: Path) -> LocalSecretStore:
    return LocalSecretStore(tmp_path / "secrets", master_key=b"k" * 32)


@pytest.fixture(params=["sqlite", "cosmos"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, secrets: LocalSecretStore
) -> tuple[WebhookStore, WebhookStore]:
    """Two instances of the store on one backend, as two app instances would open it."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        return open_webhook_store(home, secrets), open_webhook_store(home, secrets)
    plane: CosmosPlane = request.getfixturevalue("cosmos_plane")
    emulator: CosmosEmulator = request.getfixturevalue("cosmos_emulator")
    other = another_client(plane, emulator)
    return open_webhook_store(home, secrets, cosmos=plane), open_webhook_store(home, secrets, cosmos=other)


@pytest.fixture
def store(stores: tuple[WebhookStore, WebhookStore]) -> WebhookStore:
    return stores[0]
