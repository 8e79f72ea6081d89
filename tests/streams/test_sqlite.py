"""The SQLite adapter's own promise: ``watched`` costs no statement within the recheck bound."""

from __future__ import annotations

from pathlib import Path

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
