"""The Cosmos DB adapter's own promises: no secret in a document, and a deleted hook leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convergio.controlplane import CosmosPlane, global_partition
from convergio.secrets import LocalSecretStore
from convergio.webhooks import CosmosWebhookStore, open_webhook_store


def _partition(container: Any, partition: str) -> list[dict[str, Any]]:
    items = container.query_items(
        query="SELECT * FROM c WHERE c.tenant_id = @pk",
        parameters=[{"name": "@pk", "value": partition}],
        partition_key=partition,
    )
    return [dict(item) for item in items]


def test_documents_hold_no_secret_and_a_deleted_hook_leaves_none(
    cosmos_plane: CosmosPlane, secrets: LocalSecretStore, tmp_path: Path
) -> None:
    store = open_webhook_store(tmp_path, secrets, cosmos=cosmos_plane)
    assert isinstance(store, CosmosWebhookStore) and not list(tmp_path.glob("*.sqlite3"))
    container = cosmos_plane.container("webhooks")
    hook, hook_secret = store.create_hook("t1", "echo", None)
    callback, callback_secret = store.create_callback("t1", "https://example.com/a", ["run.completed"])
    store.claim_delivery(hook.id, "d1", "run-1")
    hook_partition = global_partition("hook", hook.id)
    documents = _partition(container, "t1") + _partition(container, hook_partition)
    assert len(documents) == 4
    for secret in (hook_secret, callback_secret):
        assert secret.reveal() not in repr(documents)
    assert store.delete_hook("t1", hook.id) and store.delete_callback("t1", callback.id)
    assert _partition(container, "t1") == [] and _partition(container, hook_partition) == []
