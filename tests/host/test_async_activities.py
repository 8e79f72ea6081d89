"""Async activities on their pool thread's event loop, as many at once as are queued (ADR 0065).

The Python worker runs ``async def`` functions on its event loop, concurrently; the embedded
host runs them on the loop of the pool thread that takes the first, with every async item
queued behind it: a fan-out wakes one thread, its activities run at once however few threads
the pool has, and the ones that end together are committed together. A chain's lone result
is still handed to its instance's step (ADR 0052); a failure still reads as the Python
worker's, the user's frames only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from convergio.host._engine import Engine, EngineConfig
from convergio.host._events import Event, EventType
from convergio.host._functions import load_app
from convergio.host._store import Store, WorkItem
from tests.host._engines import running

APP = Path(__file__).parent / "apps" / "async_activities" / "async_app.py"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = Store(tmp_path / "durable.sqlite3")
    engine = Engine(load_app(APP), store, EngineConfig(activity_concurrency=2))
    with running(engine, store):
        yield engine


def _run(engine: Engine, name: str, value: object) -> object:
    instance_id = engine.start_new(name, None, json.dumps(json.dumps(value)))
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed", record
    return json.loads(record.output or "null")


def test_a_fan_out_of_async_activities_runs_at_once_on_one_thread(engine: Engine) -> None:
    # 12 calls that each return only once all 12 have arrived, on a pool of 2 threads: a thread
    # per call could never let them meet.
    threads = _run(engine, "meeting", 12)
    assert isinstance(threads, list) and len(threads) == 12
    assert "alone" not in threads
    assert len(set(threads)) == 1 and threads[0].startswith("activity_")


def test_the_results_that_end_together_are_committed_together(engine: Engine) -> None:
    batches: list[int] = []
    complete_many = engine.store.complete_many

    def counted(done: Sequence[tuple[WorkItem, Event]], now: float) -> list[WorkItem]:
        batches.append(len(done))
        return complete_many(done, now)

    engine.store.complete_many = counted  # type: ignore[method-assign]
    _run(engine, "meeting", 20)
    assert sum(batches) == 20 and max(batches) >= 19  # one turn (the last may be handed over)


def test_sync_activities_queued_with_async_ones_run_on_their_own_threads(engine: Engine) -> None:
    names = _run(engine, "mixed", 10)
    assert isinstance(names, list) and len(names) == 10
    assert all(name.startswith("sync:activity_") for name in names[0::2])
    assert all(name.startswith("activity_") for name in names[1::2])


def test_a_chain_of_async_activities_hands_its_results_to_its_steps(engine: Engine) -> None:
    with engine.store.reading() as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
    before = int(row[0]) if row else 0
    threads = _run(engine, "chain", 25)
    assert isinstance(threads, list) and len(threads) == 25
    with engine.store.reading() as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
    # The start message and at most the first result; through the inbox, 26 rows.
    assert (int(row[0]) if row else 0) - before <= 2
    assert engine.store.pending_work() == []


def test_a_failing_async_activity_fails_its_task_with_the_users_frames_only(engine: Engine) -> None:
    instance_id = engine.start_new("failing", None, json.dumps(json.dumps("this")))
    record = engine.wait(instance_id, 30)
    assert record is not None and record.status == "Completed"
    assert json.loads(record.output or "null").startswith("caught: ")
    failed = [e for e in engine.store.history(instance_id) if e["EventType"] == EventType.TASK_FAILED]
    assert len(failed) == 1
    assert failed[0]["Reason"] == "Activity function 'fail_async' failed: ValueError: refused this"
    details = failed[0]["Details"]
    assert "async_app.py" in details and "ValueError: refused this" in details
    assert "convergio/host" not in details and "asyncio" not in details
