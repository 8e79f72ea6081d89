"""Shared fixtures: a running docs-style app on the embedded host, and the Azure emulators."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from convergio.controlplane import BlobPlane, CosmosPlane
from tests._emulators import Azurite, CosmosEmulator
from tests._helpers import DOCS_APP, HostProcess


@pytest.fixture(scope="module")
def count_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("counts")


@pytest.fixture(scope="module")
def docs_host(tmp_path_factory: pytest.TempPathFactory, count_dir: Path) -> Iterator[HostProcess]:
    """One host for a module's tests; replay verification is on (CONVERGIO_REPLAY_VERIFY=1)."""
    home = tmp_path_factory.mktemp("home")
    with HostProcess(DOCS_APP, home, {"COUNT_DIR": str(count_dir)}) as host:
        yield host


# ---------------------------------------------------------------- the Azure emulators (shared control plane)


@pytest.fixture(scope="session")
def cosmos_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CosmosEmulator]:
    """The npm Cosmos DB server on a free loopback port, for the whole session."""
    emulator = CosmosEmulator().start(tmp_path_factory.mktemp("cosmos"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's Blob service on a free loopback port, for the whole session."""
    emulator = Azurite().start(tmp_path_factory.mktemp("azurite"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def cosmos_plane(cosmos_emulator: CosmosEmulator) -> CosmosPlane:
    """A fresh database (with every control-plane container) on the emulator, for one test."""
    settings = cosmos_emulator.settings()
    return CosmosPlane.connect(
        settings["COSMOS_ENDPOINT"], settings["COSMOS_DATABASE"], key=cosmos_emulator.key, verify_tls=False
    )


@pytest.fixture
def blob_plane(azurite: Azurite) -> BlobPlane:
    """A fresh blob container on Azurite, for one test."""
    return BlobPlane.connect(
        connection_string=azurite.connection_string, container=f"c{uuid.uuid4().hex[:12]}"
    )
