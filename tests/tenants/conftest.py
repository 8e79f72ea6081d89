"""The tenant store's contract runs against both adapters: SQLite in tmp_path, Cosmos DB on the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.tenants import TenantStore
from tests.tenants._backends import BACKENDS, OpenStore, store_opener


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    """Open one more store on the same state, like another app instance (or the CLI) would."""
    return store_opener(backend, request, tmp_path / "home")


@pytest.fixture
def store(open_store: OpenStore) -> TenantStore:
    return open_store()
