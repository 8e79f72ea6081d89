r"""Webhooks: signed inbound hooks that start runs, and signed outbound callbacks for run events.

    sign / verify / signed_headers   HMAC-SHA256 over ``v2:{timestamp}.{delivery_id}\n{body}``
    WebhookStore (Protocol)          hooks, callbacks, inbound dedupe, delivery records;
    ├── SqliteWebhookStore           a file in the home directory (embedded default)
    ├── CosmosWebhookStore           the control plane's Cosmos DB (instances share it)
    open_webhook_store()             picks one; signing secrets live in the tenant's secret store
    check_callback_url / post_signed the SSRF guard for callback URLs, and one signed POST

The durable parts (who emits run events, the retry loop) are in ``orchestrations/webhooks.py``
and ``activities/webhooks.py``.
"""

from convergio.webhooks._cosmos import CosmosWebhookStore
from convergio.webhooks._deliver import check_callback_url, post_signed
from convergio.webhooks._models import RUN_EVENTS, Attempt, Callback, Delivery, Hook, RunEvent
from convergio.webhooks._signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    new_secret,
    sign,
    signed_headers,
    verify,
)
from convergio.webhooks._sqlite import SqliteWebhookStore
from convergio.webhooks._store import STORE_FILE, WebhookStore, open_webhook_store

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "RUN_EVENTS",
    "SIGNATURE_HEADER",
    "STORE_FILE",
    "TIMESTAMP_HEADER",
    "Attempt",
    "Callback",
    "CosmosWebhookStore",
    "Delivery",
    "Hook",
    "RunEvent",
    "SignatureError",
    "SqliteWebhookStore",
    "WebhookStore",
    "check_callback_url",
    "new_secret",
    "open_webhook_store",
    "post_signed",
    "sign",
    "signed_headers",
    "verify",
]
