"""The stamps an agent call makes (ADR 0048): the same text ``datetime`` would write, at any
moment, microseconds of 0 and second boundaries included, and from threads racing a second."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from convergio.metering import _clock
from convergio.metering._canonical import canonical_time
from convergio.metering._clock import now_iso, now_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(nanos: int) -> datetime:
    """What ``datetime.now(UTC)`` gives at ``nanos`` since the epoch (cut down to the microsecond)."""
    return EPOCH + timedelta(microseconds=nanos // 1000)


def _moments() -> list[int]:
    rng = random.Random(48)
    base = 1_796_000_000 * 10**9  # late 2026
    moments = [rng.randrange(0, 4_102_444_800 * 10**9) for _ in range(3000)]  # 1970 to 2100
    moments += [base + rng.randrange(0, 10**12) for _ in range(3000)]
    for second in (base, 951_782_400 * 10**9, 4_102_444_799 * 10**9):  # incl. 2000-02-29, 2099-12-31
        moments += [second, second + 999, second + 1000, second - 1, second + 10**9 - 1, second + 10**9]
    return moments


def test_the_stamps_are_what_datetime_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = _moments()
    random.Random(1).shuffle(moments)
    for nanos in moments:
        monkeypatch.setattr(_clock.time, "time_ns", lambda nanos=nanos: nanos)
        moment = _at(nanos)
        assert now_iso() == moment.isoformat()
        assert now_text() == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert canonical_time(now_text()) == now_text()


def test_the_stamps_are_now() -> None:
    before = datetime.now(UTC)
    iso, text = now_iso(), now_text()
    after = datetime.now(UTC)
    assert (
        before
        <= datetime.fromisoformat(iso)
        <= datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        <= after
    )


def test_threads_never_pair_a_second_with_another_seconds_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stamp is its own reading's, while other threads' readings change the second kept."""
    seconds = [1_796_000_000 * 10**9 + n * 10**9 + 5000 for n in range(3)]
    rng = random.Random(7)
    read = threading.local()

    def time_ns() -> int:
        read.nanos = rng.choice(seconds)
        return int(read.nanos)

    monkeypatch.setattr(_clock.time, "time_ns", time_ns)
    wrong: list[tuple[str, str]] = []

    def stamp() -> None:
        for _ in range(20_000):
            text = now_iso()
            if text != _at(read.nanos).isoformat():
                wrong.append((text, _at(read.nanos).isoformat()))

    threads = [threading.Thread(target=stamp) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
