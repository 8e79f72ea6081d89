"""An engine started on its own store for a test, stopped and its store closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from convergio.host._engine import Engine
from convergio.host._store import Store

__all__ = ["running"]


@contextmanager
def running(engine: Engine, store: Store) -> Iterator[Engine]:
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
        store.close()
