"""A dropped orchestration session is freed by reference counting, not left to the cycle collector
(ADR 0067): its tasks and the compound tasks waiting on them point at each other, and a retried
call at its context, so a finished run's tasks were garbage only a full collection could free
(about 8,000 objects at 500 wide, 16 ms a collection). A run that ends, a session evicted while
it waits, and one pushed out of the kept-alive sessions all leave none of their tasks alive,
with the collector off; and a run whose session was dropped goes on by replay, to the same end.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.durable_functions.models.Task import TaskBase

from convergio.host._engine import Engine, EngineConfig
from convergio.host._events import EventType
from convergio.host._executor import Instance, OrchestrationExecutor
from convergio.host._functions import load_app
from convergio.host._session import _KEPT_ENDED
from convergio.host._store import Store

from ._engines import running, start_as_sdk

APP = Path(__file__).parent / "apps" / "release" / "release_app.py"
N = 40
TOTAL = sum(range(N)) + N + 1 + 2  # the calls, the retried one, the last two


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The cycle collector off: whatever is freed was freed by reference counting."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def _engine(tmp_path: Path, keep_alive: int = 1000) -> Iterator[Engine]:
    store = Store(tmp_path / "durable.sqlite3")
    with running(Engine(load_app(APP), store, EngineConfig(keep_alive=keep_alive)), store) as engine:
        yield engine


def _tasks() -> int:
    """The SDK tasks alive (tracked by the collector, reachable or not)."""
    return sum(isinstance(o, TaskBase) for o in gc.get_objects())


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _ends(engine: Engine, instance_id: str) -> object:
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed", record
    return json.loads(record.output or "null")


def _waiting(engine: Engine, instance_id: str) -> bool:
    """Has the instance stepped past its calls to the wait for "go"? Its history holds every
    call's result once the step that took the last one in is committed; no step follows until
    the event comes. (Its calls' scheduling is in the first step's history: that step is not
    the wait, and a session counted then holds half the tasks it holds while waiting.)"""
    history = engine.store.history(instance_id)
    return sum(e["EventType"] == EventType.TASK_COMPLETED for e in history) > N


def test_a_run_that_ends_leaves_none_of_its_tasks(tmp_path: Path, no_collector: None) -> None:
    with _engine(tmp_path) as engine:
        before = _tasks()
        instance_id = start_as_sdk(engine, "any_loop", {"n": N})
        assert _ends(engine, instance_id) == TOTAL
        _until(lambda: _tasks() <= before)  # 41 tasks, 41 waits and a task_all were left before


def test_an_evicted_session_leaves_none_of_its_tasks_and_its_run_goes_on(
    tmp_path: Path, no_collector: None
) -> None:
    with _engine(tmp_path) as engine:
        before = _tasks()
        instance_id = start_as_sdk(engine, "any_loop", {"n": N, "wait": True})
        _until(lambda: _waiting(engine, instance_id))
        _until(lambda: _tasks() > before)  # the waiting session holds its tasks
        engine._evict(instance_id)
        assert _tasks() <= before
        engine.raise_event(instance_id, "go", json.dumps(100))
        assert _ends(engine, instance_id) == TOTAL + 100  # replayed into a new session


def test_a_session_pushed_out_of_the_kept_ones_leaves_none_of_its_tasks(
    tmp_path: Path, no_collector: None
) -> None:
    with _engine(tmp_path, keep_alive=1) as engine:
        before = _tasks()
        first = start_as_sdk(engine, "any_loop", {"n": N, "wait": True})
        _until(lambda: _waiting(engine, first))
        held = _tasks() - before
        second = start_as_sdk(engine, "any_loop", {"n": N, "wait": True})
        _until(lambda: _waiting(engine, second))
        assert _tasks() - before <= held  # one session's tasks kept, the first's freed
        for instance_id in (first, second):
            engine.raise_event(instance_id, "go", json.dumps(1))
        assert [_ends(engine, i) for i in (first, second)] == [TOTAL + 1] * 2


def test_a_long_session_keeps_only_what_its_release_needs() -> None:
    """A session lives as long as its run: once its ended tasks outnumber the others by
    ``_KEPT_ENDED`` it forgets them, so a 600-step session holds about as many as that."""
    from .test_executor import INSTANCE, chain, first_events, next_events, registered, scheduled

    executor = OrchestrationExecutor(lambda name: registered(chain))
    steps = json.dumps(json.dumps(10_000))  # as the SDK's client stores start_new(10_000)
    instance = Instance(INSTANCE.instance_id, INSTANCE.name, INSTANCE.execution_id, steps)
    history: list[dict[str, object]] = []
    events, sizes = first_events(), []
    for task_id in range(600):
        result = executor.execute(instance, list(history), events, task_id)  # one action per step
        assert result.error is None and len(result.actions) == 1
        history += events + scheduled(task_id, "step")
        executor.confirm("i", len(history))
        events = next_events(task_id, task_id + 1)
        sizes.append(len(executor._sessions["i"].context.made))
    assert max(sizes) <= _KEPT_ENDED + 8 < 300  # one call open at a time; keeping all, 600


def test_a_wide_run_leaves_the_collector_nothing_of_its_waits(tmp_path: Path, no_collector: None) -> None:
    """Past ``_KEPT_ENDED`` the session forgets ended waits and their winners while the run goes
    on: with the collector off, a 400-call loop leaves none of them, nor of its tasks, behind."""
    with _engine(tmp_path) as engine:
        before = _tasks()
        instance_id = start_as_sdk(engine, "any_loop", {"n": 400})
        assert _ends(engine, instance_id) == sum(range(400)) + 400 + 1 + 2
        _until(lambda: _tasks() <= before)
