"""The run event channel: append, tail after a sequence number, watchers, batched text."""

from __future__ import annotations

import time
from pathlib import Path

from convergio.streams import RunStream, TextChannel, sse
from tests.metering._batching import statements


def test_readers_tail_after_the_last_event_they_saw(tmp_path: Path) -> None:
    stream = RunStream(tmp_path / "s.sqlite3")
    first = stream.append("r1", "text", {"delta": "a"})
    stream.append("r2", "text", {"delta": "other run"})
    second = stream.append("r1", "text", {"delta": "b"})
    assert [e.data["delta"] for e in stream.read("r1")] == ["a", "b"]
    assert [e.seq for e in stream.read("r1", after=first)] == [second]
    assert stream.forget("r1") == 2 and stream.read("r1") == []


def test_watching_expires(tmp_path: Path) -> None:
    stream = RunStream(tmp_path / "s.sqlite3")
    assert not stream.watched("r1")
    stream.watch("r1", ttl_s=0.2)
    assert stream.watched("r1") and not stream.watched("r2")
    time.sleep(0.25)
    assert not stream.watched("r1")


def test_a_text_channel_batches_deltas_and_loses_none(tmp_path: Path) -> None:
    stream = RunStream(tmp_path / "s.sqlite3")
    channel = TextChannel(stream, "r1", "writer", 2, interval_s=60)
    for piece in ["Lava ", "", "flows ", "slowly."]:
        channel(piece)
    assert stream.read("r1") == []  # within the interval: nothing written yet
    channel.close()
    (event,) = stream.read("r1")
    assert event.data == {"node": "writer", "attempt": 2, "delta": "Lava flows slowly."}


def test_sse_messages_keep_their_framing_whatever_the_data() -> None:
    text = sse("text", {"delta": "two\n\nlines"}, event_id=7, retry_ms=1000)
    assert text == 'event: text\nid: 7\nretry: 1000\ndata: {"delta":"two\\n\\nlines"}\n\n'


def test_a_watch_from_another_instance_on_the_file_shows_within_the_recheck_bound(tmp_path: Path) -> None:
    agents, endpoint = RunStream(tmp_path / "s.sqlite3"), RunStream(tmp_path / "s.sqlite3")
    assert not agents.watched("r1")
    endpoint.watch("r1", ttl_s=30)  # as the SSE endpoint would, from another process
    assert endpoint.watched("r1")  # its own watch: at once
    time.sleep(agents.recheck_s)
    assert agents.watched("r1") and not agents.watched("r2")


def test_watched_answers_from_memory_and_looks_at_the_file_at_most_every_recheck(tmp_path: Path) -> None:
    agents = RunStream(tmp_path / "s.sqlite3", recheck_s=60)
    endpoint = RunStream(tmp_path / "s.sqlite3")
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
