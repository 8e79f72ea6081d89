"""The real app (``function_app.py``) with faults a test switches on from outside the host process.

Start the host with this file as ``--app`` and ``CONVERGIO_TEST_FAULTS=<folder>``. Faults are
chosen by what the request carries, so one host serves every test:

- a graph named ``crash-after-index``: the process is killed (SIGKILL) right after the run
  index's write of its start, before the orchestration is created;
- a graph named ``index-down``: the run index refuses the start's write (an outage);
- a graph named ``refuse-start``: the durable backend refuses to create the orchestration;
- a graph named ``held-start``: the orchestration is created only once ``<folder>/release``
  exists; ``<folder>/held`` says which run is held;
- while ``<folder>/hold-cancel`` exists, a cancel's mark in the run stream waits for
  ``<folder>/cancel-release`` (and writes ``<folder>/cancel-held`` first);
- an index read of a run id starting ``slow-`` waits for ``<folder>/slow-release`` (and
  writes ``<folder>/slow-entered`` first): a store call that takes as long as the test wants;
- while ``<folder>/hold-records`` exists, a run's progress records (``record_progress``) stay
  open: their activity returns once the file is gone (and writes ``<folder>/records-held``);
- every index update (``update_run``) is appended to ``<folder>/updates.log`` as ``id status``,
  every index read of one run (``run``) to ``<folder>/reads.log`` as its id.

The index faults apply to both adapters (SQLite in the home, Cosmos DB on the control plane),
and so does the held cancel. A held call waits at most ``_HOLD_S``, so a failing test cannot
leave a host hung.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from activities import _blueprint
from convergio.streams._cosmos import CosmosRunStream
from convergio.streams._sqlite import SqliteRunStream
from convergio.tenants._runs_cosmos import CosmosRunIndex
from convergio.tenants._runs_sqlite import SqliteRunIndex
from function_app import app

__all__ = ["app"]

_FOLDER = Path(os.environ["CONVERGIO_TEST_FAULTS"])
_HOLD_S = 60.0


def _wait_for(name: str) -> None:
    deadline = time.monotonic() + _HOLD_S
    while not (_FOLDER / name).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


_Index = SqliteRunIndex | CosmosRunIndex
_Stream = SqliteRunStream | CosmosRunStream
_start_new = df.DurableOrchestrationClient.start_new
_ORIGINAL: dict[tuple[type, str], Any] = {
    (owner, name): getattr(owner, name)
    for owner in (SqliteRunIndex, CosmosRunIndex)
    for name in ("record_run", "update_run", "run")
} | {(owner, "cancel"): owner.cancel for owner in (SqliteRunStream, CosmosRunStream)}


def _original(self: Any, name: str) -> Any:
    """The adapter's own method ``name`` (of the index or stream class ``self`` comes from)."""
    owner = next(o for o, n in _ORIGINAL if n == name and isinstance(self, o))
    return _ORIGINAL[(owner, name)]


def record_run(self: _Index, tenant_id: str, run_id: str, graph_name: str, **fields: Any) -> None:
    if graph_name == "index-down":
        raise RuntimeError("the run index is unavailable")
    _original(self, "record_run")(self, tenant_id, run_id, graph_name, **fields)
    if graph_name == "crash-after-index":
        os.kill(os.getpid(), signal.SIGKILL)


def update_run(self: _Index, run_id: str, **fields: Any) -> bool:
    with (_FOLDER / "updates.log").open("a", encoding="utf-8") as log:
        log.write(f"{run_id} {fields.get('status')}\n")
    return bool(_original(self, "update_run")(self, run_id, **fields))


def run(self: _Index, run_id: str) -> Any:
    with (_FOLDER / "reads.log").open("a", encoding="utf-8") as log:
        log.write(f"{run_id}\n")
    if run_id.startswith("slow-"):
        (_FOLDER / "slow-entered").touch()
        _wait_for("slow-release")
    return _original(self, "run")(self, run_id)


async def start_new(self: df.DurableOrchestrationClient, name: str, *args: Any, **kwargs: Any) -> Any:
    client_input = kwargs.get("client_input")
    graph = client_input.get("graph", {}) if isinstance(client_input, dict) else {}
    if graph.get("name") == "refuse-start":
        raise RuntimeError("the durable backend refused the start")
    if graph.get("name") == "held-start":
        (_FOLDER / "held").write_text(str(kwargs.get("instance_id")), encoding="utf-8")
        await asyncio.to_thread(_wait_for, "release")
    return await _start_new(self, name, *args, **kwargs)


def cancel(self: _Stream, run_id: str) -> None:
    if (_FOLDER / "hold-cancel").exists():
        (_FOLDER / "cancel-held").touch()
        _wait_for("cancel-release")
    _original(self, "cancel")(self, run_id)


_PATCHES: dict[str, Any] = {
    "record_run": record_run,
    "update_run": update_run,
    "run": run,
    "cancel": cancel,
    "start_new": start_new,
}
for owner, name in [*_ORIGINAL, (df.DurableOrchestrationClient, "start_new")]:
    setattr(owner, name, _PATCHES[name])


def record_progress(record: dict[str, Any]) -> dict[str, Any]:
    if (_FOLDER / "hold-records").exists():
        (_FOLDER / "records-held").touch()
        deadline = time.monotonic() + _HOLD_S
        while (_FOLDER / "hold-records").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return record


_blueprint.record_progress._function._func = record_progress  # the function the host indexes
