"""The webhook store: one protocol, two adapters (SQLite in the home | Cosmos DB on the control plane).

Hooks, callbacks, inbound dedupe and delivery records of all tenants. Everything a tenant
owns is found through its tenant id, so one tenant can neither see nor touch another's hooks;
only an inbound request (which names just the hook) and a delivery attempt (which names just
the delivery) look things up without a tenant, and both adapters answer those in one lookup.
Signing secrets are not kept here: they go to the tenant's secret store under ``hook-<id>`` /
``callback-<id>``, and the store only knows the ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from convergio.secrets import Secret, SecretStore

from ._models import Attempt, Callback, Delivery, Hook, RunEvent
from ._signing import new_secret

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = [
    "STORE_FILE",
    "WebhookStore",
    "callback_secret_name",
    "hook_secret_name",
    "now",
    "open_webhook_store",
    "signing_secret",
]

STORE_FILE = "webhooks.sqlite3"


def now() -> str:
    """A record's timestamp: ISO 8601 UTC with microseconds, so text order is time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def hook_secret_name(hook_id: str) -> str:
    return f"hook-{hook_id}"


def callback_secret_name(callback_id: str) -> str:
    return f"callback-{callback_id}"


@contextmanager
def signing_secret(secrets: SecretStore, tenant_id: str, name: str) -> Iterator[Secret]:
    """A new signing secret, stored before the block writes the record that uses it.

    If the block fails, the secret is deleted again: a secret never outlives a record that was
    not written (and a record is never written without its secret).
    """
    secret = Secret(new_secret())
    secrets.put(tenant_id, name, secret)
    try:
        yield secret
    except Exception:
        secrets.delete(tenant_id, name)
        raise


@runtime_checkable
class WebhookStore(Protocol):
    """Hooks, callbacks and deliveries of all tenants, with signing secrets in a secret store."""

    # -- inbound hooks ------------------------------------------------------------------

    def create_hook(self, tenant_id: str, graph_ref: str, event: str | None) -> tuple[Hook, Secret]:
        """A new hook and its signing secret (returned once; only the secret store keeps it)."""
        ...

    def hook(self, hook_id: str) -> Hook | None:
        """Any tenant's hook by id: an inbound request names only the hook."""
        ...

    def hooks(self, tenant_id: str) -> list[Hook]:
        """The tenant's hooks, oldest first."""
        ...

    def delete_hook(self, tenant_id: str, hook_id: str) -> bool:
        """Delete a hook of the tenant, its claims and its secret; False when the tenant has none such."""
        ...

    def hook_secret(self, hook: Hook) -> Secret: ...

    def claim_delivery(self, hook_id: str, delivery_id: str, run_id: str) -> tuple[str, bool]:
        """Record that ``delivery_id`` goes to ``run_id``: (the run it went to first, claimed now).

        Atomic across threads, processes and instances: of concurrent requests with the same
        delivery id, exactly one claims it and the others get the winner's run id.
        """
        ...

    def release_delivery(self, hook_id: str, delivery_id: str) -> None:
        """Forget a claim whose run did not start, so the sender's retry is not a replay."""
        ...

    # -- outbound callbacks ----------------------------------------------------------------

    def create_callback(
        self, tenant_id: str, url: str, events: Sequence[RunEvent]
    ) -> tuple[Callback, Secret]:
        """A new callback and its signing secret (returned once)."""
        ...

    def callbacks(self, tenant_id: str, event: str | None = None) -> list[Callback]:
        """The tenant's callbacks, oldest first, or only those subscribed to ``event``."""
        ...

    def callback(self, tenant_id: str, callback_id: str) -> Callback | None: ...

    def has_callbacks(self, tenant_id: str) -> bool:
        """Whether the tenant has any callback (asked at every run start, so it must be cheap)."""
        ...

    def delete_callback(self, tenant_id: str, callback_id: str) -> bool: ...

    def callback_secret(self, callback: Callback) -> Secret: ...

    # -- delivery records ----------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> bool:
        """Record a pending delivery; False when its id exists (an activity ran twice)."""
        ...

    def delivery(self, delivery_id: str) -> Delivery | None:
        """Any tenant's delivery by id, with its attempts: a delivery activity names only the id."""
        ...

    def deliveries(self, tenant_id: str, callback_id: str, limit: int = 100) -> list[Delivery]:
        """The callback's deliveries, newest first, with their attempts."""
        ...

    def record_attempt(self, delivery_id: str, attempt: Attempt, status: str) -> None:
        """One attempt's answer (replacing one of the same number), and the delivery's status after it."""
        ...


def open_webhook_store(
    home: Path, secrets: SecretStore, *, cosmos: CosmosPlane | None = None
) -> WebhookStore:
    """The webhook store: in the shared control plane when there is one, else a file in ``home``.

    Args:
        home: The state directory (``CONVERGIO_HOME``); the file is ``home/webhooks.sqlite3``.
        secrets: The tenants' secret store, where signing secrets live.
        cosmos: The control plane's Cosmos DB (several instances share it), or None.

    Returns:
        The store.
    """
    if cosmos is not None:
        from ._cosmos import CosmosWebhookStore

        return CosmosWebhookStore(cosmos, secrets)
    from ._sqlite import SqliteWebhookStore

    return SqliteWebhookStore(home / STORE_FILE, secrets)
