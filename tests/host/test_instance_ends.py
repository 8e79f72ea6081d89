"""An instance's end is told to in-process watchers right after its commit (ADR 0049): the run
stream of the embedded host reads the status then, instead of at its next pause."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from convergio.host._engine import Engine, EngineConfig
from convergio.host._events import EventType, new_event
from convergio.host._functions import load_app
from convergio.host._records import new_record, started_event
from convergio.host._status_pacing import ENDS, InstanceEnds, StatusPacer
from convergio.host._store import TERMINAL, Message, StepWrite, Store
from tests.host._engines import running

APP = Path(__file__).parent / "apps" / "scale_app" / "function_app.py"


def test_watchers_are_called_for_their_instance_until_they_stop_watching() -> None:
    ends, told = InstanceEnds(), []
    stop_a = ends.watch("i", lambda: told.append("a"))
    stop_b = ends.watch("i", lambda: told.append("b"))
    ends.watch("other", lambda: told.append("other"))
    ends.notify("i")
    assert sorted(told) == ["a", "b"]
    stop_a()
    ends.notify("i")
    assert sorted(told) == ["a", "b", "b"]
    stop_b()
    stop_b()  # twice: nothing left to remove
    ends.notify("i")
    ends.notify("nobody")
    assert sorted(told) == ["a", "b", "b"]
    assert list(ends._watchers) == ["other"]  # nothing kept for an instance nobody watches


def test_a_failing_watcher_never_reaches_the_notifier_and_the_others_are_still_told() -> None:
    ends, told = InstanceEnds(), []

    def broken() -> None:
        raise RuntimeError("boom")

    ends.watch("i", broken)
    ends.watch("i", lambda: told.append("after"))
    ends.notify("i")  # the dispatcher's step: no exception comes out
    assert told == ["after"]


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("COUNT_DIR", str(tmp_path))
    store = Store(tmp_path / "durable.sqlite3")
    engine = Engine(load_app(APP), store, EngineConfig(activity_concurrency=4))
    with running(engine, store):
        yield engine


def test_the_step_that_ends_an_instance_tells_its_watchers_after_its_commit(engine: Engine) -> None:
    instance_id = "watched"
    seen: list[str | None] = []
    told = threading.Event()

    def hint() -> None:  # on the dispatcher thread: what the store says at that moment
        record = engine.store.get(instance_id, header=True)
        seen.append(None if record is None else record.status)
        told.set()

    stop = ENDS.watch(instance_id, hint)
    try:
        engine.start_new("fan_out", instance_id, json.dumps(json.dumps({"activity": "work", "count": 20})))
        record = engine.wait(instance_id, 30.0)
        assert record is not None and record.status == "Completed"
        assert told.wait(5.0)
    finally:
        stop()
    assert seen and seen[-1] in TERMINAL, seen  # the last hint came once the end was committed


def test_a_session_dropped_while_the_instance_runs_tells_nobody(tmp_path: Path) -> None:
    stamp = "2026-12-06T00:00:00.000000Z"
    store = Store(tmp_path / "durable.sqlite3")
    record = new_record("i", "orch", None, stamp, parent=None, version=None)
    store.create(record, Message("i", record.execution_id, 0.0, started_event(record, stamp)), replace=False)
    store.commit_step(StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, stamp)]))
    told: list[str] = []
    stop = ENDS.watch("i", lambda: told.append("i"))
    try:
        pacer = StatusPacer(store, lambda instance_id: False)
        pacer.forget("i")  # pending or running: a read now could miss events still being stored
        assert told == []
        store.commit_step(StepWrite("i", updates={"status": "Completed", "updated_at": stamp}))
        pacer.forget("i")  # the end's step, after its commit
        assert told == ["i"]
        store.purge(["i"])
        pacer.forget("i")  # gone: the watcher's read says so
        assert told == ["i", "i"]
    finally:
        stop()
        store.close()
