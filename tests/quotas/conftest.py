"""The quota contract runs against both adapters: SQLite on a temporary file, Cosmos DB on the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convergio.controlplane import CosmosPlane
from convergio.quotas import CosmosQuotaStore, QuotaStore, SqliteQuotaStore
from tests._emulators import CosmosEmulator

OpenStore = Callable[[], QuotaStore]
"""Open another store on the same state: another process (SQLite) or app instance (Cosmos DB)."""


@pytest.fixture(params=["sqlite", "cosmos"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    opened: list[QuotaStore] = []
    if request.param == "sqlite":
        path = tmp_path / "quotas.sqlite3"

        def sqlite() -> QuotaStore:
            opened.append(SqliteQuotaStore(path))
            return opened[-1]

        yield sqlite
    else:
        emulator: CosmosEmulator = request.getfixturevalue("cosmos_emulator")
        plane: CosmosPlane = request.getfixturevalue("cosmos_plane")

        def cosmos() -> QuotaStore:
            if opened:  # another instance: its own client on the same database
                plane_of_instance = CosmosPlane.connect(
                    emulator.endpoint, plane.database.id, key=emulator.key, verify_tls=False
                )
            else:
                plane_of_instance = plane
            opened.append(CosmosQuotaStore(plane_of_instance.container("quotas")))
            return opened[-1]

        yield cosmos
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> QuotaStore:
    return open_store()
