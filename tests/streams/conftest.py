"""The run stream's contract runs against both adapters: SQLite in a home, Cosmos DB on the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convergio.controlplane import CosmosPlane
from convergio.streams import CosmosRunStream, RunStream, SqliteRunStream, open_run_stream
from tests._emulators import CosmosEmulator


def another_client(plane: CosmosPlane, emulator: CosmosEmulator) -> CosmosPlane:
    """The same database through a client of its own, as another instance has (its containers exist)."""
    return CosmosPlane.connect(emulator.endpoint, plane.database.id, key=emulator.key, verify_tls=False)


Instance = Callable[..., RunStream]
"""Opens another instance of the stream on the same backend (keyword ``recheck_s`` optional)."""


@pytest.fixture(params=["sqlite", "cosmos"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """A factory of stream instances sharing one backend, as several app instances would."""
    opened: list[RunStream] = []
    if request.param == "sqlite":

        def sqlite(**options: float) -> RunStream:
            opened.append(SqliteRunStream(tmp_path / "streams.sqlite3", **options))
            return opened[-1]

        yield sqlite
    else:
        plane: CosmosPlane = request.getfixturevalue("cosmos_plane")
        emulator: CosmosEmulator = request.getfixturevalue("cosmos_emulator")

        def cosmos(**options: float) -> RunStream:
            # each instance its own client, as on another machine
            own = another_client(plane, emulator)
            opened.append(CosmosRunStream(own, **options))
            return opened[-1]

        yield cosmos
    for stream in opened:
        stream.close()


@pytest.fixture
def stream(instance: Instance) -> RunStream:
    return instance()


@pytest.fixture
def home_stream(tmp_path: Path) -> Iterator[RunStream]:
    """What the factory opens without a control plane."""
    opened = open_run_stream(tmp_path)
    yield opened
    opened.close()
