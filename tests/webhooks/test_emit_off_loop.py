"""``emit_run_event`` does its store work on a thread, not on the event loop that runs it.

The host runs async activities on its event loop (as Azure runs them on its worker's): a
run-index transaction there would stall every request the loop serves meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from activities import webhooks
from orchestrations.webhooks import INDEX_WAITS


class Recording:
    """A store that notes the thread of each call (and can fail)."""

    def __init__(self, fail: bool = False) -> None:
        self.threads: list[threading.Thread] = []
        self.fail = fail

    def note_waits(self, run_id: str, *, seq: int, target: dict[str, int]) -> bool:
        self.threads.append(threading.current_thread())
        if self.fail:
            raise OSError("the store is away")
        return True

    def callbacks(self, tenant: str, event: str) -> list[Any]:
        self.threads.append(threading.current_thread())
        return []


def _emit(monkeypatch: pytest.MonkeyPatch, store: Recording, event: dict[str, Any]) -> list[str]:
    parts = SimpleNamespace(tenants=store, webhooks=store, settings=None)
    monkeypatch.setattr(webhooks, "components", lambda: parts)

    async def main() -> list[str]:
        loop_thread = threading.current_thread()
        found = await webhooks.emit_run_event_activity(event, client=None)
        assert store.threads and loop_thread not in store.threads
        return found

    return asyncio.run(main())


def test_the_waits_are_written_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"type": INDEX_WAITS, "run_id": "r1", "seq": 1, "target": {"ok": 1}}
    assert _emit(monkeypatch, Recording(), event) == []


def test_a_store_outage_leaves_the_waits_behind_and_the_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"type": INDEX_WAITS, "run_id": "r1", "seq": 1, "target": {"ok": 1}}
    assert _emit(monkeypatch, Recording(fail=True), event) == []


def test_the_callbacks_are_read_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"type": "run.completed", "tenant": "acme", "run_id": "r1", "event_id": "e1"}
    assert _emit(monkeypatch, Recording(), event) == []
