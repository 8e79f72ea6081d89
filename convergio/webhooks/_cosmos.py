"""The shared webhook store: Cosmos DB container ``webhooks`` (partition ``/tenant_id``).

Several stateless instances share it, so every rule the SQLite file got from a primary key is
a document id here, and every "exactly once" is a ``create_item`` (409 = someone was first):

- In a tenant's partition: ``hook:<id>``, ``callback:<id>``, ``delivery:<id>`` (the delivery
  with its attempts embedded: a few per delivery, replaced under ``If-Match``).
- In a hook's own partition ``~hook:<id>``: the document ``hook`` (a copy of the hook, for the
  inbound request that names only the hook) and one ``claim:<delivery id>`` per inbound
  delivery. The claim's create is the dedupe: of two instances claiming at once, one wins.
- In a delivery's own partition ``~delivery:<id>``: the document ``delivery`` naming its
  tenant, for the delivery activity that names only the delivery.

The tenant's document is the truth for listing and ownership; the global copies are written
after it and removed before it, so a half-done create or delete leaves nothing reachable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

from convergio.controlplane import (
    CosmosPlane,
    cas_update,
    create_doc,
    delete_doc,
    global_partition,
    query_docs,
    read_doc,
    safe_id,
    unavailable,
)
from convergio.errors import StoreUnavailable
from convergio.secrets import Secret, SecretStore

from ._models import Attempt, Callback, Delivery, Hook, RunEvent
from ._store import callback_secret_name, hook_secret_name, now, signing_secret

__all__ = ["CONTAINER", "CosmosWebhookStore"]

CONTAINER: Final = "webhooks"
_STORE: Final = "webhooks"
_HOOK, _CALLBACK, _DELIVERY, _CLAIM = "hook", "callback", "delivery", "claim"
_CLAIM_ATTEMPTS: Final = 16


def _hook(doc: dict[str, Any], tenant_id: str) -> Hook:
    return Hook(doc["hook_id"], tenant_id, doc["graph_ref"], doc.get("event"), doc["created_at"])


def _callback(doc: dict[str, Any]) -> Callback:
    return Callback(doc["callback_id"], doc["tenant_id"], doc["url"], tuple(doc["events"]), doc["created_at"])


def _delivery(doc: dict[str, Any]) -> Delivery:
    attempts = tuple(Attempt(a["attempt"], a["at"], a["status_code"], a["error"]) for a in doc["attempts"])
    return Delivery(
        doc["delivery_id"],
        doc["tenant_id"],
        doc["callback_id"],
        doc["run_id"],
        doc["event"],
        doc["status"],
        doc["created_at"],
        doc["body"],
        attempts,
    )


class CosmosWebhookStore:
    """Hooks, callbacks and deliveries of all tenants in the control plane, secrets in ``secrets``.

    Args:
        plane: The control plane's Cosmos DB (the ``webhooks`` container).
        secrets: The tenants' secret store, where signing secrets live.
    """

    def __init__(self, plane: CosmosPlane, secrets: SecretStore) -> None:
        self._container = plane.container(CONTAINER)
        self._secrets = secrets

    def __repr__(self) -> str:
        return f"CosmosWebhookStore({self._container.id!r})"

    # -- inbound hooks ------------------------------------------------------------------

    def create_hook(self, tenant_id: str, graph_ref: str, event: str | None) -> tuple[Hook, Secret]:
        hook = Hook(uuid.uuid4().hex, tenant_id, graph_ref, event, now())
        fields = {"hook_id": hook.id, "graph_ref": graph_ref, "event": event, "created_at": hook.created_at}
        with (
            signing_secret(self._secrets, tenant_id, hook_secret_name(hook.id)) as secret,
            unavailable(_STORE),
        ):
            own_id = safe_id(_HOOK, hook.id)
            self._container.create_item({"id": own_id, "tenant_id": tenant_id, "type": _HOOK, **fields})
            index = {"id": _HOOK, "tenant_id": global_partition(_HOOK, hook.id), "owner": tenant_id}
            try:
                self._container.create_item({**index, **fields})
            except Exception:
                delete_doc(self._container, own_id, tenant_id)
                raise
        return hook, secret

    def hook(self, hook_id: str) -> Hook | None:
        with unavailable(_STORE):
            doc = read_doc(self._container, _HOOK, global_partition(_HOOK, hook_id))
        return None if doc is None else _hook(doc, doc["owner"])

    def hooks(self, tenant_id: str) -> list[Hook]:
        with unavailable(_STORE):
            docs = query_docs(
                self._container,
                tenant_id,
                "SELECT * FROM c WHERE c.tenant_id = @pk AND c.type = @type ORDER BY c.created_at",
                type=_HOOK,
            )
        return [_hook(doc, tenant_id) for doc in docs]

    def delete_hook(self, tenant_id: str, hook_id: str) -> bool:
        """Delete the global copy first (inbound requests stop), the claims, then the tenant's document."""
        with unavailable(_STORE):
            if read_doc(self._container, safe_id(_HOOK, hook_id), tenant_id) is None:
                return False
            partition = global_partition(_HOOK, hook_id)
            delete_doc(self._container, _HOOK, partition)
            for doc in query_docs(self._container, partition, "SELECT c.id FROM c WHERE c.tenant_id = @pk"):
                delete_doc(self._container, doc["id"], partition)
            gone = delete_doc(self._container, safe_id(_HOOK, hook_id), tenant_id)
        if gone:
            self._secrets.delete(tenant_id, hook_secret_name(hook_id))
        return gone

    def hook_secret(self, hook: Hook) -> Secret:
        return self._secrets.get(hook.tenant_id, hook_secret_name(hook.id))

    def claim_delivery(self, hook_id: str, delivery_id: str, run_id: str) -> tuple[str, bool]:
        """Create the claim document; on 409 the first claimer's run id is the answer.

        A claim released between our 409 and our read is gone: then we try to create it again.
        """
        partition, doc_id = global_partition(_HOOK, hook_id), safe_id(_CLAIM, delivery_id)
        claim = {"id": doc_id, "tenant_id": partition, "type": _CLAIM, "run_id": run_id}
        with unavailable(_STORE):
            for _ in range(_CLAIM_ATTEMPTS):
                if create_doc(self._container, {**claim, "created_at": now()}):
                    return run_id, True
                found = read_doc(self._container, doc_id, partition)
                if found is not None:
                    return str(found["run_id"]), False
        raise StoreUnavailable(f"delivery {delivery_id!r} of hook {hook_id!r} is too contended; try again")

    def release_delivery(self, hook_id: str, delivery_id: str) -> None:
        with unavailable(_STORE):
            delete_doc(self._container, safe_id(_CLAIM, delivery_id), global_partition(_HOOK, hook_id))

    # -- outbound callbacks ----------------------------------------------------------------

    def create_callback(
        self, tenant_id: str, url: str, events: Sequence[RunEvent]
    ) -> tuple[Callback, Secret]:
        callback = Callback(uuid.uuid4().hex, tenant_id, url, tuple(events), now())
        doc = {
            "id": safe_id(_CALLBACK, callback.id),
            "tenant_id": tenant_id,
            "type": _CALLBACK,
            "callback_id": callback.id,
            "url": url,
            "events": list(callback.events),
            "created_at": callback.created_at,
        }
        with (
            signing_secret(self._secrets, tenant_id, callback_secret_name(callback.id)) as secret,
            unavailable(_STORE),
        ):
            self._container.create_item(doc)
        return callback, secret

    def callbacks(self, tenant_id: str, event: str | None = None) -> list[Callback]:
        with unavailable(_STORE):
            docs = query_docs(
                self._container,
                tenant_id,
                "SELECT * FROM c WHERE c.tenant_id = @pk AND c.type = @type ORDER BY c.created_at",
                type=_CALLBACK,
            )
        found = [_callback(doc) for doc in docs]
        return [c for c in found if event is None or event in c.events]

    def callback(self, tenant_id: str, callback_id: str) -> Callback | None:
        with unavailable(_STORE):
            doc = read_doc(self._container, safe_id(_CALLBACK, callback_id), tenant_id)
        return None if doc is None else _callback(doc)

    def has_callbacks(self, tenant_id: str) -> bool:
        with unavailable(_STORE):
            found = query_docs(
                self._container,
                tenant_id,
                "SELECT TOP 1 c.id FROM c WHERE c.tenant_id = @pk AND c.type = @type",
                type=_CALLBACK,
            )
        return bool(found)

    def delete_callback(self, tenant_id: str, callback_id: str) -> bool:
        with unavailable(_STORE):
            gone = delete_doc(self._container, safe_id(_CALLBACK, callback_id), tenant_id)
        if gone:
            self._secrets.delete(tenant_id, callback_secret_name(callback_id))
        return gone

    def callback_secret(self, callback: Callback) -> Secret:
        return self._secrets.get(callback.tenant_id, callback_secret_name(callback.id))

    # -- delivery records ----------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> bool:
        """The global pointer first (so a crash after it leaves nothing to find), then the delivery.

        Delivery ids are global (the orchestration's instance id): an id another tenant holds
        is refused like a repeat.
        """
        partition = global_partition(_DELIVERY, delivery.id)
        with unavailable(_STORE):
            pointer = {"id": _DELIVERY, "tenant_id": partition, "owner": delivery.tenant_id}
            if not create_doc(self._container, pointer):
                found = read_doc(self._container, _DELIVERY, partition)
                if found is not None and found["owner"] != delivery.tenant_id:
                    return False
            doc = {
                "id": safe_id(_DELIVERY, delivery.id),
                "tenant_id": delivery.tenant_id,
                "type": _DELIVERY,
                "delivery_id": delivery.id,
                "callback_id": delivery.callback_id,
                "run_id": delivery.run_id,
                "event": delivery.event,
                "status": delivery.status,
                "created_at": delivery.created_at,
                "body": delivery.body,
                "attempts": [_attempt(a) for a in delivery.attempts],
            }
            return create_doc(self._container, doc)

    def _owner(self, delivery_id: str) -> str | None:
        pointer = read_doc(self._container, _DELIVERY, global_partition(_DELIVERY, delivery_id))
        return None if pointer is None else str(pointer["owner"])

    def delivery(self, delivery_id: str) -> Delivery | None:
        with unavailable(_STORE):
            owner = self._owner(delivery_id)
            doc = None if owner is None else read_doc(self._container, safe_id(_DELIVERY, delivery_id), owner)
        return None if doc is None else _delivery(doc)

    def deliveries(self, tenant_id: str, callback_id: str, limit: int = 100) -> list[Delivery]:
        with unavailable(_STORE):
            docs = query_docs(
                self._container,
                tenant_id,
                "SELECT TOP @n * FROM c WHERE c.tenant_id = @pk AND c.type = @type AND c.callback_id = @cb"
                " ORDER BY c.created_at DESC",
                n=max(limit, 0),
                type=_DELIVERY,
                cb=callback_id,
            )
        return [_delivery(doc) for doc in docs]

    def record_attempt(self, delivery_id: str, attempt: Attempt, status: str) -> None:
        """Replace the delivery under ``If-Match``: attempts of one delivery are sequential, but retried."""

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None:
                return None
            others = [a for a in doc["attempts"] if a["attempt"] != attempt.attempt]
            attempts = sorted([*others, _attempt(attempt)], key=lambda a: int(a["attempt"]))
            return {**doc, "attempts": attempts, "status": status}

        with unavailable(_STORE):
            owner = self._owner(delivery_id)
            if owner is not None:
                cas_update(self._container, safe_id(_DELIVERY, delivery_id), owner, change)


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "at": attempt.at,
        "status_code": attempt.status_code,
        "error": attempt.error,
    }
