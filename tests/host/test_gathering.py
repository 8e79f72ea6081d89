"""The gathering window (ADR 0057): results of an instance with many items in flight here wait,
a bounded time, to share one step; the window ends early when nothing is left in flight or
enough results wait, and any other wake-up (an event, a timer, a termination) ends it at once.
Histories are the same as without it, but for how the results are grouped into steps."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from convergio.host._dispatch import Dispatcher
from convergio.host._engine import Engine, EngineConfig
from convergio.host._events import EventType
from convergio.host._functions import load_app
from convergio.host._gathering import GATHER, NO_GATHERING, GatherWindow
from convergio.host._store import Store
from tests.host._engines import count_steps, running, start_as_sdk

APP = Path(__file__).parent / "apps" / "gathering" / "gathering_app.py"
FOREVER = GatherWindow(window_s=60.0, min_in_flight=2, enough=1000)
"""A window that ends only early: what a step waits for is then exact, whatever the machine's speed."""


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


# -- the window -----------------------------------------------------------------------------------
def test_the_window_opens_only_for_many_in_flight_and_holds_until_none_or_enough() -> None:
    window = GatherWindow(window_s=0.004, min_in_flight=8, enough=32)
    assert window.opens(1, 8) and not window.opens(1, 7) and not window.opens(32, 60)
    assert window.holds(31, 1) and not window.holds(31, 0) and not window.holds(32, 40)
    assert not NO_GATHERING.opens(1, 1000)
    assert 0 < GATHER.window_s <= 0.01  # bounded: a step waits milliseconds at most
    for bad in ({"window_s": -1.0}, {"min_in_flight": 0}, {"enough": 0}):
        with pytest.raises(ValueError):
            GatherWindow(**bad)  # type: ignore[arg-type]


# -- the dispatcher -------------------------------------------------------------------------------
def _dispatcher(window: GatherWindow = FOREVER) -> tuple[Dispatcher, list[str]]:
    stepped: list[str] = []
    return Dispatcher(stepped.append, window=window), stepped  # not started: only drive() steps


def _drain(dispatcher: Dispatcher) -> None:
    for _ in range(5):
        dispatcher.drive()


def test_results_wait_while_many_are_in_flight_and_step_once_none_is_left() -> None:
    dispatcher, stepped = _dispatcher()
    dispatcher.gather([("fan", 1, 5)], notify=False)
    dispatcher.gather([("fan", 3, 2)], notify=False)
    _drain(dispatcher)
    assert stepped == []  # the window is open
    assert dispatcher.due("fan")  # counted busy: completions keep arriving (status pacing)
    dispatcher.gather([("fan", 2, 0)], notify=False)  # its last item's result
    _drain(dispatcher)
    assert stepped == ["fan"] and not dispatcher.due("fan")


def test_a_window_ends_when_enough_results_wait() -> None:
    dispatcher, stepped = _dispatcher(GatherWindow(window_s=60.0, min_in_flight=2, enough=10))
    dispatcher.gather([("fan", 4, 50)], notify=False)
    _drain(dispatcher)
    assert stepped == []
    dispatcher.gather([("fan", 6, 44)], notify=False)
    _drain(dispatcher)
    assert stepped == ["fan"]


def test_few_in_flight_and_no_gathering_step_at_once() -> None:
    dispatcher, stepped = _dispatcher()
    dispatcher.gather([("chain", 1, 0), ("small", 1, 1)], notify=False)
    _drain(dispatcher)
    assert sorted(stepped) == ["chain", "small"]
    dispatcher, stepped = _dispatcher(NO_GATHERING)
    dispatcher.gather([("fan", 1, 500)], notify=False)
    _drain(dispatcher)
    assert stepped == ["fan"]


def test_any_other_wake_up_ends_a_window_and_the_next_results_open_a_new_one() -> None:
    dispatcher, stepped = _dispatcher()
    dispatcher.gather([("fan", 1, 10)], notify=False)
    dispatcher.wake("fan", time.time() + 3600, notify=False)  # a later timer leaves it
    _drain(dispatcher)
    assert stepped == []
    dispatcher.wake("fan", notify=False)  # an event, a termination, another process's message
    _drain(dispatcher)
    assert stepped == ["fan"]
    dispatcher.gather([("fan", 1, 9)], notify=False)
    _drain(dispatcher)
    assert stepped == ["fan"]  # a new window, not a leftover wake-up
    dispatcher.wake("fan", notify=False)
    dispatcher.gather([("fan", 1, 8)], notify=False)  # joins the wake-up due now
    _drain(dispatcher)
    assert stepped == ["fan", "fan"]


def test_a_window_due_before_a_pending_timer_replaces_it_and_an_earlier_one_is_kept() -> None:
    dispatcher, stepped = _dispatcher(GatherWindow(window_s=0.05, min_in_flight=2))
    dispatcher.wake("timed", time.time() + 3600, notify=False)
    dispatcher.gather([("timed", 1, 10)], notify=False)
    dispatcher.wake("soon", notify=False)
    dispatcher.gather([("soon", 1, 10)], notify=False)  # an earlier wake-up takes the result
    _drain(dispatcher)
    assert stepped == ["soon"]
    _until(lambda: dispatcher.drive() is None and stepped == ["soon", "timed"])  # at its end, not in an hour


def test_a_step_handed_a_result_takes_the_instance_window_with_it() -> None:
    dispatcher, stepped = _dispatcher()
    dispatcher.gather([("fan", 3, 1)], notify=False)
    woken: list[bool] = []
    assert dispatcher.run_as("fan", lambda w: woken.append(w) is None)
    assert woken == [True]  # the step reads the inbox for the results gathered
    _drain(dispatcher)
    assert stepped == [] and not dispatcher.due("fan")


def test_the_dispatcher_thread_steps_a_window_at_its_end() -> None:
    stepped: list[str] = []
    dispatcher = Dispatcher(stepped.append, name="gather-end", window=GatherWindow(0.05, min_in_flight=2))
    dispatcher.start()
    try:
        dispatcher.gather([("fan", 1, 10)])
        _until(lambda: stepped == ["fan"])  # never starved: no more results needed
    finally:
        dispatcher.stop()


# -- the engine -----------------------------------------------------------------------------------
@contextmanager
def _engine(tmp_path: Path, window: GatherWindow, concurrency: int = 4) -> Iterator[Engine]:
    store = Store(tmp_path / "durable.sqlite3")
    engine = Engine(load_app(APP), store, EngineConfig(activity_concurrency=concurrency))
    engine._dispatch = Dispatcher(engine._dispatch_step, window=window)
    steps: list[str] = []
    count_steps(engine, steps.append)
    engine.steps = steps  # type: ignore[attr-defined]
    with running(engine, store):
        yield engine


def _done(engine: Engine, instance_id: str, status: str = "Completed") -> object:
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == status, record
    return json.loads(record.output or "null")


def _events(store: Store, instance_id: str) -> Counter[tuple[object, ...]]:
    """The history without the steps' brackets and times."""
    return Counter(
        (e["EventType"], e.get("EventId"), e.get("TaskScheduledId"), e.get("Name"), e.get("Result"))
        for e in store.history(instance_id)
        if e["EventType"] not in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED)
    )


def test_a_fan_out_takes_all_its_results_in_one_step_and_writes_the_same_history(tmp_path: Path) -> None:
    histories = []
    for name, window in (("each", NO_GATHERING), ("gathered", FOREVER)):
        (tmp_path / name).mkdir()
        with _engine(tmp_path / name, window) as engine:
            instance_id = start_as_sdk(engine, "fan_out", 40)
            assert _done(engine, instance_id) == sum(range(40))
            histories.append(_events(engine.store, instance_id))
            steps = engine.steps  # type: ignore[attr-defined]
            started = sum(
                e["EventType"] == EventType.ORCHESTRATOR_STARTED for e in engine.store.history(instance_id)
            )
        if window is FOREVER:
            assert steps == [instance_id] * 2 and started == 2  # the start, then every result at once
    assert histories[0] == histories[1]
    assert histories[0][(EventType.EXECUTION_COMPLETED, -1, None, None, json.dumps(sum(range(40))))] == 1


@pytest.mark.parametrize("other", ["event", "timer", "terminate"])
def test_an_event_a_timer_or_a_termination_ends_a_window_at_once(tmp_path: Path, other: str) -> None:
    with _engine(tmp_path, FOREVER, concurrency=8) as engine:
        spec: dict[str, object] = {"folder": str(tmp_path), "gated": 3, "quick": 5}
        if other == "timer":
            spec["timer_s"] = 2.0
        instance_id = start_as_sdk(engine, "work_or_other", spec)
        try:
            if other == "timer":  # due before the window would end: the window never opened
                assert _done(engine, instance_id) == "other"  # in seconds, not the window's minute
                return
            _until(lambda: engine._dispatch._gathering.get(instance_id) == 5)  # the quick ones wait
            assert engine.store.get(instance_id, header=True).status == "Running"  # type: ignore[union-attr]
            if other == "event":
                engine.raise_event(instance_id, "go", json.dumps(True))
            elif other == "terminate":
                engine.terminate(instance_id, "stop")
            if other == "terminate":
                _done(engine, instance_id, "Terminated")
            else:
                assert _done(engine, instance_id) == "other"  # in seconds, not the window's minute
                history = engine.store.history(instance_id)
                assert sum(e["EventType"] == EventType.TASK_COMPLETED for e in history) == 5
        finally:
            (tmp_path / "open").write_text("open")


def test_concurrent_fan_outs_under_the_host_window_record_every_result_once(tmp_path: Path) -> None:
    with _engine(tmp_path, GATHER, concurrency=4) as engine:
        instance_ids = [start_as_sdk(engine, "fan_out", 60) for _ in range(3)]
        for instance_id in instance_ids:
            assert _done(engine, instance_id) == sum(range(60))
            history = engine.store.history(instance_id)
            assert sorted(
                e["TaskScheduledId"] for e in history if e["EventType"] == EventType.TASK_COMPLETED
            ) == list(range(60))
        assert engine.store.pending_work() == []
