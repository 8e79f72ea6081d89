"""The webhook store: tenant scoping, secrets kept in the secret store, dedupe, delivery records."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.secrets import LocalSecretStore
from convergio.webhooks import Attempt, Delivery, WebhookStore


@pytest.fixture
def store(tmp_path: Path) -> WebhookStore:
    return WebhookStore(tmp_path / "webhooks.sqlite3", LocalSecretStore(tmp_path, master_key=b"k" * 32))


def test_a_hook_secret_lives_only_in_the_secret_store(store: WebhookStore, tmp_path: Path) -> None:
    hook, secret = store.create_hook("t1", "echo", None)
    assert store.hook(hook.id) == hook and store.hook_secret(hook) == secret
    for path in tmp_path.iterdir():
        assert secret.reveal().encode() not in path.read_bytes()
    assert store.hooks("t2") == [] and store.delete_hook("t2", hook.id) is False
    assert store.delete_hook("t1", hook.id) is True and store.hook(hook.id) is None


def test_a_delivery_id_is_claimed_once_and_released_when_nothing_started(store: WebhookStore) -> None:
    assert store.claim_delivery("h", "d", "run-1") == ("run-1", True)
    assert store.claim_delivery("h", "d", "run-2") == ("run-1", False)
    assert store.claim_delivery("other", "d", "run-3") == ("run-3", True)
    store.release_delivery("h", "d")
    assert store.claim_delivery("h", "d", "run-4") == ("run-4", True)


def test_callbacks_filter_by_event_and_tenant(store: WebhookStore) -> None:
    done, _ = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    both, _ = store.create_callback("t1", "https://example.com/b", ["run.completed", "run.failed"])
    assert [c.id for c in store.callbacks("t1", "run.failed")] == [both.id]
    assert {c.id for c in store.callbacks("t1", "run.completed")} == {done.id, both.id}
    assert store.callbacks("t2") == [] and not store.has_callbacks("t2") and store.has_callbacks("t1")
    assert store.callback("t2", done.id) is None


def test_attempts_are_recorded_with_the_delivery_status(store: WebhookStore) -> None:
    callback, _ = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    record = Delivery("d1", "t1", callback.id, "r1", "run.completed", "pending", "2030-01-01", body="{}")
    assert store.add_delivery(record) is True and store.add_delivery(record) is False
    store.record_attempt("d1", Attempt(1, "t", 500, "HTTP 500"), "pending")
    store.record_attempt("d1", Attempt(2, "t", 200, None), "delivered")
    (found,) = store.deliveries("t1", callback.id)
    assert found.status == "delivered" and [a.status_code for a in found.attempts] == [500, 200]
    assert store.deliveries("t2", callback.id) == []
