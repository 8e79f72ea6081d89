"""One contract over both ``kv`` stores: SQLite in the home and Cosmos DB (on its emulator)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import convergio.plugins._kv_cosmos as kv_cosmos
from convergio.controlplane import CosmosPlane
from convergio.plugins import CosmosKVStore, KVStore, PluginKV, PutResult


@pytest.fixture(params=["sqlite", "cosmos"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PluginKV]:
    limits = {"key_bytes": 8, "value_bytes": 16, "quota_bytes": 40}
    store: PluginKV
    if request.param == "sqlite":
        store = KVStore(tmp_path / "kv.sqlite3", **limits)
    else:
        plane: CosmosPlane = request.getfixturevalue("cosmos_plane")
        store = CosmosKVStore(plane.container("plugins"), **limits)
    yield store
    store.close()


def test_values_round_trip_per_tenant_and_plugin(kv: PluginKV) -> None:
    assert kv.get("t1", "p", b"k") is None
    assert kv.put("t1", "p", b"k", b"\x00binary\xff") == "ok"
    assert kv.put("t1", "q", b"k", b"other plugin") == "ok"
    assert kv.put("t2", "p", b"k", b"other tenant") == "ok"
    assert kv.get("t1", "p", b"k") == b"\x00binary\xff"
    assert kv.put("t1", "p", b"k", b"") == "ok"  # replaced, with an empty value
    assert kv.get("t1", "p", b"k") == b""
    assert (kv.get("t1", "q", b"k"), kv.get("t2", "p", b"k")) == (b"other plugin", b"other tenant")

    kv.clear("t1", "p")
    kv.clear("t1", "nothing-stored")
    assert kv.get("t1", "p", b"k") is None
    assert kv.get("t1", "q", b"k") == b"other plugin"


def test_limits_and_the_quota_write_nothing(kv: PluginKV) -> None:
    assert kv.put("t1", "p", b"k" * 9, b"v") == "too_large"
    assert kv.put("t1", "p", b"k", b"v" * 17) == "too_large"
    assert kv.put("t1", "p", b"a", b"v" * 16) == "ok"  # 17 of 40
    assert kv.put("t1", "p", b"b", b"v" * 16) == "ok"  # 34
    assert kv.put("t1", "p", b"c", b"v" * 6) == "quota"  # 41
    assert kv.get("t1", "p", b"c") is None
    assert kv.put("t1", "p", b"b", b"v" * 10) == "ok"  # a replaced value counts once: 28
    assert kv.put("t1", "p", b"c", b"v" * 11) == "ok"  # 40, exactly full
    assert kv.put("t1", "q", b"c", b"v" * 16) == "ok"  # the quota is per plugin
    kv.clear("t1", "p")
    assert kv.put("t1", "p", b"z", b"v" * 16) == "ok"  # a clear frees the quota


def test_parallel_writers_never_pass_the_quota(kv: PluginKV) -> None:
    results: list[PutResult] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        for i in range(2):
            outcome = kv.put("t1", "p", f"{worker}-{i}".encode(), b"v" * 7)  # 10 bytes each
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] * 4 + ["quota"] * 2
    stored = [kv.get("t1", "p", f"{w}-{i}".encode()) for w in range(3) for i in range(2)]
    assert sum(value is not None for value in stored) == 4


def test_limits_below_one_are_refused(tmp_path: Path, cosmos_plane: CosmosPlane) -> None:
    with pytest.raises(ValueError, match="value_bytes must be >= 1"):
        KVStore(tmp_path / "kv.sqlite3", value_bytes=0)
    with pytest.raises(ValueError, match="key_bytes must be >= 1"):
        CosmosKVStore(cosmos_plane.container("plugins"), key_bytes=0)


def test_the_cosmos_quota_fits_one_document(
    cosmos_plane: CosmosPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = cosmos_plane.container("plugins")
    with pytest.raises(ValueError, match="quota_bytes must be <="):
        CosmosKVStore(container, quota_bytes=kv_cosmos.MAX_QUOTA_BYTES + 1)
    # Very many tiny entries fill the document before the quota: the store is full.
    monkeypatch.setattr(kv_cosmos, "_DOC_BUDGET", 30)  # 12 per entry here
    store = CosmosKVStore(container)
    assert store.put("t1", "p", b"a", b"") == "ok"
    assert store.put("t1", "p", b"b", b"") == "ok"
    assert store.put("t1", "p", b"c", b"") == "quota"
