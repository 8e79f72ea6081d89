"""The run stream's contract, for both adapters: append, tail after a sequence number, watchers, text."""

from __future__ import annotations

import threading
import time

from convergio.streams import RunStream, SqliteRunStream, TextChannel, compact, sse, sse_text
from tests.streams.conftest import Instance


def test_readers_tail_after_the_last_event_they_saw(stream: RunStream) -> None:
    first = stream.append("r1", "text", {"delta": "a"})
    stream.append("r2", "text", {"delta": "other run"})
    second = stream.append("r1", "text", {"delta": "b", "nested": {"n": [1, 2]}})
    assert 0 < first < second
    assert [e.data["delta"] for e in stream.read("r1")] == ["a", "b"]
    assert [e.seq for e in stream.read("r1", after=first)] == [second]
    assert stream.read("r1", after=first)[0].data["nested"] == {"n": [1, 2]}
    assert [e.seq for e in stream.read("r1", limit=1)] == [first] and stream.read("r1", after=second) == []
    assert stream.forget("r1") == 2 and stream.read("r1") == [] and stream.forget("r1") == 0
    assert [e.data["delta"] for e in stream.read("r2")] == ["other run"]
    assert stream.append("r1", "text", {"delta": "c"}) > second  # a reader's Last-Event-ID stays valid


def test_prune_drops_old_events(stream: RunStream) -> None:
    stream.append("r1", "text", {"delta": "a"})
    stream.append("r2", "text", {"delta": "b"})
    assert stream.prune(older_than_s=3600) == 0
    time.sleep(0.01)
    assert stream.prune(older_than_s=0) == 2 and stream.read("r1") == [] and stream.read("r2") == []


def test_watching_expires(stream: RunStream) -> None:
    assert not stream.watched("r1")
    stream.watch("r1", ttl_s=0.3)
    assert stream.watched("r1") and not stream.watched("r2")
    time.sleep(0.35)
    assert not stream.watched("r1")


def test_a_text_channel_batches_deltas_and_loses_none(stream: RunStream) -> None:
    channel = TextChannel(stream, "r1", "writer", 2, interval_s=60)
    for piece in ["Lava ", "", "flows ", "slowly."]:
        channel(piece)
    assert stream.read("r1") == []  # within the interval: nothing written yet
    channel.close()
    (event,) = stream.read("r1")
    assert event.data == {"node": "writer", "attempt": 2, "delta": "Lava flows slowly."}


def test_posted_events_are_stored_in_order_by_the_next_append_or_flush(instance: Instance) -> None:
    writer, reader = instance(), instance()  # the reader as the SSE endpoint: another connection
    writer.post("r1", "began", {"node": "a"})
    writer.post("r2", "began", {"node": "x"})
    last = writer.append("r1", "text", {"node": "a", "delta": "done"})
    events = reader.read("r1")  # stored when the append returned, before it, with lower numbers
    assert [e.kind for e in events] == ["began", "text"] and events[0].seq < events[1].seq == last
    writer.post("r1", "text", {"delta": "more"})
    writer.flush()
    assert [e.data for e in reader.read("r1", after=last)] == [{"delta": "more"}]
    assert [e.data for e in reader.read("r2")] == [{"node": "x"}]


def test_a_text_channel_stores_what_its_call_posted_before_close_returns(instance: Instance) -> None:
    writer, reader = instance(), instance()
    writer.post("r1", "began", {"node": "writer"})  # as run_agent says the call began
    TextChannel(writer, "r1", "writer", 1).close()  # no text (a failed or tool-only call)
    assert [e.kind for e in reader.read("r1")] == ["began"]
    writer.post("r1", "began", {"node": "other"})
    channel = TextChannel(writer, "r1", "other", 1, interval_s=0)
    channel("Lava ")  # past the interval: posted, the provider's stream does not wait
    channel("flows.")
    channel.close()
    events = reader.read("r1")[1:]
    assert [(e.kind, e.data.get("delta")) for e in events] == [
        ("began", None),
        ("text", "Lava "),
        ("text", "flows."),
    ]
    assert [e.seq for e in events] == sorted({e.seq for e in events})


def test_sse_messages_keep_their_framing_whatever_the_data() -> None:
    text = sse("text", {"delta": "two\n\nlines"}, event_id=7, retry_ms=1000)
    assert text == 'event: text\nid: 7\nretry: 1000\ndata: {"delta":"two\\n\\nlines"}\n\n'


def test_the_factory_opens_a_file_in_the_home_without_a_control_plane(home_stream: RunStream) -> None:
    assert isinstance(home_stream, SqliteRunStream) and isinstance(home_stream, RunStream)
    assert home_stream.read("r1", after=0) == []


# ---------------------------------------------------------------- several instances on one backend


def test_a_watch_from_another_instance_shows_within_the_recheck_bound(instance: Instance) -> None:
    agents, endpoint = instance(recheck_s=0.05), instance()
    assert not agents.watched("r1")
    endpoint.watch("r1", ttl_s=30)  # as the SSE endpoint would, on another instance
    assert endpoint.watched("r1")  # its own watch: at once
    time.sleep(agents.recheck_s)
    assert agents.watched("r1") and not agents.watched("r2")


def test_watched_answers_from_memory_within_the_recheck_bound(instance: Instance) -> None:
    agents, endpoint = instance(recheck_s=60), instance()
    endpoint.watch("r1", ttl_s=30)
    assert agents.watched("r1")  # the first look reads the watchers
    endpoint.watch("r2", ttl_s=30)
    agents.watch("r3", ttl_s=30)
    assert not agents.watched("r2")  # within the bound: not yet
    assert agents.watched("r3")  # its own: at once


def test_events_appended_on_two_instances_read_as_one_sequence(instance: Instance) -> None:
    a, b = instance(), instance()
    seqs = [(a if i % 2 == 0 else b).append("r1", "text", {"i": i}) for i in range(6)]
    for reader in (a, b):
        events = reader.read("r1")
        assert [e.data["i"] for e in events] == list(range(6)) and [e.seq for e in events] == seqs
    assert seqs == list(range(seqs[0], seqs[0] + 6))  # gap-free


def test_a_reader_resuming_on_another_instance_gets_exactly_the_rest(instance: Instance) -> None:
    writer, first, second = instance(), instance(), instance()
    for i in range(3):
        writer.append("r1", "text", {"i": i})
    seen = first.read("r1", limit=2)
    for i in range(3, 5):
        writer.append("r1", "text", {"i": i})
    rest = second.read("r1", after=seen[-1].seq)  # Last-Event-ID, on another instance
    assert [e.data["i"] for e in seen + rest] == list(range(5))


def test_parallel_appends_on_two_instances_get_unique_increasing_numbers(instance: Instance) -> None:
    instances = [instance(), instance()]
    start = threading.Barrier(4)
    taken: list[int] = []

    def write(stream: RunStream, n: int) -> None:
        start.wait()
        for i in range(4):
            seq = stream.append("r1", "text", {"writer": n, "i": i})
            taken.append(seq)

    threads = [threading.Thread(target=write, args=(instances[n % 2], n)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = instances[1].read("r1")
    assert sorted(taken) == [e.seq for e in events] and len(set(taken)) == 16
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 16))
    for n in range(4):  # each writer's events in its own order
        assert [e.data["i"] for e in events if e.data["writer"] == n] == list(range(4))


# ---------------------------------------------------------------- cancellation (ADR 0017)


def test_a_cancellation_covers_the_run_and_its_sub_graphs_and_is_seen_by_other_instances(
    instance: Instance,
) -> None:
    agents, api = instance(recheck_s=0.05), instance()
    assert not agents.cancelled("r1") and not api.cancelled("r1")
    api.cancel("r1")
    assert api.cancelled("r1") and api.cancelled("r1/sub") and not api.cancelled("r2")  # at once, here
    time.sleep(agents.recheck_s)
    assert agents.cancelled("r1") and agents.cancelled("r1/sub/inner") and not agents.cancelled("r10")
    api.cancel("r2/sub")  # a sub-graph's id names its root run
    assert api.cancelled("r2")


# ---------------------------------------------------------------- sealing a call's events (ADR 0055)


def test_a_read_returns_what_its_own_instance_posted(stream: RunStream) -> None:
    stream.post("r1", "began", {"node": "a"})
    assert [(e.kind, e.data) for e in stream.read("r1")] == [("began", {"node": "a"})]


def test_sealed_posts_are_readable_on_another_instance_before_seal_returns(instance: Instance) -> None:
    writer, reader = instance(), instance()
    writer.post("r1", "began", {"node": "a"})
    writer.seal("r1")  # nobody watches through the writer's instance: stored now
    assert [e.data for e in reader.read("r1")] == [{"node": "a"}]
    reader.watch("r2", ttl_s=30)  # a watcher elsewhere, seen by the writer
    time.sleep(writer.recheck_s)
    writer.post("r2", "began", {"node": "b"})
    writer.seal("r2")
    assert [e.data for e in reader.read("r2")] == [{"node": "b"}]


def test_an_event_s_text_when_given_is_its_data_as_compact_writes_it(stream: RunStream) -> None:
    """The run stream sends ``text`` as the SSE data (ADR 0060): it must be what ``sse`` would write."""
    delta = 'é "q" \\ \u2028 \x7f 😀'
    data = {"node": "w1", "attempt": 2, "delta": delta, "n": [1.5, None, True], "at": 1e300}
    stream.append("r1", "text", data)
    stream.post("r1", "began", {"node": "w2", "attempt": 1, "step": 7, "at": 1733500000.123456})
    stream.flush()
    events = stream.read("r1")
    assert [e.kind for e in events] == ["text", "began"]
    for event in events:
        assert event.text is None or event.text == compact(event.data), event
        assert sse(event.kind, event.data) == sse_text(event.kind, event.text or compact(event.data))
    if isinstance(stream, SqliteRunStream):
        assert all(e.text is not None for e in events)  # spliced, not decoded and encoded again
