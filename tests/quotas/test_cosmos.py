"""What only the Cosmos DB quota store has: its documents, reservation ids and the bounded record
of settled reservations (the contract itself runs in ``test_contract.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from convergio.controlplane import CosmosPlane, read_doc
from convergio.quotas import CosmosQuotaStore, TenantBudget, open_quota_store
from convergio.quotas import _cosmos as quotas_cosmos

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_the_factory_opens_the_control_planes_container(cosmos_plane: CosmosPlane, tmp_path: object) -> None:
    store = open_quota_store(tmp_path, cosmos=cosmos_plane)  # type: ignore[arg-type]
    assert isinstance(store, CosmosQuotaStore) and store.container.id == "quotas"


def test_one_month_document_holds_totals_open_and_settled_reservations(cosmos_plane: CosmosPlane) -> None:
    container = cosmos_plane.container("quotas")
    store = CosmosQuotaStore(container)
    store.set_budget(TenantBudget("t/1", Decimal(10), True, Decimal(5)))
    done = store.reserve("t/1", "managed", Decimal(2), now=NOW, call="a")
    open_ = store.reserve("t/1", "byok", Decimal(3), now=NOW, call="b")
    store.settle(done.reservation_id or "", Decimal("1.25"))
    assert (done.reservation_id or "").startswith("2026-11:") and (done.reservation_id or "").endswith(":t/1")
    month = read_doc(container, "month:2026-11", "t/1")
    assert month is not None
    key_done, key_open = ((r or "").split(":")[1] for r in (done.reservation_id, open_.reservation_id))
    assert month["spent"] == {"managed": "1.25"}
    assert month["open"] == {key_open: ["byok", "3"]}
    assert month["settled"] == [[key_done, "managed", "1.25", "2"]]  # spent, and what it reserved
    assert read_doc(container, "budget", "t/1")["managed_cap_eur"] == "5"  # type: ignore[index]


def test_a_reserve_redelivered_after_its_record_is_dropped_counts_again_never_less(
    cosmos_plane: CosmosPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quotas_cosmos, "SETTLED_KEPT", 2)
    store = CosmosQuotaStore(cosmos_plane.container("quotas"))
    for call in "abc":
        decision = store.reserve("t", "byok", Decimal(1), now=NOW, call=call)
        store.settle(decision.reservation_id or "", Decimal(1))
    store.reserve("t", "byok", Decimal(1), now=NOW, call="c")  # still recorded: counted once
    assert store.spent("t", now=NOW) == 3
    store.reserve("t", "byok", Decimal(1), now=NOW, call="a")  # dropped: a new reservation
    assert store.spent("t", now=NOW) == 4  # more than was spent, never less


def test_reservation_ids_of_another_shape_settle_nothing(cosmos_plane: CosmosPlane) -> None:
    store = CosmosQuotaStore(cosmos_plane.container("quotas"))
    decision = store.reserve("t", "byok", Decimal(1), now=NOW)
    key = (decision.reservation_id or "").split(":")[1]
    for wrong in (key, f"2026-11:{key}:", f"2026-11:{key.upper()}:t", f"2026-11:{key}:u"):
        store.settle(wrong, Decimal(0))
    assert store.spent("t", now=NOW) == 1
