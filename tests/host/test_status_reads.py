"""The status route reads only what its answer shows (ADR 0033): the input only when shown, the
shim never; the answer stays what the whole record gives, byte for byte."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.responses import JSONResponse

from convergio.host._durable_api import instance_status
from convergio.host._engine import Engine
from convergio.host._events import EventType, new_event
from convergio.host._store import InstanceRecord, Message, StepWrite, Store

_STAMP = "2026-12-06T08:00:00.123456Z"
_INPUT = json.dumps({"graph": {"agents": [{"id": f"a{n}", "prompt": "x" * 200} for n in range(200)]}})
_SHIM = json.dumps({"kept": "y" * 5000})


def _store(tmp_path: Path, status: str) -> Store:
    """One instance with every large value set and a history, at ``status``."""
    store = Store(tmp_path / "durable.sqlite3")
    record = InstanceRecord(
        "run", "agent_graph", "e1", "Pending", _INPUT, None, None, None, None, None, _STAMP, _STAMP, 0, None
    )
    started = new_event(EventType.EXECUTION_STARTED, _STAMP, Name="agent_graph", Input=_INPUT)
    store.create(record, Message("run", "e1", 0.0, started), replace=False)
    history = [
        new_event(EventType.ORCHESTRATOR_STARTED, _STAMP),
        started,
        new_event(EventType.TASK_SCHEDULED, _STAMP, event_id=0, Name="run_agent", Input='"a0"'),
        new_event(EventType.ORCHESTRATOR_COMPLETED, _STAMP),
        new_event(EventType.TASK_COMPLETED, _STAMP, TaskScheduledId=0, Result='{"text":"\\u00e9"}'),
    ]
    finished = status in {"Completed", "Failed", "Terminated"}
    store.commit_step(
        StepWrite(
            "run",
            history=history,
            updates={
                "status": status,
                "updated_at": _STAMP,
                "shim": _SHIM,
                "custom_status": '{"done":1,"of":200}',
                **({"output": '{"outputs":{"a0":"\\u00e9"}}'} if finished else {}),
            },
        )
    )
    return store


def _engine(store: Store) -> Engine:
    return cast(Engine, SimpleNamespace(store=store))


def _answer(engine: Engine, query: dict[str, str]) -> tuple[int, bytes | None]:
    code, body = instance_status(engine, "run", query)
    return code, None if body is None else bytes(JSONResponse(body, status_code=code).body)


_FLAGS = ("showInput", "showHistory", "showHistoryOutput", "returnInternalServerErrorOnFailure")


@pytest.mark.parametrize("status", ["Running", "Completed", "Failed"])
def test_the_narrow_read_answers_as_the_whole_record_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    store = _store(tmp_path, status)
    engine = _engine(store)
    queries: list[dict[str, str]] = [
        {k: v for k, v in zip(_FLAGS, values, strict=True) if v is not None}
        for values in itertools.product((None, "true", "false", "FALSE "), repeat=len(_FLAGS))
    ]
    narrow = [_answer(engine, q) for q in queries]
    with monkeypatch.context() as m:  # the read before ADR 0033's narrow one: the whole record
        m.setattr(store, "status", lambda instance_id, *, with_input: store.get(instance_id))
        whole = [_answer(engine, q) for q in queries]
    assert narrow == whole
    shown = json.loads(narrow[0][1] or b"")
    assert shown["input"] == json.loads(_INPUT) and shown["customStatus"] == {"done": 1, "of": 200}
    hidden = json.loads(_answer(engine, {"showInput": "false"})[1] or b"")
    assert "input" in hidden and hidden["input"] is None
    assert instance_status(engine, "nobody", {"showInput": "false"}) == (404, None)


def test_a_status_read_without_input_selects_neither_input_nor_shim(tmp_path: Path) -> None:
    """Fails if the route reads the input (or the shim) from SQLite only to drop it."""
    store = _store(tmp_path, "Running")
    engine = _engine(store)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)

    def read(query: dict[str, str]) -> str:
        statements.clear()
        assert instance_status(engine, "run", query)[0] == 202
        return "\n".join(statements)

    hidden = read({"showInput": "false", "showHistory": "true"})
    assert "'input'" not in hidden and "'shim'" not in hidden
    assert "'output'" in hidden and "'custom_status'" in hidden
    shown = read({})
    assert "'input'" in shown and "'shim'" not in shown


def test_reads_fetch_the_values_they_name(tmp_path: Path) -> None:
    store = _store(tmp_path, "Completed")

    def values(record: InstanceRecord | None) -> dict[str, Any]:
        assert record is not None
        return {k: getattr(record, k) is not None for k in ("input", "output", "custom_status", "shim")}

    every = {"input": True, "output": True, "custom_status": True, "shim": True}
    assert values(store.get("run")) == every
    assert values(store.status("run", with_input=True)) == {**every, "shim": False}
    assert values(store.status("run", with_input=False)) == {**every, "input": False, "shim": False}
    assert [values(r) for r in store.query(values="shown_without_input")] == [
        {**every, "input": False, "shim": False}
    ]
    assert [values(r) for r in store.query(values="none")] == [dict.fromkeys(every, False)]
    whole, narrow = store.get("run"), store.status("run", with_input=False)
    assert narrow is not None and whole is not None
    assert (narrow.output, narrow.custom_status, narrow.status) == (
        whole.output,
        whole.custom_status,
        whole.status,
    )
