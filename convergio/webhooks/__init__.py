"""Webhooks: signed inbound hooks that start runs, and signed outbound callbacks for run events.

    sign / verify / signed_headers   HMAC-SHA256 over ``timestamp + "." + body``
    WebhookStore                     hooks, callbacks, inbound dedupe, delivery records (SQLite);
                                     signing secrets live in the tenant's secret store
    check_callback_url / post_signed the SSRF guard for callback URLs, and one signed POST

The durable parts (who emits run events, the retry loop) are in ``orchestrations/webhooks.py``
and ``activities/webhooks.py``.
"""

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
from convergio.webhooks._store import STORE_FILE, WebhookStore

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "RUN_EVENTS",
    "SIGNATURE_HEADER",
    "STORE_FILE",
    "TIMESTAMP_HEADER",
    "Attempt",
    "Callback",
    "Delivery",
    "Hook",
    "RunEvent",
    "SignatureError",
    "WebhookStore",
    "check_callback_url",
    "new_secret",
    "post_signed",
    "sign",
    "signed_headers",
    "verify",
]
