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
from convergio.host._functions import load_app
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
    """Has the instance stepped past its calls to the wait for "go" (its history says so)?"""
    return sum(e.get("Name") == "echo" and e["EventType"] == 4 for e in engine.store.history(instance_id)) > N


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
