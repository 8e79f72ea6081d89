"""The host's timestamps: written without ``strftime``, the same text as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from convergio.host._events import format_time, parse_time

_STRFTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 6, 7, 1, 2, 345678, tzinfo=UTC),
        datetime(2026, 12, 6, 7, 1, 2, tzinfo=UTC),  # a whole second keeps its six zeros
        datetime(2026, 12, 6, 9, 1, 2, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # strftime does not pad the year
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_format_time_writes_what_strftime_wrote(moment: datetime) -> None:
    assert format_time(moment) == moment.astimezone(UTC).strftime(_STRFTIME)
    if moment.year >= 1000:
        assert parse_time(format_time(moment)) == moment
