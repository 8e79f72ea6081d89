"""Who steps an instance (ADR 0046): one step at a time, in the order of the wake-ups, on the
dispatcher thread or on the activity thread that has just recorded a result, never while that
thread runs an activity; a chain's next node runs on the thread that recorded the last."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convergio.host._dispatch import Dispatcher
from convergio.host._engine import Engine, EngineConfig
from convergio.host._functions import load_app
from convergio.host._store import Store
from tests.host._engines import count_steps, running, start_as_sdk

APP = Path(__file__).parent / "apps" / "handoff" / "handoff_app.py"


def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class _Steps:
    """A step function that records who stepped what, and fails on overlapping steps."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause, self.done, self.overlaps = pause, [], 0
        self._running = 0
        self._lock = threading.Lock()

    def __call__(self, instance_id: str) -> None:
        with self._lock:
            self._running += 1
            self.overlaps += self._running > 1
        time.sleep(self.pause)
        with self._lock:
            self._running -= 1
            self.done.append((instance_id, threading.current_thread().name))


def test_drive_steps_on_the_calling_thread_in_the_order_of_the_wake_ups() -> None:
    steps = _Steps()
    dispatcher = Dispatcher(steps)  # not started: only drive() steps
    dispatcher.wake_all(["c", "a"], notify=False)
    dispatcher.wake("b", notify=False)
    dispatcher.wake("later", time.time() + 60, notify=False)
    for _ in range(4):
        dispatcher.drive()
    me = threading.current_thread().name
    assert steps.done == [("a", me), ("b", me), ("c", me)]  # "later" is not due
    assert not dispatcher.due("later") and not dispatcher.due("a")


def test_an_earlier_wake_up_replaces_a_later_one() -> None:
    steps = _Steps()
    dispatcher = Dispatcher(steps)
    dispatcher.wake("x", time.time() + 60, notify=False)
    dispatcher.wake("x", notify=False)
    dispatcher.wake("x", time.time() + 30, notify=False)  # later than the pending one: ignored
    dispatcher.drive()
    dispatcher.drive()
    assert [i for i, _ in steps.done] == ["x"]
    assert not dispatcher.due("x")


def test_drive_leaves_a_due_step_to_the_dispatcher_thread_while_another_step_runs() -> None:
    steps = _Steps(pause=0.2)
    dispatcher = Dispatcher(steps, name="dispatch-test")
    dispatcher.start()
    try:
        dispatcher.wake("slow")
        _until(lambda: dispatcher._stepping)
        dispatcher.wake("next", notify=False)
        dispatcher.drive()  # the role is held: returns at once, stepping nothing
        assert steps.done == []
        _until(lambda: len(steps.done) == 2)
    finally:
        dispatcher.stop()
    assert steps.done == [("slow", "dispatch-test"), ("next", "dispatch-test")]
    assert steps.overlaps == 0


def test_the_dispatcher_thread_keeps_a_timer_while_steps_run_elsewhere() -> None:
    steps = _Steps(pause=0.05)
    dispatcher = Dispatcher(steps, name="dispatch-timer")
    dispatcher.start()
    try:
        dispatcher.wake("timer", time.time() + 0.2)
        _until(lambda: (dispatcher._asleep_until or math.inf) < math.inf)  # asleep until the timer
        dispatcher.wake("now", notify=False)
        holder = threading.Thread(target=dispatcher.drive, name="holder")
        holder.start()
        holder.join()
        _until(lambda: len(steps.done) == 2)
    finally:
        dispatcher.stop()
    assert steps.done == [("now", "holder"), ("timer", "dispatch-timer")]


def test_steps_never_overlap_and_every_wake_up_is_stepped() -> None:
    steps = _Steps(pause=0.0005)
    dispatcher = Dispatcher(steps, name="dispatch-many")
    dispatcher.start()

    def hammer(prefix: str) -> None:
        for n in range(100):
            dispatcher.wake_all([f"{prefix}{n}"], notify=n % 3 == 0)
            dispatcher.drive() if n % 3 else None
        dispatcher.drive()

    threads = [threading.Thread(target=hammer, args=(p,)) for p in "abcd"]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        dispatcher.kick()  # what a thread woke without notifying and could not step itself
        _until(lambda: len(steps.done) == 400)
    finally:
        dispatcher.stop()
    assert steps.overlaps == 0
    assert sorted(i for i, _ in steps.done) == sorted(f"{p}{n}" for p in "abcd" for n in range(100))


def test_stop_waits_for_a_step_running_on_another_thread_and_then_nothing_steps() -> None:
    steps = _Steps(pause=0.2)
    dispatcher = Dispatcher(steps, name="dispatch-stop")
    dispatcher.start()
    dispatcher.wake("running", notify=False)
    holder = threading.Thread(target=dispatcher.drive)
    holder.start()
    _until(lambda: dispatcher._stepping)
    dispatcher.stop()
    assert [i for i, _ in steps.done] == ["running"]  # stop returned after it ended
    dispatcher.wake("after stop", notify=False)
    dispatcher.drive()
    holder.join()
    assert [i for i, _ in steps.done] == ["running"]


# -- the engine -----------------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = Store(tmp_path / "durable.sqlite3")
    engine = Engine(load_app(APP), store, EngineConfig(activity_concurrency=4))
    steps = _Steps()
    count_steps(engine, steps)
    engine.steps = steps  # type: ignore[attr-defined]
    with running(engine, store):
        yield engine


def _output(engine: Engine, instance_id: str, timeout: float = 30.0) -> object:
    record = engine.wait(instance_id, timeout)
    assert record is not None and record.status == "Completed", record
    return json.loads(record.output or "null")


def test_a_chain_runs_on_the_thread_that_recorded_the_last_node(engine: Engine) -> None:
    threads = _output(engine, start_as_sdk(engine, "chain", 30))
    assert isinstance(threads, list) and len(threads) == 30
    assert len(set(threads)) == 1, threads  # the next node ran on the thread that stepped
    steppers = [name for _, name in engine.steps.done]  # type: ignore[attr-defined]
    assert steppers[0] == "orchestrations"  # the start: no activity thread was at work
    # Every completion stepped where it was recorded; the first may find the dispatcher thread
    # still finishing the start's step (after its commit), and leave the step to it.
    assert set(steppers[2:]) == {threads[0]}


def test_a_slow_activity_delays_no_other_instance_and_steps_never_overlap(engine: Engine) -> None:
    slow = start_as_sdk(engine, "slow_one", 3.0)
    time.sleep(0.2)  # it is running, on an activity thread
    chains = [start_as_sdk(engine, "chain", 20) for _ in range(2)]
    fan = start_as_sdk(engine, "fan_out", 40)
    for instance_id in chains:
        assert len(_output(engine, instance_id)) == 20  # type: ignore[arg-type]
    assert _output(engine, fan) == 40
    assert engine.store.get(slow).status == "Running"  # type: ignore[union-attr]  # none waited
    assert _output(engine, slow) == 3.0
    assert engine.steps.overlaps == 0  # type: ignore[attr-defined]
