"""The status route sends the stored values as stored (ADR 0060): the same JSON, the same codes
and the same refusals as encoding ``instance_status``'s answer, whatever the stored text."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.responses import JSONResponse

from convergio.host._durable_api import instance_status, status_answer
from convergio.host._engine import Engine
from convergio.host._events import EventType, new_event
from convergio.host._store import InstanceRecord, Message, StepWrite, Store

_STAMP = "2026-12-06T08:00:00.123456Z"
_STORED = [
    '{"done":1,"of":200}',
    '  {"a": [1, 2.5, -0.0, 1e300, "\\u00e9\\ud83d\\ude00", null, true]}  ',
    '{"raw": "é ß 😀 \u2028"}',
    '"just text"',
    "not json {",
    "",
    "   ",
    '{"s": "BaNaNa and Infinity, only words"}',
    '{"x": NaN}',
    "[Infinity]",
    "[" * 3000 + "]" * 3000,  # deeper than json.loads goes: the raw text, as json_token says
    '{"a": 1} trailing',
    "12345678901234567890123",
]


def _engine(tmp_path: Path, status: str, custom: str | None, output: str | None) -> Engine:
    store = Store(tmp_path / "durable.sqlite3")
    started = new_event(EventType.EXECUTION_STARTED, _STAMP, Name="agent_graph", Input='{"graph": {}}')
    record = InstanceRecord(
        "run",
        "agent_graph",
        "e1",
        "Pending",
        '{"graph": {}}',
        None,
        None,
        None,
        None,
        None,
        _STAMP,
        _STAMP,
        0,
        None,
    )
    store.create(record, Message("run", "e1", 0.0, started), replace=False)
    history = [new_event(EventType.ORCHESTRATOR_STARTED, _STAMP), started]
    store.commit_step(
        StepWrite(
            "run",
            history=history,
            updates={"status": status, "updated_at": _STAMP, "custom_status": custom, "output": output},
        )
    )
    return cast(Engine, SimpleNamespace(store=store))


def _encoded(engine: Engine, query: dict[str, str]) -> tuple[int, Any]:
    try:
        code, body = instance_status(engine, "run", query)
        return code, None if body is None else json.loads(bytes(JSONResponse(body, status_code=code).body))
    except ValueError as exc:  # NaN, Infinity: Starlette's encoder refuses them
        return -1, type(exc)


def _sent(engine: Engine, query: dict[str, str]) -> tuple[int, Any]:
    try:
        code, body = status_answer(engine, "run", query)
        return code, None if body is None else json.loads(body)
    except ValueError as exc:
        return -1, type(exc)


_FLAGS = ("showInput", "showHistory", "showHistoryOutput", "returnInternalServerErrorOnFailure")
_QUERIES = [
    {k: v for k, v in zip(_FLAGS, values, strict=True) if v is not None}
    for values in itertools.product((None, "true", "false"), repeat=len(_FLAGS))
]


@pytest.mark.parametrize("stored", _STORED)
@pytest.mark.parametrize("status", ["Running", "Completed", "Failed", "Terminated"])
def test_the_sent_status_is_the_encoded_one(tmp_path: Path, status: str, stored: str) -> None:
    engine = _engine(tmp_path, status, stored, stored if status != "Running" else None)
    for query in _QUERIES:
        assert _sent(engine, query) == _encoded(engine, query), query


def test_a_value_that_decodes_goes_out_as_stored_and_an_unknown_instance_has_no_body(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "Running", '{"b": 1,  "a": [2, 3]}', None)
    code, body = status_answer(engine, "run", {"showInput": "false"})
    assert code == 202 and body is not None
    assert b'"customStatus":{"b": 1,  "a": [2, 3]},"output":null,' in body  # not decoded and encoded again
    assert status_answer(engine, "nobody", {}) == (404, None)
