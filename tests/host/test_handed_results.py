"""A result handed to its instance's step by the thread that ran the activity (ADR 0052).

When the finished item was the only one running, its pool thread does not commit the result
on its own: it runs the instance's next step at once and that step records it in its own
commit (the work row deleted with the step; no inbox row). What the result becomes is the
same as through the inbox: held by a suspension, dropped when its work row is gone
(terminated, cancelled, claimed elsewhere), recorded exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convergio.host._dispatch import Dispatcher
from convergio.host._engine import Engine, EngineConfig
from convergio.host._events import EventType, new_event
from convergio.host._functions import load_app
from convergio.host._records import new_record, started_event
from convergio.host._store import Message, StepConflict, StepWrite, Store, WorkItem
from tests.host._engines import running

APP = Path(__file__).parent / "apps" / "handoff" / "handoff_app.py"
STAMP = "2026-01-01T00:00:00.000000Z"


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


# -- the dispatcher's role ------------------------------------------------------------------------
def test_run_as_runs_on_the_calling_thread_and_takes_the_instance_due_wake_up() -> None:
    stepped: list[str] = []
    dispatcher = Dispatcher(stepped.append)  # not started
    told: list[tuple[str, bool]] = []
    dispatcher.wake("mine", notify=False)
    dispatcher.wake("other-later", time.time() + 60, notify=False)
    assert dispatcher.run_as("mine", lambda woken: told.append(("due", woken)) is None) is True
    assert not dispatcher.due("mine")  # its wake-up went with the step
    dispatcher.wake("mine", time.time() + 60, notify=False)
    assert dispatcher.run_as("mine", lambda woken: told.append(("later", woken)) is not None) is False
    assert told == [("due", True), ("later", False)]  # a wake-up not due yet stays
    dispatcher.drive()
    assert stepped == []  # nothing else was due


def test_run_as_keeps_the_heap_order_and_leaves_a_held_role_alone() -> None:
    stepped: list[str] = []
    dispatcher = Dispatcher(stepped.append)
    dispatcher.wake("other", 1.0, notify=False)  # both due, "other" first
    dispatcher.wake("mine", 2.0, notify=False)
    ran: list[bool] = []
    assert dispatcher.run_as("mine", lambda woken: ran.append(woken) is None) is False
    assert ran == [] and dispatcher.due("mine") and dispatcher.due("other")
    dispatcher.drive()  # steps "other"
    inside: list[bool] = []
    assert dispatcher.run_as("mine", lambda _: inside.append(dispatcher.run_as("x", lambda _: True)) is None)
    assert inside == [False]  # the role was held by the outer call
    assert stepped == ["other"] and not dispatcher.due("mine")


def test_run_as_releases_the_role_when_the_step_raises_and_never_runs_after_stop() -> None:
    dispatcher = Dispatcher(lambda _: None)

    def fails(_: bool) -> bool:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        dispatcher.run_as("a", fails)
    assert dispatcher.run_as("a", lambda _: True) is True  # the role is free again
    dispatcher.stop()
    assert dispatcher.run_as("a", lambda _: True) is False


# -- the store ------------------------------------------------------------------------------------
def _store_with_work(tmp_path: Path) -> tuple[Store, int]:
    store = Store(tmp_path / "durable.sqlite3")
    record = new_record("i", "orch", None, STAMP, parent=None, version=None)
    store.create(record, Message("i", record.execution_id, 0.0, started_event(record, STAMP)), replace=False)
    _, messages = store.step_input("i", time.time())
    write = StepWrite("i", history=[new_event(EventType.ORCHESTRATOR_STARTED, STAMP)], expected_len=0)
    write.consumed = [m[0] for m in messages]
    write.work = [(record.execution_id, 0, "act", '"x"')]
    (item,) = store.commit_step(write)
    return store, item.id


def test_a_step_deletes_the_work_row_of_the_result_it_records(tmp_path: Path) -> None:
    store, work_id = _store_with_work(tmp_path)
    done = new_event(EventType.TASK_COMPLETED, STAMP, TaskScheduledId=0, Result='"y"')
    store.commit_step(StepWrite("i", history=[done], completed=[work_id], expected_len=1))
    assert store.pending_work() == []
    assert [e["EventType"] for e in store.history("i")] == [
        EventType.ORCHESTRATOR_STARTED,
        EventType.TASK_COMPLETED,
    ]
    store.close()


def test_a_step_whose_result_lost_its_work_row_commits_nothing(tmp_path: Path) -> None:
    store, work_id = _store_with_work(tmp_path)
    assert store.complete_many([(store.pending_work()[0], new_event(EventType.TASK_COMPLETED, STAMP))], 0.0)
    done = new_event(EventType.TASK_COMPLETED, STAMP, TaskScheduledId=0, Result='"y"')
    late = StepWrite("i", history=[done], completed=[work_id], expected_len=1)
    late.messages = [Message("i", None, 0.0, done)]
    with pytest.raises(StepConflict):
        store.commit_step(late)
    record, inbox = store.step_input("i", time.time())
    assert record is not None and record.history_len == 1  # the step rolled back whole
    assert len(inbox) == 1  # only complete_many's result, which took the row
    store.close()


# -- the engine -----------------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = Store(tmp_path / "durable.sqlite3")
    engine = Engine(load_app(APP), store, EngineConfig(activity_concurrency=4))
    with running(engine, store):
        yield engine


def _start(engine: Engine, name: str, value: object) -> str:
    return engine.start_new(name, None, json.dumps(json.dumps(value)))


def _inbox_rows_ever(store: Store) -> int:
    with store.reading() as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
    return int(row[0]) if row else 0


def _completed(store: Store, instance_id: str) -> list[object]:
    return [e.get("Result") for e in store.history(instance_id) if e["EventType"] == EventType.TASK_COMPLETED]


def test_a_chain_records_its_results_in_its_steps_not_through_the_inbox(engine: Engine) -> None:
    before = _inbox_rows_ever(engine.store)
    instance_id = _start(engine, "chain", 30)
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed"
    assert len(json.loads(record.output or "[]")) == 30
    assert len(_completed(engine.store, instance_id)) == 30  # each result recorded once
    # The start message, and at most the first result (the dispatcher thread may still hold the
    # role after the start's commit when it arrives); through the inbox, 31 rows.
    assert _inbox_rows_ever(engine.store) - before <= 2
    assert engine.store.pending_work() == []


def test_a_fan_out_records_every_result_once(engine: Engine) -> None:
    instance_id = _start(engine, "fan_out", 40)
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed" and record.output == "40"
    assert len(_completed(engine.store, instance_id)) == 40


def _gated(engine: Engine, tmp_path: Path) -> str:
    instance_id = _start(engine, "gated_one", str(tmp_path))
    _until(lambda: (tmp_path / "started").exists())
    return instance_id


def _status(engine: Engine, instance_id: str) -> str:
    record = engine.store.get(instance_id, header=True)
    assert record is not None
    return record.status


def test_a_suspension_holds_a_handed_result_until_the_resume(engine: Engine, tmp_path: Path) -> None:
    instance_id = _gated(engine, tmp_path)
    engine.suspend(instance_id, "wait")
    _until(lambda: _status(engine, instance_id) == "Suspended")
    (tmp_path / "open").write_text("done")
    _until(lambda: engine.store.pending_work() == [])  # the result is committed: held in the inbox
    assert _completed(engine.store, instance_id) == []
    assert len(engine.store.step_input(instance_id, time.time())[1]) == 1
    assert _status(engine, instance_id) == "Suspended"
    engine.resume(instance_id, "go")
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed" and record.output == '"done"'
    assert _completed(engine.store, instance_id) == ['"done"']


def test_a_handed_result_of_a_terminated_instance_is_dropped(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance_id = _gated(engine, tmp_path)
    engine.terminate(instance_id, "stop")
    _until(lambda: _status(engine, instance_id) == "Terminated")
    history = engine.store.history(instance_id)
    assert engine.store.pending_work() == []  # the termination took the work row
    caplog.set_level("INFO", logger="convergio.host.engine")
    (tmp_path / "open").write_text("late")
    _until(lambda: engine.pool_idle())
    _until(lambda: not engine._dispatch._stepping)
    assert engine.store.history(instance_id) == history  # nothing recorded after the end
    assert engine.store.step_input(instance_id, time.time())[1] == []
    assert _status(engine, instance_id) == "Terminated"


def test_a_handed_result_whose_row_was_completed_elsewhere_is_not_recorded_twice(engine: Engine) -> None:
    """The row completed meanwhile by another process (which claimed it after our lease ran
    out): the handed step conflicts and rolls back, the runner's fallback records nothing, and
    the chain goes on with the other process's result, recorded once."""
    taken = threading.Event()
    original = engine.store.commit_step

    def completed_elsewhere(step: StepWrite) -> list[WorkItem]:
        if step.completed and not taken.is_set():
            taken.set()
            (item,) = [i for i in engine.store.pending_work() if i.id == step.completed[0]]
            other = new_event(
                EventType.TASK_COMPLETED, STAMP, TaskScheduledId=item.task_id, Result='"elsewhere"'
            )
            assert engine.store.complete_many([(item, other)], time.time()) == [item]
            engine._wake(item.instance_id)
        return original(step)

    engine.store.commit_step = completed_elsewhere  # type: ignore[method-assign]
    instance_id = _start(engine, "chain", 3)
    record = engine.wait(instance_id, 30)
    assert taken.is_set()
    assert record is not None and record.status == "Completed"
    results = _completed(engine.store, instance_id)
    assert len(results) == 3 and results.count('"elsewhere"') == 1


class _Others:
    """A stand-in for the engine's ``Presence``: whether another engine has the store open."""

    def __init__(self) -> None:
        self.present = False

    def alone(self) -> bool:
        return not self.present

    def close(self) -> None:
        pass


def test_a_message_queued_by_another_engine_during_the_activity_is_delivered(
    engine: Engine, tmp_path: Path
) -> None:
    """The handed step of an instance nothing in this process woke reads no inbox (ADR 0052):
    a message another engine queued meanwhile reaches the instance through the watch thread's
    wake-up, in the next step, as any message of another engine does (only engines write the
    store, and another one's presence turns the watch on)."""
    others, presence = _Others(), engine._sharing._presence
    engine._sharing._presence = others  # type: ignore[assignment]
    try:
        instance_id = _start(engine, "gated_then_event", str(tmp_path))
        _until(lambda: (tmp_path / "started").exists())
        other = Store(tmp_path / "durable.sqlite3", origin="another-engine")
        event = new_event(EventType.EVENT_RAISED, STAMP, Name="go", Input='"x"')
        other.send(Message(instance_id, None, time.time(), event))
        other.close()
        (tmp_path / "open").write_text("done")
        _until(lambda: _completed(engine.store, instance_id) == ['"done"'])
        time.sleep(0.1)
        assert _status(engine, instance_id) == "Running"  # the event waits for the watch
        assert [m[2]["EventType"] for m in engine.store.step_input(instance_id, time.time())[1]] == [
            EventType.EVENT_RAISED
        ]
        others.present = True  # the watch reads the inbox now, and wakes the instance
        record = engine.wait(instance_id, 30)
    finally:
        engine._sharing._presence = presence
    assert record is not None and record.status == "Completed"
    assert json.loads(record.output or "null") == ["done", "x"]
