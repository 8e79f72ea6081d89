"""How often the run stream reads a run's status: fast while a run is young, slow when it is old.

The stream's end used to be seen up to 200 ms late (one read every 200 ms whatever the run).
Here the reads follow the run's age (``poll_interval``), a read that found nothing new builds
no view, the end goes out on the read that finds it, and a read that cost much buys a longer
pause. These drive ``run_events`` with a scripted durable client on a scripted clock, and
record the pauses it asks for instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from convergio.api import _stream, _stream_pace
from convergio.api._stream import next_read, poll_interval, run_events


def test_the_interval_is_tens_of_ms_at_first_and_backs_off_with_the_run_s_age() -> None:
    ages = [0.0, 0.5, 0.99, 1.0, 2.0, 5.0, 9.9, 10.0, 30.0, 60.0, 120.0, 300.0, 3600.0, 86_400.0]
    intervals = [poll_interval(age) for age in ages]
    assert intervals == sorted(intervals)  # never faster as a run gets older
    assert max(poll_interval(a) for a in (0.0, 0.5, 0.99)) <= 0.05  # a short run's end: tens of ms
    assert poll_interval(5.0) == poll_interval(30.0) == pytest.approx(0.2)  # the interval of before
    assert poll_interval(300.0) == poll_interval(86_400.0) == pytest.approx(1.0)  # and at most 1 s
    assert poll_interval(float("inf")) == pytest.approx(1.0)  # an age that did not parse


@dataclass
class Script:
    """A durable client whose run goes through ``statuses`` (the last one repeats).

    A status is ``(runtime status, custom)``: with ``custom`` a string, node ``a`` is in that
    state (the same status, the same ``rev``); otherwise ``custom`` is the custom status.
    """

    statuses: list[tuple[str, Any]]
    read_cost: float = 0.0
    read_wait: float = 0.0  # wall time a read spends waiting (for the interpreter, the store), no CPU
    view_cost: float = 0.0
    clock: float = 0.0
    cpu: float = 0.0  # the loop thread's CPU clock
    reads: int = 0
    views: int = 0
    pauses: list[float] = field(default_factory=list)

    async def get_status(self, run_id: str) -> Any:
        runtime, custom = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        self.clock += self.read_cost + self.read_wait
        self.cpu += self.read_cost
        if isinstance(custom, str):
            rev = self.statuses.index((runtime, custom)) + 1
            custom = {"nodes": {"a": {"status": custom, "attempts": 1, "rev": rev}}}
        return SimpleNamespace(runtime_status=runtime, custom_status=custom, output=None)


class Channel:
    def watch(self, run_id: str, seconds: float) -> None:
        pass

    def read(self, run_id: str, after: int) -> list[Any]:
        return []


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    made = Script([])

    class Table(_stream.NodeTable):
        def fold(self, nodes: Any) -> None:  # turning a status into node events: a "view"
            made.views += 1
            made.clock += made.view_cost
            made.cpu += made.view_cost
            super().fold(nodes)

    class Pauses:  # the stream's pauses on the script's clock; no host tells it of the end
        def __init__(self, run_id: str, ends: Any) -> None:
            pass

        def arm(self) -> None:
            pass

        async def pause(self, seconds: float) -> bool:
            made.pauses.append(seconds)
            made.clock += seconds
            return False

        def close(self) -> None:
            pass

    monkeypatch.setattr(_stream, "NodeTable", Table)
    monkeypatch.setattr(_stream, "graph_agents", lambda status: ["a"])
    monkeypatch.setattr(_stream, "Wake", Pauses)
    monkeypatch.setattr(
        _stream, "time", SimpleNamespace(monotonic=lambda: made.clock, thread_time=lambda: made.cpu)
    )
    yield made


def _events(script: Script, *, run_age: float) -> list[str]:
    """The stream's SSE messages (a read's events may go out in one chunk)."""

    async def read() -> list[str]:
        stream = run_events(script, Channel(), "r1", after=0, seconds=900.0, run_age=run_age)  # type: ignore[arg-type]
        return [message async for message in stream]

    text = "".join(asyncio.run(read()))
    return [message + "\n\n" for message in text.split("\n\n") if message]


def test_a_young_run_is_read_every_few_tens_of_ms_and_its_end_goes_out_on_the_read_that_finds_it(
    script: Script,
) -> None:
    running = ("Running", "running")
    script.statuses = [running] * 5 + [("Completed", "completed")]
    events = _events(script, run_age=0.0)
    assert script.reads == 6 and len(script.pauses) == 5  # no read after the end, no pause before it
    assert script.pauses == [poll_interval(0.0)] * 5 and poll_interval(0.0) <= 0.05
    assert events[-1].startswith("event: run") and '"status":"Completed"' in events[-1]
    assert [e.split("\n", 1)[0] for e in events[1:]] == ["event: node", "event: node", "event: run"]


def test_a_status_that_did_not_change_builds_no_view(script: Script) -> None:
    script.statuses = [("Running", "running")] * 4 + [("Completed", "completed")]
    _events(script, run_age=0.0)
    assert (script.reads, script.views) == (5, 2)  # the first running status, then the end


def test_an_old_run_is_read_at_most_once_a_second(script: Script) -> None:
    script.statuses = [("Running", "running")] * 3 + [("Completed", "completed")]
    _events(script, run_age=3600.0)
    assert script.pauses == [pytest.approx(1.0)] * 3


def test_the_reads_of_a_young_run_back_off_as_it_ages(script: Script) -> None:
    script.statuses = [("Running", "running")] * 400 + [("Completed", "completed")]
    _events(script, run_age=0.0)
    assert script.pauses == sorted(script.pauses) and script.pauses[0] <= 0.05
    assert script.pauses[-1] >= 0.2 and script.clock > 10  # 400 reads took 10 s and more
    starts = [sum(script.pauses[:i]) for i in range(len(script.pauses))]  # when each pause began
    assert sum(1 for t in starts if t < 1.0) <= 47  # every 10 ms in the first 0.1 s, then every 25 ms
    assert sum(1 for t in starts if t < 10.0) <= 3 * 50  # at most 3x the reads of a flat 200 ms


def test_a_read_that_costs_much_buys_a_longer_pause(script: Script) -> None:
    script.read_cost = 0.05  # a large run's status: 50 ms to read
    script.statuses = [("Running", "running")] * 3 + [("Completed", "completed")]
    _events(script, run_age=0.0)
    assert script.pauses == [pytest.approx(0.2)] * 3  # four times its cost, not 25 ms


def test_a_read_that_waited_for_the_interpreter_buys_no_longer_pause(script: Script) -> None:
    """The run's own threads hold the interpreter while the read waits: that is not the read's cost.

    Counted as cost, a 50-agent run's first read (5 to 10 ms of wall time for about 1 ms of CPU)
    bought a 40 ms pause, and its end was seen 20 ms late.
    """
    script.read_cost, script.read_wait = 0.001, 0.01
    script.statuses = [("Running", "running")] * 3 + [("Completed", "completed")]
    _events(script, run_age=0.0)
    assert script.pauses == [poll_interval(0.0)] * 3  # not four times the read's 11 ms


def test_a_read_goes_out_in_one_chunk_and_the_clients_pace_is_not_its_cost(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wide run's read finds many node changes: one chunk, and a slow reader does not slow the reads."""

    def wide(read: int) -> dict[str, Any]:  # a hundred nodes, each a new attempt on every read
        return {"nodes": {f"n{n}": {"status": "running", "attempts": read, "rev": read} for n in range(100)}}

    script.statuses = [("Running", wide(i + 1)) for i in range(3)] + [("Completed", wide(9))]
    monkeypatch.setattr(_stream, "graph_agents", lambda status: [f"n{n}" for n in range(100)])

    async def read() -> list[str]:
        chunks = []
        stream = run_events(script, Channel(), "r1", after=0, seconds=900.0, run_age=0.5)  # type: ignore[arg-type]
        async for chunk in stream:
            chunks.append(chunk)
            script.clock += 0.05  # the client (or a busy loop) takes 50 ms to take each chunk
        return chunks

    chunks = asyncio.run(read())
    assert [c.count("event: node") for c in chunks[1:]] == [100, 100, 100, 100]
    assert chunks[-1].rstrip().split("\n\n")[-1].startswith("event: run")
    assert script.pauses == [poll_interval(0.5)] * 3  # not four times the client's 50 ms


def test_a_costly_view_waits_two_of_its_pauses_and_the_reads_between_see_the_end(script: Script) -> None:
    """A wide run: its view costs more than its status. The reads between views cost the status
    alone, so their pauses are short; the end is turned into a view on the read that finds it."""
    script.read_cost, script.view_cost = 0.005, 0.05
    script.statuses = [("Running", f"step-{i}") for i in range(12)] + [("Completed", "completed")]
    events = _events(script, run_age=0.0)
    assert script.reads == 13
    assert script.views == 3  # read 1, read 8 (0.44 s = 8 x 55 ms later), and the end on read 13
    view_pause, read_pause = 4 * (0.005 + 0.05), poll_interval(0.5)  # reads after 0.25 s
    assert script.pauses == pytest.approx([view_pause, *[read_pause] * 6, view_pause, *[read_pause] * 4])
    cost = script.reads * script.read_cost + script.views * script.view_cost
    assert cost - 0.055 <= sum(script.pauses) / 4  # every read pauses four times its cost (the last: none)
    assert events[-1].startswith("event: run") and '"status":"Completed"' in events[-1]


def test_a_run_whose_nodes_all_finished_is_read_every_few_ms_for_a_while(script: Script) -> None:
    """Its own last steps (index entry, callbacks) take milliseconds: its end goes out sooner."""
    done = {"counts": {"completed": 2, "skipped": 1}, "nodes": {"a": {"status": "completed", "rev": 2}}}
    young = {"counts": {"running": 2, "completed": 1}}  # two under way: too young to predict its end
    script.statuses = [("Running", young)] * 2 + [("Running", done)] * 80
    script.statuses.append(("Completed", done))
    _events(script, run_age=0.0)
    ending = script.pauses[2:]
    assert script.pauses[:2] == [poll_interval(0.0)] * 2
    assert ending[:50] == [pytest.approx(0.005)] * 50  # 50 reads in its first 0.25 s
    assert ending[50:] and min(ending[50:]) == pytest.approx(0.025)  # then as any run (a re-plan may follow)


def test_a_young_run_whose_end_is_predicted_far_off_is_read_less_often() -> None:
    """At the rate its nodes finished so far, the rest take ``age * unfinished / finished``: the
    next read comes after half that, at most 0.1 s, and never sooner than ``poll_interval``."""
    slow = {"completed": 10, "running": 1, "waiting": 89}  # 90 left at 10 per 0.2 s: 1.8 s away
    assert next_read(0.2, slow) == pytest.approx(0.1)
    near = {"completed": 90, "running": 1, "waiting": 9}  # 10 left: 22 ms away
    assert next_read(0.2, near) == poll_interval(0.2)
    middle = {"completed": 50, "skipped": 10, "running": 4, "waiting": 36}  # 40 left: 0.13 s away
    assert next_read(0.2, middle) == pytest.approx(0.5 * 0.2 * 40 / 60)
    for counts in (
        None,
        {},
        {"running": 5, "waiting": 5},
        {"completed": 7},
        {"completed": "7", "waiting": 1},
    ):
        assert next_read(0.2, counts) == poll_interval(0.2)  # nothing to predict from (or all done)
    wide = {"completed": 10, "running": 40, "waiting": 1}  # a fan-out's first burst: too young to tell
    assert next_read(0.1, wide) == poll_interval(0.1) and next_read(0.15, wide) > poll_interval(0.15)
    assert next_read(0.02, slow) == pytest.approx(0.09)  # one node at a time: a steady pace, from the start
    assert next_read(0.02, {"completed": 10, "retrying": 1, "waiting": 89}) == pytest.approx(0.09)
    for age in (0.0, 0.1, 0.149, 0.15, 0.5, 0.99, 1.0, 3.0, 5.0, 60.0, 3600.0):
        for counts in (slow, near, middle, wide):
            assert poll_interval(age) <= next_read(age, counts) <= max(poll_interval(age), 0.1)


def _steady(script: Script, nodes: int, every: float, ends_after: float) -> None:
    """A run whose nodes finish one every ``every`` seconds of the script's clock, in order (a chain)."""

    async def get_status(run_id: str) -> Any:
        script.reads += 1
        done = min(nodes, int(script.clock / every))
        if script.clock >= ends_after:
            return SimpleNamespace(
                runtime_status="Completed", custom_status={"counts": {"completed": nodes}}, output=None
            )
        counts = (
            {"completed": done, "running": 1, "waiting": nodes - done - 1}
            if done < nodes
            else {"completed": nodes}
        )
        custom = {"counts": {k: v for k, v in counts.items() if v}, "nodes": {}}
        return SimpleNamespace(runtime_status="Running", custom_status=custom, output=None)

    script.get_status = get_status  # type: ignore[method-assign]


def test_a_chain_is_read_half_as_often_and_its_end_seen_as_soon(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain of 200 nodes of 3 ms (a run of 0.6 s, ending 3 ms after its last node)."""
    _steady(script, 200, 0.003, 0.603)
    events = _events(script, run_age=0.0)
    predicted, late = script.reads, script.clock - 0.603
    assert events[-1].startswith("event: run") and '"status":"Completed"' in events[-1]
    assert max(script.pauses) == pytest.approx(0.1)
    for module in (_stream, _stream_pace):  # as before: no prediction
        monkeypatch.setattr(module, "time_left", lambda age, counts: None)
    script.clock, script.reads, script.pauses = 0.0, 0, []
    _steady(script, 200, 0.003, 0.603)
    _events(script, run_age=0.0)
    assert predicted <= script.reads // 2  # 13 reads against 32
    assert late <= 0.005 + 1e-9  # its end predicted due: read every 5 ms until it comes (7 ms before)


def test_a_predicted_end_that_does_not_come_is_read_every_few_ms_for_a_while_only(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """99 quick nodes, then a last one of 3 s: its end looked due for 3 s."""

    async def get_status(run_id: str) -> Any:  # node 100 takes from 0.198 s to 3.198 s
        script.reads += 1
        if script.clock >= 3.2:
            custom = {"counts": {"completed": 100}}
            return SimpleNamespace(runtime_status="Completed", custom_status=custom, output=None)
        done = min(99, int(script.clock / 0.002))
        counts = {"completed": done, "running": 1, "waiting": 99 - done}
        custom = {"counts": {k: v for k, v in counts.items() if v}, "nodes": {}}
        return SimpleNamespace(runtime_status="Running", custom_status=custom, output=None)

    script.get_status = get_status  # type: ignore[method-assign]
    _events(script, run_age=0.0)
    reads, pauses = script.reads, script.pauses
    starts = [sum(pauses[:i]) for i in range(len(pauses))]
    dense = [p for t, p in zip(starts, pauses, strict=True) if t > 0.2 and p < poll_interval(t)]
    assert 0 < len(dense) <= 0.25 / 0.005 + 1  # at most a quarter of a second of 5 ms reads
    for module in (_stream, _stream_pace):  # as before: no prediction
        monkeypatch.setattr(module, "time_left", lambda age, counts: None)
    script.clock, script.reads, script.pauses = 0.0, 0, []
    _events(script, run_age=0.0)
    assert reads <= script.reads + 0.25 / 0.005 + 1  # 126 against 101: then as any run of its age
