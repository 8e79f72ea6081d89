"""The history a status shows, reshaped without parsing its times, shows the same times."""

from __future__ import annotations

import pytest

from convergio.host._events import history_time
from convergio.host._history_view import shown_time


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-06T05:12:55.899891Z",
        "2026-12-06T05:12:55.899800Z",
        "2026-12-06T05:12:55.000000Z",
        "2026-12-06T05:12:55.000001Z",
        "2026-12-06T05:12:55Z",
        "2026-12-06T05:12:55.5Z",
        "2026-12-06T07:12:55.123456+02:00",
        "2026-12-06T05:12:55.123456",
    ],
)
def test_history_times_read_without_parsing_match_the_parsed_ones(stored: str) -> None:
    """``historyEvents`` times: the host's stored form is cut, not parsed; every form agrees."""
    assert shown_time(stored) == history_time(stored)
