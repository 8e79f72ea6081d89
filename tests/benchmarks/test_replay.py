"""The replay benchmark (ADR 0069): Azure's replay of every step, the SDK's parse against the app's."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.replay import VARIANTS, measure, table
from convergio._history_times import parse_history_time


def test_a_small_run_replays_only_where_it_should_and_puts_the_parse_back(tmp_path: Path) -> None:
    import function_app  # noqa: F401 - installs the app's parse, as every host does

    figures = measure("chain", 3, 2, tmp_path)
    assert list(figures) == list(VARIANTS)
    for variant, rows in figures.items():
        assert len(rows) == 2
        for ms, replays in rows:
            assert ms > 0
            # A chain of 3 and its run record take several steps; each replays the history whole.
            assert replays >= 4 if variant.startswith("replay") else replays == 0
    sdk = sys.modules["azure.durable_functions.models.history.HistoryEvent"]
    assert sdk.dt_parse is parse_history_time  # type: ignore[attr-defined]


def test_the_table_gives_the_ratio_to_the_sdks_parse() -> None:
    rows = {
        "replay, dateutil": [(4.0, 10.0), (6.0, 10.0)],
        "replay, the app's parse": [(2.0, 10.0), (3.0, 10.0)],
        "kept alive": [(1.0, 0.0), (1.0, 0.0)],
    }
    lines = table({"chain:3": rows}).splitlines()
    assert lines[2] == "| chain:3 | replay, dateutil | 5.000 | 1.00x | 10 |"
    assert lines[3] == "| chain:3 | replay, the app's parse | 2.500 | 2.00x | 10 |"
    assert lines[4] == "| chain:3 | kept alive | 1.000 | 5.00x | 0 |"
