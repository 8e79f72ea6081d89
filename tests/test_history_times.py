"""The SDK's history timestamps read without dateutil: the same instants, the same errors (ADR 0069)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from azure.durable_functions.models.history import HistoryEvent
from dateutil.parser import parse as dateutil_parse
from dateutil.tz import tzutc

from convergio import _history_times
from convergio._history_times import history_time, install

SDK_MODULE = sys.modules["azure.durable_functions.models.history.HistoryEvent"]

# What the extension writes (.NET's "o" format, trailing zeros of the fraction trimmed) and
# what the embedded host writes (six digits): every length of fraction, the extremes of the range.
EXTENSION_SHAPES = [
    "2026-12-07T10:00:00Z",
    "2026-12-07T10:00:00.1Z",
    "2026-12-07T10:00:00.12Z",
    "2026-12-07T10:00:00.123Z",
    "2026-12-07T10:00:00.1234Z",
    "2026-12-07T10:00:00.12345Z",
    "2026-12-07T10:00:00.123456Z",
    "2026-12-07T10:00:00.6447287Z",
    "2026-12-07T23:59:59.9999999Z",
    "2024-02-29T12:30:45.000001Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999Z",
]

# Anything else is dateutil's to read: offsets, naive times, other separators, nonsense.
OTHER_TEXTS = [
    "2026-12-07T10:00:00+01:00",
    "2026-12-07T10:00:00.123456+00:00",
    "2026-12-07T10:00:00",
    "2026-12-07 10:00:00Z",
    "2026-12-07T10:00:00.12345678Z",
    "2026-12-07T10:00Z",
    "Mon, 07 Dec 2026 10:00:00 GMT",
]
BAD_TEXTS = ["2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z", "yesterday", ""]


@pytest.fixture
def sdk_parse() -> Iterator[None]:
    """The SDK module's parse put back as it was after the test."""
    before = SDK_MODULE.dt_parse  # type: ignore[attr-defined]
    yield
    SDK_MODULE.dt_parse = before  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", EXTENSION_SHAPES)
def test_the_extension_shape_reads_as_dateutil_reads_it(text: str) -> None:
    ours, theirs = history_time(text), dateutil_parse(text)
    assert ours == theirs
    assert (ours.year, ours.microsecond) == (theirs.year, theirs.microsecond)  # the 7th digit dropped alike
    assert ours.utcoffset() == timedelta(0)
    assert ours.tzinfo == tzutc()


@pytest.mark.parametrize("text", EXTENSION_SHAPES)
def test_the_extension_shape_never_reaches_dateutil(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_text: str) -> None:
        raise AssertionError("dateutil was asked")

    monkeypatch.setattr(_history_times, "_dateutil_parse", refuse)
    assert history_time(text) == dateutil_parse(text)


@pytest.mark.parametrize("text", OTHER_TEXTS)
def test_other_texts_are_dateutils(text: str) -> None:
    ours, theirs = history_time(text), dateutil_parse(text)
    assert ours == theirs
    assert ours.tzinfo == theirs.tzinfo


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_bad_texts_raise_dateutils_error(text: str) -> None:
    with pytest.raises(Exception) as theirs:
        dateutil_parse(text)
    with pytest.raises(type(theirs.value)):
        history_time(text)


def test_a_non_string_is_dateutils_to_refuse() -> None:
    with pytest.raises(TypeError):
        history_time(None)


@pytest.mark.usefixtures("sdk_parse")
def test_installed_the_sdk_builds_events_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    SDK_MODULE.dt_parse = dateutil_parse  # type: ignore[attr-defined]  # as the SDK ships
    assert install() is True
    assert install() is True  # again: nothing changes
    assert SDK_MODULE.dt_parse is history_time  # type: ignore[attr-defined]

    asked: list[str] = []

    def counted(text: str) -> object:
        asked.append(text)
        return dateutil_parse(text)

    monkeypatch.setattr(_history_times, "_dateutil_parse", counted)
    event = HistoryEvent(EventType=12, EventId=-1, IsPlayed=False, Timestamp="2026-12-07T10:00:00.6447287Z")
    assert event.timestamp == dateutil_parse("2026-12-07T10:00:00.6447287Z")
    assert asked == []
    other = HistoryEvent(EventType=12, EventId=-1, IsPlayed=False, Timestamp="2026-12-07T11:00:00+01:00")
    assert other.timestamp == event.timestamp.replace(microsecond=0)
    assert asked == ["2026-12-07T11:00:00+01:00"]


@pytest.mark.usefixtures("sdk_parse")
def test_an_sdk_without_its_dateutil_parse_is_left_alone() -> None:
    def someone_elses(text: str) -> None:
        raise AssertionError(text)

    SDK_MODULE.dt_parse = someone_elses  # type: ignore[attr-defined]
    assert install() is False
    assert SDK_MODULE.dt_parse is someone_elses  # type: ignore[attr-defined]


def test_the_app_installs_it() -> None:
    import function_app  # noqa: F401 - the app, as every host loads it

    assert SDK_MODULE.dt_parse is history_time  # type: ignore[attr-defined]
