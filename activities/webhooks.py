"""Webhook activities: record a run event's deliveries and start them; make one attempt.

``emit_run_event`` is idempotent on the event id: a re-run (the orchestrator replayed before it
saw the result) finds its deliveries recorded and their orchestrations started, and starts
nothing twice. ``deliver_webhook`` is one signed POST; its answer (status code or the kind of
transport error, never a body or a secret) is recorded as an attempt.

``emit_run_event`` is async (it needs the durable client), so the host runs it on its event
loop, as Azure runs it on its worker's: its store work goes to a thread, or every request the
loop serves would wait for it (a run-index transaction is a write lock and an fsync).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import httpx

from convergio.webhooks import Attempt, Delivery, check_callback_url, post_signed
from convergio.wiring import components
from orchestrations.webhooks import DELIVER_WEBHOOKS, INDEX_WAITS

__all__ = ["deliver_webhook_activity", "emit_run_event_activity"]

_log = logging.getLogger("convergio.webhooks")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def emit_run_event_activity(event: dict[str, Any], client: df.DurableOrchestrationClient) -> list[str]:
    """Record one delivery per callback subscribed to the event, and start its orchestration.

    An ``INDEX_WAITS`` event only tells the run index what the run waits for (best effort: a
    store outage leaves the list behind, never the run).
    """
    if event.get("type") == INDEX_WAITS:
        await asyncio.to_thread(_note_waits, event)
        return []
    parts = await asyncio.to_thread(components)
    store, settings = parts.webhooks, parts.settings
    started = []
    for callback in await asyncio.to_thread(store.callbacks, event["tenant"], event["type"]):
        delivery_id = f"{event['event_id']}.{callback.id}"
        body = {key: event[key] for key in ("type", "run_id", "graph", "occurred_at", "data")}
        record = Delivery(
            id=delivery_id,
            tenant_id=event["tenant"],
            callback_id=callback.id,
            run_id=event["run_id"],
            event=event["type"],
            status="pending",
            created_at=_now(),
            body=json.dumps({"id": delivery_id, **body}),
        )
        await asyncio.to_thread(store.add_delivery, record)
        status = await client.get_status(delivery_id)
        if status.runtime_status is None:
            job = {
                "delivery_id": delivery_id,
                "attempts": settings.webhook_attempts,
                "backoff_ms": settings.webhook_backoff_ms,
            }
            await client.start_new(DELIVER_WEBHOOKS, instance_id=delivery_id, client_input=job)
        started.append(delivery_id)
    return started


def _note_waits(event: dict[str, Any]) -> None:
    """Tell the run index what the run waits for (off the event loop; best effort)."""
    try:
        components().tenants.note_waits(str(event["run_id"]), seq=int(event["seq"]), target=event["target"])
    except Exception:
        _log.warning("run index: the waits of %s not written", event.get("run_id"), exc_info=True)


def deliver_webhook_activity(call: dict[str, Any]) -> dict[str, Any]:
    """One attempt: ``done`` when delivered, or when no later attempt could do better."""
    parts = components()
    store, settings = parts.webhooks, parts.settings
    delivery = store.delivery(call["delivery_id"])
    if delivery is None:
        return {"done": True, "delivered": False, "status_code": None}
    callback = store.callback(delivery.tenant_id, delivery.callback_id)
    code: int | None = None
    permanent = False
    try:
        if callback is None:
            raise LookupError("the callback was deleted")
        check_callback_url(callback.url, hosted=settings.hosted, allowed_hosts=settings.webhook_allowed_hosts)
        code = post_signed(
            callback.url,
            store.callback_secret(callback),
            delivery.body.encode(),
            delivery_id=delivery.id,
            event=delivery.event,
            timeout_s=settings.webhook_timeout_s,
        )
        error = None if 200 <= code < 300 else f"HTTP {code}"
    except (LookupError, ValueError) as exc:  # deleted, or the guard refuses it now: final
        error, permanent = str(exc)[:300], True
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: the receiver could not be reached"
    delivered = error is None
    final = delivered or permanent or bool(call.get("last"))
    status = "delivered" if delivered else ("failed" if final else "pending")
    store.record_attempt(delivery.id, Attempt(int(call["attempt"]), _now(), code, error), status)
    _log.info("webhook delivery %s attempt %s: %s", delivery.id, call["attempt"], code or error)
    return {"done": final, "delivered": delivered, "status_code": code}
