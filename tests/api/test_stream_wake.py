"""A host in the stream's process that ends the run cuts the stream's pause short (ADR 0049).

The hint carries no state: the stream still reads the status through the durable client, and a
stream with no host to tell it (Azure) reads at its own pace, as the schedule tests show.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from convergio.api import _stream
from convergio.api._stream import run_events
from convergio.api._stream_wake import Wake, host_ends
from convergio.host._status_pacing import InstanceEnds
from convergio.streams import StreamEvent


def test_a_hint_since_arm_ends_the_pause_at_once_and_none_lets_it_run() -> None:
    ends = InstanceEnds()

    async def scenario() -> tuple[float, float, float]:
        wake = Wake("r1", ends)
        assert wake.hinted
        wake.arm()
        ends.notify("r1")  # during the read: the pause after it is skipped
        began = time.monotonic()
        await wake.pause(5.0)
        skipped = time.monotonic() - began
        wake.arm()
        began = time.monotonic()
        await wake.pause(0.05)  # nobody told it: the whole pause
        waited = time.monotonic() - began
        wake.arm()
        threading.Timer(0.05, ends.notify, args=("r1",)).start()  # from the host's thread, mid-pause
        began = time.monotonic()
        await wake.pause(5.0)
        cut = time.monotonic() - began
        wake.close()
        assert not wake.hinted and not ends._watchers  # closed: the host keeps nothing of it
        return skipped, waited, cut

    skipped, waited, cut = asyncio.run(scenario())
    assert skipped < 0.01 and waited >= 0.05 and 0.04 <= cut < 1.0, (skipped, waited, cut)


def test_without_a_host_in_the_process_the_pause_is_a_sleep() -> None:
    async def pause() -> float:
        wake = Wake("r1", None)
        assert not wake.hinted
        wake.arm()
        began = time.monotonic()
        await wake.pause(0.03)
        wake.close()
        return time.monotonic() - began

    assert asyncio.run(pause()) >= 0.03


def test_the_host_s_signal_is_found_only_when_the_host_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "convergio.host._status_pacing")
    assert host_ends() is None
    monkeypatch.setitem(sys.modules, "convergio.host._status_pacing", SimpleNamespace(ENDS="x"))
    assert host_ends() == "x"


def _status(runtime: str) -> SimpleNamespace:
    nodes = {"a": {"status": "completed" if runtime == "Completed" else "running", "attempts": 1, "rev": 1}}
    return SimpleNamespace(
        runtime_status=runtime,
        custom_status={"nodes": nodes},
        output={"nodes": nodes} if runtime == "Completed" else None,
        created_time=None,
        last_updated_time=None,
        history=None,
    )


class _Run:
    """A durable client of a run that ends when ``end`` is called (as the host's dispatcher would)."""

    def __init__(self, ends: InstanceEnds) -> None:
        self.ends, self.state, self.reads = ends, "Running", 0

    async def get_status(self, run_id: str, **asked: Any) -> Any:
        self.reads += 1
        return _status(self.state)

    def end(self) -> None:
        self.state = "Completed"
        self.ends.notify("r1")


class _Channel:
    def watch(self, run_id: str, seconds: float) -> None:
        pass

    def read(self, run_id: str, after: int) -> list[Any]:
        return []


def test_a_run_ended_by_the_host_in_this_process_is_seen_at_once_not_at_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ends = InstanceEnds()
    run = _Run(ends)
    monkeypatch.setattr(_stream, "host_ends", lambda: ends)
    monkeypatch.setattr(_stream, "graph_agents", lambda status: ["a"])

    async def watch() -> tuple[str, float]:
        # A run ten minutes old is read once a second: the end comes 50 ms after the first read.
        stream = run_events(run, _Channel(), "r1", after=0, seconds=900.0, run_age=600.0)  # type: ignore[arg-type]
        threading.Timer(0.05, run.end).start()
        began = time.monotonic()
        text = "".join([message async for message in stream])
        return text, time.monotonic() - began

    text, took = asyncio.run(watch())
    assert "event: run" in text and '"Completed"' in text
    assert took < 0.5, took  # without the hint: a second, the run's pace
    assert run.reads == 2  # the first read, then the one the hint brought
    assert not ends._watchers  # the stream stopped watching when it ended


class _Stored:
    """A channel holding the run's events: two stored before its end, as ADR 0040 promises."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.reads: list[str] = []

    def watch(self, run_id: str, seconds: float) -> None:
        pass

    def read(self, run_id: str, after: int) -> list[Any]:
        self.reads.append(self.run.state)
        stored = [StreamEvent(n, "text", {"delta": f"t{n}"}) for n in (1, 2)]
        return [e for e in stored if e.seq > after and self.run.state == "Completed"]


def test_told_of_the_end_the_stream_reads_the_channel_while_it_reads_the_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ends = InstanceEnds()
    run = _Run(ends)
    channel = _Stored(run)
    order: list[str] = []
    monkeypatch.setattr(_stream, "host_ends", lambda: ends)
    monkeypatch.setattr(_stream, "graph_agents", lambda status: ["a"])

    async def slow_status(run_id: str, **asked: Any) -> Any:
        order.append("status asked")
        await asyncio.sleep(0.05)  # a read under way: the channel's thread works meanwhile
        order.append(f"status read ({len(channel.reads)} channel reads by then)")
        return _status(run.state)

    run.get_status = slow_status  # type: ignore[method-assign]

    async def watch() -> str:
        stream = run_events(run, channel, "r1", after=0, seconds=900.0, run_age=600.0)  # type: ignore[arg-type]
        threading.Timer(0.1, run.end).start()
        return "".join([message async for message in stream])

    text = asyncio.run(watch())
    assert order == [
        "status asked",
        "status read (0 channel reads by then)",  # the first read: not told, channel after status
        "status asked",
        "status read (2 channel reads by then)",  # told: the channel was read during the status read
    ]
    assert text.index('"t1"') < text.index('"t2"') < text.index("event: run")  # nothing stored is lost
