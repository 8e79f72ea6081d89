"""The run index knows when a run waits for human input, and why a cancelled run was cancelled.

Both adapters (SQLite, Cosmos DB emulator). The orchestration announces its waits (``note_waits``)
and the API counts the events it raised (``note_answer``); the two race, so every order of the
writes must end in the state the run is really in.
"""

from __future__ import annotations

import threading
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest

from convergio.tenants import TenantStore
from convergio.tenants._runs import CANCEL_REASON_MAX, awaits_input, cancel_note
from tests.tenants._backends import OpenStore, store_opener


def started(store: TenantStore, run_id: str = "r1", tenant: str = "acme") -> None:
    store.record_run(tenant, run_id, "essay", started_by="member:ada")
    store.update_run(run_id, status="Running")


def awaiting(store: TenantStore, run_id: str = "r1") -> bool:
    record = store.run(run_id)
    assert record is not None
    listed = [r.run_id for r in store.list_runs(record.tenant_id, awaiting_input=True)]
    assert (run_id in listed) is record.awaiting_input  # the listing says what the entry says
    return record.awaiting_input


def test_a_wait_is_listed_until_it_is_answered(store: TenantStore) -> None:
    store.add_tenant("Acme")
    started(store)
    started(store, "other")
    assert not awaiting(store)
    assert store.note_waits("r1", seq=1, target={"approve": 1}) is True
    assert awaiting(store) and not awaiting(store, "other")
    assert [r.run_id for r in store.list_runs("acme", awaiting_input=False)] == ["other"]
    assert [r.run_id for r in store.list_runs("acme", status="Running", awaiting_input=True)] == ["r1"]
    assert store.note_answer("r1", "approve") is True
    assert not awaiting(store)
    assert store.list_runs("acme", awaiting_input=True) == []


def test_every_order_of_answer_and_announcement_ends_the_same(open_store: OpenStore) -> None:
    """Two waits on ``approve`` one after the other, a wait on ``review`` that timed out: the
    writes land in any order, late and repeated announcements included."""
    store = open_store()
    store.add_tenant("Acme")
    writes = [
        ("waits", 1, {"approve": 1}),  # the first approval opens
        ("answer", "approve"),
        ("waits", 2, {"approve": 2, "review": 1}),  # consumed one; the second and a review open
        ("answer", "approve"),
        ("waits", 3, {"approve": 2}),  # the review timed out
    ]
    for n, order in enumerate(permutations(writes)):
        if n % 7:  # 120 orders; a spread of them keeps the emulator's share of the run short
            continue
        run_id = f"r{n}"
        started(store, run_id)
        announcements = [w for w in order if w[0] == "waits"]
        for write in (*order, announcements[0]):  # an announcement again: its activity ran twice
            if write[0] == "waits":
                store.note_waits(run_id, seq=write[1], target=write[2])  # type: ignore[arg-type]
            else:
                store.note_answer(run_id, str(write[1]))
        assert not awaiting(store, run_id), order


def test_a_wait_left_open_is_listed_whatever_the_order(store: TenantStore) -> None:
    store.add_tenant("Acme")
    started(store)
    store.note_answer("r1", "approve")  # answered before the wait was announced: Durable keeps it
    store.note_waits("r1", seq=2, target={"approve": 2})  # the second approval waits
    store.note_waits("r1", seq=1, target={"approve": 1})  # a late first announcement: ignored
    assert awaiting(store)
    store.note_answer("r1", "approve")
    assert not awaiting(store)


def test_two_answers_at_once_on_two_instances_both_count(open_store: OpenStore) -> None:
    first, second = open_store(), open_store()
    first.add_tenant("Acme")
    started(first)
    first.note_waits("r1", seq=1, target={"approve": 2, "review": 1})
    barrier = threading.Barrier(3)

    def answer(store: TenantStore, name: str) -> None:
        barrier.wait()
        store.note_answer("r1", name)

    threads = [
        threading.Thread(target=answer, args=(store, name))
        for store, name in ((first, "approve"), (second, "approve"), (first, "review"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not awaiting(first) and not awaiting(second)


def test_an_ended_run_awaits_nothing_and_a_late_announcement_does_not_revive_it(store: TenantStore) -> None:
    store.add_tenant("Acme")
    started(store)
    store.note_waits("r1", seq=1, target={"approve": 1})
    assert store.update_run("r1", status="Terminated")
    assert not awaiting(store)
    store.note_waits("r1", seq=2, target={"approve": 2})
    assert not awaiting(store)
    assert store.run("r1").status == "Terminated"  # type: ignore[union-attr]


def test_another_tenant_s_waiting_runs_are_not_listed(store: TenantStore) -> None:
    store.add_tenant("Acme")
    store.add_tenant("Beta")
    started(store, "acme-run")
    started(store, "beta-run", tenant="beta")
    store.note_waits("acme-run", seq=1, target={"approve": 1})
    assert [r.run_id for r in store.list_runs("beta", awaiting_input=True)] == []
    assert [r.run_id for r in store.list_runs("acme", awaiting_input=True)] == ["acme-run"]


def test_unknown_runs_and_hostile_counts_change_nothing(store: TenantStore) -> None:
    store.add_tenant("Acme")
    started(store)
    assert store.note_waits("ghost", seq=1, target={"approve": 1}) is False
    assert store.note_answer("ghost", "approve") is False
    hostile = {"approve": -5, "x": True, "y": "3", **{f"n{i}": 1 for i in range(200)}}
    store.note_waits("r1", seq=1, target=hostile)  # type: ignore[arg-type]
    assert awaiting(store)  # the first 64 names are kept, the others and the junk dropped
    assert not awaits_input("Running", {"target": {"approve": -5, "x": True}})


def test_a_cancel_keeps_who_and_why_as_plain_bounded_text(store: TenantStore) -> None:
    store.add_tenant("Acme")
    started(store)
    reason = "wrong class\n\x1b[31m<script>alert(1)</script> key sk-abcdefghijklmnop " + "x" * 500
    assert store.update_run("r1", status="Terminated", cancelled_by="ada", cancel_reason=reason)
    record = store.run("r1")
    assert record is not None and record.status == "Terminated" and record.cancelled_by == "ada"
    assert record.cancel_reason.startswith("wrong class [31m<script>alert(1)</script> key [redacted] xxx")
    assert len(record.cancel_reason) == CANCEL_REASON_MAX
    assert "\n" not in record.cancel_reason and "\x1b" not in record.cancel_reason
    assert store.list_runs("acme")[0].cancel_reason == record.cancel_reason
    # The run's own end racing the cancel keeps the cancel's note.
    assert store.update_run("r1", status="Completed") is True
    assert store.update_run("r1", status="Terminated", cancelled_by="ada", cancel_reason=reason) is True
    assert store.run("r1").cancel_reason == record.cancel_reason  # type: ignore[union-attr]


def test_cancel_note_masks_credentials_and_control_characters() -> None:
    assert (
        cancel_note("use cvg_AAAAAAAAAAAA or Bearer eyJhbGciOi.x.y now") == "use [redacted] or [redacted] now"
    )
    assert cancel_note("\u202etxt.exe\u2066 ok\t\tfine") == "txt.exe ok fine"
    assert cancel_note("") == ""


def test_an_answer_copied_late_to_the_listing_leaves_it_current(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cosmos DB keeps a run's entry in a global document and a copy in the tenant's listing.
    Two answers: the first writer's copy is held back until the second writer is done, so it
    lands last; the listing must still say what the entry says (it copied its own, older state)."""
    from convergio.tenants import _runs_cosmos

    first, second = (store_opener("cosmos", request, tmp_path / "home")() for _ in range(2))
    first.add_tenant("Acme")
    started(first)
    first.note_waits("r1", seq=1, target={"approve": 2})
    second_done, held = threading.Event(), threading.Event()
    cas_update = _runs_cosmos.cas_update

    def late_copy(container: Any, doc_id: str, partition: str, change: Any) -> Any:
        if doc_id != "run" and threading.current_thread().name == "first-answer" and not held.is_set():
            held.set()
            assert second_done.wait(30)
        return cas_update(container, doc_id, partition, change)

    monkeypatch.setattr(_runs_cosmos, "cas_update", late_copy)
    answering = threading.Thread(target=first.note_answer, args=("r1", "approve"), name="first-answer")
    answering.start()
    assert held.wait(30)
    second.note_answer("r1", "approve")
    second_done.set()
    answering.join(30)
    assert not awaiting(first) and not awaiting(second)
