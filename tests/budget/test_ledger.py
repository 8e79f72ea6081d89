"""The run ledger: reservations make a run budget a cap for parallel work."""

from __future__ import annotations

import pytest

from convergio.budget import Grant, RunLedger


def test_unlimited_run_passes_the_calls_own_limits_through() -> None:
    ledger = RunLedger(max_tokens=None, max_tool_calls=None)
    assert ledger.grant("a", tokens=None, tool_calls=None) == Grant(None, None)
    assert ledger.grant("b", tokens=50, tool_calls=2) == Grant(50, 2)
    ledger.settle("b", tokens=40, tool_calls=1)
    assert (ledger.spent_tokens, ledger.spent_tool_calls) == (40, 1)


def test_parallel_reservations_never_add_up_to_more_than_the_run_has() -> None:
    ledger = RunLedger(max_tokens=1000, max_tool_calls=4)
    first = ledger.grant("a", tokens=800, tool_calls=None, share=3)
    second = ledger.grant("b", tokens=800, tool_calls=None, share=2)
    assert first == Grant(800, 1) and second == Grant(200, 1)  # own limit first; tools shared fairly
    assert ledger.grant("c", tokens=None, tool_calls=None) is None  # nothing left to reserve
    ledger.settle("a", tokens=300, tool_calls=0)  # a used less than it reserved
    assert ledger.grant("c", tokens=None, tool_calls=None, share=1) == Grant(500, 3)


def test_fair_share_for_calls_without_a_limit_of_their_own() -> None:
    ledger = RunLedger(max_tokens=900, max_tool_calls=None)
    grants = [ledger.grant(k, tokens=None, tool_calls=None, share=4 - i) for i, k in enumerate("abc")]
    assert [g.tokens for g in grants if g] == [225, 225, 225]


def test_abandoned_calls_are_charged_their_reservation() -> None:
    ledger = RunLedger(max_tokens=100, max_tool_calls=None)
    ledger.grant("slow", tokens=60, tool_calls=None)
    ledger.abandon("slow")  # timed out: it may still be spending
    assert ledger.spent_tokens == 60
    assert ledger.grant("next", tokens=None, tool_calls=None) == Grant(40, None)


def test_a_key_holds_one_reservation() -> None:
    ledger = RunLedger(max_tokens=10, max_tool_calls=None)
    ledger.grant("a", tokens=None, tool_calls=None)
    with pytest.raises(ValueError, match="already holds"):
        ledger.grant("a", tokens=None, tool_calls=None)
