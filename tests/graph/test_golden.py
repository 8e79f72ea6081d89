"""Every recorded run shows and does the same, byte for byte, as the reference tree did (ADR 0042).

``golden_runs.json`` holds, per run of ``_golden.py``, the digest of each custom status' JSON
text after every step, the records sealed and confirmed, the calls, dropped tokens, node
table and result, as the reference tree produced them. The orchestrator's speed-ups
(incremental statuses, kept tails, memoised specs) must leave all of it unchanged: Azure
replays in-flight instances on the new code, and readers fold the statuses and records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.graph._golden import digest, names

RECORDED: dict[str, str] = json.loads((Path(__file__).parent / "golden_runs.json").read_text())


def test_the_recording_covers_every_run() -> None:
    assert sorted(RECORDED) == sorted(names())


@pytest.mark.parametrize("name", names())
def test_a_run_shows_and_does_what_the_reference_did(name: str) -> None:
    assert digest(name) == RECORDED[name]
