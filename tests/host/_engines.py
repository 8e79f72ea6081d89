"""An engine started on its own store for a test, stopped and its store closed afterwards;
its steps counted, and instances started as the SDK's client starts them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from convergio.host._engine import Engine
from convergio.host._inbox import Handed
from convergio.host._store import Store

__all__ = ["count_steps", "running", "start_as_sdk"]


@contextmanager
def running(engine: Engine, store: Store) -> Iterator[Engine]:
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
        store.close()


def count_steps(engine: Engine, seen: Callable[[str], object]) -> None:
    """Tell ``seen`` the instance of every step the engine runs, before it runs."""
    step = engine._step

    def counted(instance_id: str, handed: Handed | None = None) -> bool:
        seen(instance_id)
        return step(instance_id, handed)

    engine._step = counted  # type: ignore[method-assign]


def start_as_sdk(engine: Engine, name: str, value: object) -> str:
    """Start as the SDK's client does (it encodes the input twice)."""
    return engine.start_new(name, None, json.dumps(json.dumps(value)))
