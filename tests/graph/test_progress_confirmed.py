"""``confirmed`` in the custom status: how many progress records are in the history (issue 22).

The API keeps the records it folded and reads the history again only when this grows, so it
must count exactly the records whose echo activity completed, never ahead of them.
"""

from __future__ import annotations

from convergio.graph._progress import FLUSH_CHARS, ProgressJournal


def filler(i: int) -> tuple[tuple[str, str], dict[str, object]]:
    return ("nodes", f"agent-{i:04d}"), {"status": "completed", "attempts": 1, "error": "x" * 200}


def test_confirmed_counts_the_records_the_history_holds() -> None:
    journal = ProgressJournal({f"agent-{i:04d}": {"status": "waiting"} for i in range(200)})
    assert (journal.sealed, journal.confirmed) == (0, 0)
    i = 0
    while journal.sealed < 3:  # each change is about 250 characters: a record every ~16 changes
        journal.note([filler(i)])
        i += 1
    assert i * 250 > FLUSH_CHARS
    assert [r["seq"] for r in journal.take_records()] == [1, 2, 3]
    assert journal.confirmed == 0  # sealed, not yet echoed into the history
    journal.confirm(2)  # echoes may complete out of order
    assert journal.confirmed == 1 and journal.open_records() == [1, 3]
    journal.confirm(1)
    journal.confirm(3)
    journal.confirm(3)  # a replayed confirmation counts once
    assert (journal.sealed, journal.confirmed) == (3, 3)


def test_a_sub_graph_s_journal_keeps_no_records_and_confirms_none() -> None:
    journal = ProgressJournal(
        {f"agent-{i:04d}": {"status": "waiting"} for i in range(100)}, keep_records=False
    )
    for i in range(100):
        journal.note([filler(i)])
    assert (journal.sealed, journal.confirmed, journal.take_records()) == (0, 0, [])
