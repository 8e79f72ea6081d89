"""The SDK's timestamps read without dateutil: the same instants, the same errors (ADR 0069)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.history import HistoryEvent
from dateutil.parser import parse as dateutil_parse
from dateutil.tz import tzutc

from convergio import _history_times
from convergio._history_times import SDK_MODULES, install, parse_history_time

ROOT = Path(__file__).resolve().parents[1]
SDK_MODULE = sys.modules["azure.durable_functions.models.history.HistoryEvent"]
STATUS_MODULE = sys.modules["azure.durable_functions.models.DurableOrchestrationStatus"]

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
    """The SDK modules' parse put back as it was after the test."""
    before = [(module, module.dt_parse) for module in (SDK_MODULE, STATUS_MODULE)]  # type: ignore[attr-defined]
    yield
    for module, parse in before:
        module.dt_parse = parse  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", EXTENSION_SHAPES)
def test_the_extension_shape_reads_as_dateutil_reads_it(text: str) -> None:
    ours, theirs = parse_history_time(text), dateutil_parse(text)
    assert ours == theirs
    assert (ours.year, ours.microsecond) == (theirs.year, theirs.microsecond)  # the 7th digit dropped alike
    assert ours.utcoffset() == timedelta(0)
    assert ours.tzinfo == tzutc()


@pytest.mark.parametrize("text", EXTENSION_SHAPES)
def test_the_extension_shape_never_reaches_dateutil(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_text: str) -> None:
        raise AssertionError("dateutil was asked")

    monkeypatch.setattr(_history_times, "_dateutil_parse", refuse)
    assert parse_history_time(text) == dateutil_parse(text)


@pytest.mark.parametrize("text", OTHER_TEXTS)
def test_other_texts_are_dateutils(text: str) -> None:
    ours, theirs = parse_history_time(text), dateutil_parse(text)
    assert ours == theirs
    assert ours.tzinfo == theirs.tzinfo


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_bad_texts_raise_dateutils_error(text: str) -> None:
    with pytest.raises(Exception) as theirs:
        dateutil_parse(text)
    with pytest.raises(type(theirs.value)):
        parse_history_time(text)


def test_a_non_string_is_dateutils_to_refuse() -> None:
    with pytest.raises(TypeError):
        parse_history_time(None)


@pytest.mark.usefixtures("sdk_parse")
def test_installed_the_sdk_builds_events_and_statuses_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [sys.modules[name] for name in SDK_MODULES] == [SDK_MODULE, STATUS_MODULE]
    SDK_MODULE.dt_parse = STATUS_MODULE.dt_parse = dateutil_parse  # type: ignore[attr-defined]  # as shipped
    assert install() is True
    assert install() is True  # again: nothing changes
    assert SDK_MODULE.dt_parse is parse_history_time  # type: ignore[attr-defined]
    assert STATUS_MODULE.dt_parse is parse_history_time  # type: ignore[attr-defined]

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
    status = DurableOrchestrationStatus.from_json(
        {"createdTime": "2026-12-07T10:00:00Z", "lastUpdatedTime": "2026-12-07T10:00:07Z"}
    )
    assert status.last_updated_time - status.created_time == timedelta(seconds=7)
    assert status.created_time == dateutil_parse("2026-12-07T10:00:00Z")
    assert asked == ["2026-12-07T11:00:00+01:00"]  # the extension's status times: no dateutil either


@pytest.mark.usefixtures("sdk_parse")
def test_an_sdk_without_its_dateutil_parse_is_left_alone() -> None:
    def someone_elses(text: str) -> None:
        raise AssertionError(text)

    SDK_MODULE.dt_parse = someone_elses  # type: ignore[attr-defined]
    STATUS_MODULE.dt_parse = dateutil_parse  # type: ignore[attr-defined]
    assert install() is False
    assert SDK_MODULE.dt_parse is someone_elses  # type: ignore[attr-defined]
    assert STATUS_MODULE.dt_parse is parse_history_time  # type: ignore[attr-defined]  # the other one is


@pytest.mark.parametrize("package", ["orchestrations", "convergio.api"])
def test_the_app_s_blueprints_install_it_when_imported(package: str) -> None:
    """Each blueprint whose code has the SDK read times installs it, alone in a fresh interpreter."""
    probe = (
        f"import sys, {package}; "
        "print(*(sys.modules[name].dt_parse.__name__ for name in ("
        "'azure.durable_functions.models.history.HistoryEvent', "
        "'azure.durable_functions.models.DurableOrchestrationStatus')))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["parse_history_time", "parse_history_time"]
