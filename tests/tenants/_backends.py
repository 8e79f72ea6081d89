"""The backends the tenant store's contract runs on, and how a test opens stores on one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from convergio.controlplane import CosmosPlane
from convergio.tenants import TenantStore, open_tenant_store
from tests._emulators import CosmosEmulator

__all__ = ["BACKENDS", "OpenStore", "store_opener"]

BACKENDS = ["sqlite", "cosmos"]

OpenStore = Callable[[], TenantStore]
"""Opens one more store on the same state, like another app instance (or the CLI)."""


def store_opener(backend: str, request: pytest.FixtureRequest, home: Path) -> OpenStore:
    """Open stores on one state: a SQLite file in ``home``, or a fresh database on the emulator.

    On Cosmos DB each store after the first gets a client of its own for the same database,
    as another app instance would.
    """
    if backend == "sqlite":
        return lambda: open_tenant_store(home)
    plane: CosmosPlane = request.getfixturevalue("cosmos_plane")
    emulator: CosmosEmulator = request.getfixturevalue("cosmos_emulator")
    unused = [plane]

    def another() -> TenantStore:
        if unused:
            return open_tenant_store(home, cosmos=unused.pop())
        other = CosmosPlane.connect(emulator.endpoint, plane.database.id, key=emulator.key, verify_tls=False)
        return open_tenant_store(home, cosmos=other)

    return another
