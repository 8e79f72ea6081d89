"""Webhook records as the store keeps them: inbound hooks, outbound callbacks, deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["RUN_EVENTS", "Attempt", "Callback", "Delivery", "Hook", "RunEvent"]

RunEvent = Literal["run.completed", "run.failed", "run.waiting_for_input"]
RUN_EVENTS: tuple[RunEvent, ...] = ("run.completed", "run.failed", "run.waiting_for_input")


@dataclass(frozen=True, slots=True)
class Hook:
    """An inbound hook: a signed POST to it starts a run of ``graph_ref`` (or raises ``event``)."""

    id: str
    tenant_id: str
    graph_ref: str
    event: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class Callback:
    """An outbound subscription: run events of ``events`` are POSTed, signed, to ``url``."""

    id: str
    tenant_id: str
    url: str
    events: tuple[RunEvent, ...]
    created_at: str


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    at: str
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one callback; its attempts are the record of what the receiver answered."""

    id: str
    tenant_id: str
    callback_id: str
    run_id: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    created_at: str
    body: str = ""
    attempts: tuple[Attempt, ...] = field(default=())
