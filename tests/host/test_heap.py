"""A host process's heap (ADR 0067): its start-up objects frozen, its young generation collected
every ``THRESHOLDS[0]`` objects, and cyclic garbage still freed within that many."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from convergio.host._heap import THRESHOLDS, settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def settled() -> Iterator[None]:
    was = gc.get_threshold()
    settle_heap()
    try:
        yield
    finally:
        gc.set_threshold(*was)


def test_the_heap_is_frozen_and_collected_at_the_hosts_thresholds(settled: None) -> None:
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert THRESHOLDS[0] > 700  # Python's default walked a run's live state 63 times per 500-wide run


def test_cyclic_garbage_is_still_collected_within_the_young_generations_size(settled: None) -> None:
    freed: list[int] = []
    first = _Node()
    weakref.finalize(first, freed.append, 1)
    del first
    assert not freed  # a cycle: reference counting alone does not free it
    for _ in range(THRESHOLDS[0] + 100):  # more than a young generation's worth of new cycles
        _Node()
    assert freed == [1]  # collected by a young collection, with nobody calling gc.collect()
