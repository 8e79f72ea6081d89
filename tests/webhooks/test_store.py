"""The webhook store's contract, for both adapters: tenant scoping, secrets, dedupe, delivery records."""

from __future__ import annotations

import threading
from pathlib import Path

from convergio.webhooks import Attempt, Delivery, WebhookStore


def _delivery(delivery_id: str, tenant_id: str, callback_id: str, created_at: str = "2030-01-01") -> Delivery:
    return Delivery(
        delivery_id, tenant_id, callback_id, "r1", "run.completed", "pending", created_at, body="{}"
    )


def test_a_hook_secret_lives_only_in_the_secret_store(store: WebhookStore, tmp_path: Path) -> None:
    hook, secret = store.create_hook("t1", "echo", None)
    assert store.hook(hook.id) == hook and store.hook_secret(hook) == secret
    for path in tmp_path.rglob("*"):
        assert path.is_dir() or secret.reveal().encode() not in path.read_bytes()
    assert store.hooks("t2") == [] and store.delete_hook("t2", hook.id) is False
    assert store.delete_hook("t1", hook.id) is True and store.hook(hook.id) is None
    assert store.hooks("t1") == [] and store.delete_hook("t1", hook.id) is False


def test_hooks_are_listed_per_tenant_oldest_first(store: WebhookStore) -> None:
    first, _ = store.create_hook("t1", "echo", None)
    second, _ = store.create_hook("t1", "echo", "order.paid")
    other, _ = store.create_hook("t2", "echo", None)
    assert store.hooks("t1") == [first, second] and store.hooks("t2") == [other]
    assert store.hook("no-such-hook") is None and store.hook("a/b?c#d") is None


def test_a_delivery_id_is_claimed_once_and_released_when_nothing_started(store: WebhookStore) -> None:
    assert store.claim_delivery("h", "d", "run-1") == ("run-1", True)
    assert store.claim_delivery("h", "d", "run-2") == ("run-1", False)
    assert store.claim_delivery("other", "d", "run-3") == ("run-3", True)
    store.release_delivery("h", "d")
    store.release_delivery("h", "never-claimed")
    assert store.claim_delivery("h", "d", "run-4") == ("run-4", True)


def test_deleting_a_hook_forgets_its_claims(store: WebhookStore) -> None:
    hook, _ = store.create_hook("t1", "echo", None)
    assert store.claim_delivery(hook.id, "d", "run-1") == ("run-1", True)
    assert store.delete_hook("t1", hook.id)
    assert store.claim_delivery(hook.id, "d", "run-2") == ("run-2", True)


def test_callbacks_filter_by_event_and_tenant(store: WebhookStore) -> None:
    done, _ = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    both, _ = store.create_callback("t1", "https://example.com/b", ["run.completed", "run.failed"])
    assert [c.id for c in store.callbacks("t1", "run.failed")] == [both.id]
    assert [c.id for c in store.callbacks("t1", "run.completed")] == [done.id, both.id]
    assert store.callbacks("t2") == [] and not store.has_callbacks("t2") and store.has_callbacks("t1")
    assert store.callback("t1", done.id) == done and store.callback("t2", done.id) is None
    assert store.callback_secret(done) != store.callback_secret(both)
    assert store.delete_callback("t2", done.id) is False and store.delete_callback("t1", done.id) is True
    assert store.callbacks("t1") == [both] and store.delete_callback("t1", done.id) is False


def test_attempts_are_recorded_with_the_delivery_status(store: WebhookStore) -> None:
    callback, _ = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    record = _delivery("d1", "t1", callback.id)
    assert store.add_delivery(record) is True and store.add_delivery(record) is False
    assert store.add_delivery(_delivery("d1", "t2", callback.id)) is False  # ids are global
    assert store.delivery("d1") == record and store.delivery("d2") is None
    store.record_attempt("d1", Attempt(1, "t", 500, "HTTP 500"), "pending")
    store.record_attempt("d1", Attempt(2, "t", None, "timeout"), "pending")
    store.record_attempt("d1", Attempt(2, "t", 200, None), "delivered")  # a retried activity: replaced
    store.record_attempt("no-such-delivery", Attempt(1, "t", 200, None), "delivered")
    (found,) = store.deliveries("t1", callback.id)
    assert found.status == "delivered" and [a.status_code for a in found.attempts] == [500, 200]
    assert store.delivery("d1") == found and found.body == "{}"
    assert store.deliveries("t2", callback.id) == []


def test_deliveries_are_listed_newest_first_up_to_the_limit(store: WebhookStore) -> None:
    callback, _ = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    for i in range(3):
        store.add_delivery(_delivery(f"d{i}", "t1", callback.id, f"2030-01-0{i + 1}"))
    store.add_delivery(_delivery("elsewhere", "t1", "another-callback"))
    assert [d.id for d in store.deliveries("t1", callback.id)] == ["d2", "d1", "d0"]
    assert [d.id for d in store.deliveries("t1", callback.id, limit=2)] == ["d2", "d1"]


# ---------------------------------------------------------------- two instances on one backend


def test_what_one_instance_writes_the_other_finds_without_a_tenant(
    stores: tuple[WebhookStore, WebhookStore],
) -> None:
    api, worker = stores
    hook, secret = api.create_hook("t1", "echo", None)
    assert worker.hook(hook.id) == hook and worker.hook_secret(hook) == secret
    callback, _ = api.create_callback("t1", "https://example.com/a", ["run.failed"])
    api.add_delivery(_delivery("d1", "t1", callback.id))
    worker.record_attempt("d1", Attempt(1, "t", 200, None), "delivered")
    (found,) = api.deliveries("t1", callback.id)
    assert found.status == "delivered" and worker.delivery("d1") == found


def test_a_delivery_claimed_on_two_instances_at_once_has_one_winner(
    stores: tuple[WebhookStore, WebhookStore],
) -> None:
    deliveries = ["d1", "d2", "d3"]
    start = threading.Barrier(2 * len(deliveries))
    answers: dict[str, list[tuple[str, bool]]] = {d: [] for d in deliveries}

    def claim(instance: WebhookStore, delivery_id: str, run_id: str) -> None:
        start.wait()
        answers[delivery_id].append(instance.claim_delivery("h", delivery_id, run_id))

    threads = [
        threading.Thread(target=claim, args=(instance, d, f"{d}-run-{n}"))
        for d in deliveries
        for n, instance in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for delivery_id, got in answers.items():
        assert sorted(claimed for _, claimed in got) == [False, True], delivery_id
        assert len({run for run, _ in got}) == 1  # the loser is told the winner's run
