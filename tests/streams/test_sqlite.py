"""The SQLite adapter's own promises: ``watched`` costs no statement within the recheck bound, and
``seal`` commits nothing while the run's only watchers read through its instance (ADR 0055)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import convergio._sqlite
from convergio.streams import SqliteRunStream
from tests.metering._batching import statements


def test_watched_answers_from_memory_and_looks_at_the_file_at_most_every_recheck(tmp_path: Path) -> None:
    agents = SqliteRunStream(tmp_path / "s.sqlite3", recheck_s=60)
    endpoint = SqliteRunStream(tmp_path / "s.sqlite3")
    endpoint.watch("r1", ttl_s=30)
    with statements(agents._db) as seen:
        assert all(agents.watched("r1") for _ in range(1000))
    assert seen[0] == "PRAGMA data_version" and len(seen) == 2  # and the live watchers, once
    endpoint.watch("r2", ttl_s=30)
    agents.watch("r3", ttl_s=30)
    with statements(agents._db) as seen:
        assert not agents.watched("r2")  # within the bound: not yet
        assert agents.watched("r3")  # its own: at once
    assert seen == []


def test_seal_commits_nothing_while_only_this_instance_watches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convergio._sqlite, "DEFER_S", 60.0)  # no flusher meanwhile: only what seal stores
    host = SqliteRunStream(tmp_path / "s.sqlite3", recheck_s=0.05)  # the SSE endpoint's and the agents'
    other = SqliteRunStream(tmp_path / "s.sqlite3")  # another process on the same file
    try:
        host.watch("r1", ttl_s=30)
        host.post("r1", "began", {"node": "a"})
        with statements(host._db) as seen:
            host.seal("r1")
        assert not any(sql.startswith(("INSERT", "COMMIT", "BEGIN")) for sql in seen), seen
        assert other.read("r1") == []  # not committed yet
        assert [e.data for e in host.read("r1")] == [{"node": "a"}]  # the watcher's read stores it first
        assert [e.data for e in other.read("r1")] == [{"node": "a"}]
        other.watch("r1", ttl_s=30)  # now a watcher elsewhere too
        time.sleep(host.recheck_s)
        host.post("r1", "began", {"node": "b"})
        host.seal("r1")
        assert [e.data for e in other.read("r1")][-1:] == [{"node": "b"}]
        host.watch("r2", ttl_s=0.05)  # a watch of this instance that expired: stored as for anyone
        time.sleep(0.06)
        host.post("r2", "began", {"node": "c"})
        host.seal("r2")
        assert [e.data for e in other.read("r2")] == [{"node": "c"}]
    finally:
        host.close()
        other.close()


def test_prune_drops_watches_that_ended(tmp_path: Path) -> None:
    stream = SqliteRunStream(tmp_path / "s.sqlite3")
    try:
        stream.watch("r1", ttl_s=0.01)
        stream.watch("r2", ttl_s=30)
        time.sleep(0.02)
        stream.prune(older_than_s=3600)
        with stream._db.read() as db:
            assert db.execute("SELECT run_id FROM watches").fetchall() == [("r2",)]
    finally:
        stream.close()
