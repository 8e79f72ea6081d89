"""The Cosmos DB adapter's own promises: what its hot paths cost, and numbering that survives a forget."""

from __future__ import annotations

from typing import Any

from convergio.controlplane import CosmosPlane
from convergio.streams import CosmosRunStream
from tests._emulators import CosmosEmulator
from tests.streams.conftest import another_client


class _Counting:
    """The real container, counting the calls made through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return found(*args, **kwargs)

        return call


def _counted(stream: CosmosRunStream) -> _Counting:
    counting = _Counting(stream._container)
    stream._container = counting
    return counting


def test_watched_looks_at_the_watchers_at_most_once_per_recheck(cosmos_plane: CosmosPlane) -> None:
    agents, endpoint = CosmosRunStream(cosmos_plane, recheck_s=60), CosmosRunStream(cosmos_plane)
    endpoint.watch("r1", ttl_s=30)
    counting = _counted(agents)
    assert all(agents.watched("r1") for _ in range(1000))
    assert counting.calls == ["query_items"]


def test_a_lone_writer_pays_one_create_per_event(cosmos_plane: CosmosPlane) -> None:
    stream = CosmosRunStream(cosmos_plane)
    stream.append("r1", "text", {"i": 0})
    counting = _counted(stream)
    assert [stream.append("r1", "text", {"i": i}) for i in range(1, 4)] == [2, 3, 4]
    assert counting.calls == ["create_item"] * 3


def test_numbering_continues_after_a_forget_on_a_fresh_instance(
    cosmos_plane: CosmosPlane, cosmos_emulator: CosmosEmulator
) -> None:
    stream = CosmosRunStream(cosmos_plane)
    for i in range(3):
        stream.append("r1", "text", {"i": i})
    assert stream.forget("r1") == 3
    fresh = CosmosRunStream(another_client(cosmos_plane, cosmos_emulator))  # knows nothing of r1
    assert fresh.append("r1", "text", {"i": 3}) == 4
    assert [e.seq for e in stream.read("r1")] == [4]
