"""A worker process's reading of its host's pipe (``_worker_main._listen``, ADR 0029).

What one read finds is submitted together (one wake of the pool, not one per item), a line
split across reads is read whole, the ended executions it names are known before the items
beside them are submitted, and the end of the pipe ends the reader even mid-line.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from convergio.host._finished import FinishedExecutions
from convergio.host._store import WorkItem
from convergio.host._worker_main import _listen
from convergio.host._workers import encode_items


class _Runner:
    def __init__(self) -> None:
        self.finished = FinishedExecutions()
        self.batches: list[list[WorkItem]] = []
        self.ended_at_submit: list[bool] = []

    def submit(self, items: Sequence[WorkItem]) -> None:
        self.batches.append(list(items))
        self.ended_at_submit.append("gone" in self.finished)


def _item(n: int, text: str = "x") -> WorkItem:
    return WorkItem(n, f"i{n}", "e1", n, "run_agent", json.dumps({"text": text}))


def _listening() -> tuple[_Runner, threading.Event, int, threading.Thread]:
    runner, done = _Runner(), threading.Event()
    read_end, write_end = os.pipe()
    reader = threading.Thread(target=_listen, args=(runner, done, read_end), daemon=True)
    reader.start()
    return runner, done, write_end, reader


def _close(write_end: int, reader: threading.Thread, done: threading.Event) -> None:
    os.close(write_end)
    reader.join(5)
    assert done.is_set() and not reader.is_alive()


def test_a_frame_of_several_items_is_submitted_as_one_batch() -> None:
    runner, done, write_end, reader = _listening()
    items = [_item(n) for n in range(1, 18)]
    os.write(write_end, encode_items(items))
    _close(write_end, reader, done)
    assert runner.batches == [items]


def test_an_item_longer_than_one_read_is_read_whole() -> None:
    runner, done, write_end, reader = _listening()
    big = _item(1, "y" * 300_000)  # several reads of 64 KiB
    frame = encode_items([big, _item(2)])
    writer = threading.Thread(
        target=lambda: [os.write(write_end, frame[i : i + 5000]) for i in range(0, len(frame), 5000)]
    )
    writer.start()
    writer.join(5)
    _close(write_end, reader, done)
    got = [item for batch in runner.batches for item in batch]
    assert got == [big, _item(2)]


def test_ended_executions_are_known_before_the_items_read_with_them() -> None:
    runner, done, write_end, reader = _listening()
    os.write(write_end, encode_items([_item(1)]) + json.dumps("gone").encode() + b"\n")
    _close(write_end, reader, done)
    assert "gone" in runner.finished
    assert runner.batches == [[_item(1)]] and runner.ended_at_submit == [True]


def test_the_pipe_closing_mid_line_ends_the_reader_and_drops_the_partial_item() -> None:
    runner, done, write_end, reader = _listening()
    frame = encode_items([_item(1), _item(2)])
    os.write(write_end, frame[: len(frame) - 10])  # the host died while writing the second
    _close(write_end, reader, done)
    assert [item for batch in runner.batches for item in batch] == [_item(1)]


def test_heartbeat_sized_blank_lines_submit_nothing() -> None:
    runner, done, write_end, reader = _listening()
    os.write(write_end, b"\n\n")
    _close(write_end, reader, done)
    assert all(not batch for batch in runner.batches)
