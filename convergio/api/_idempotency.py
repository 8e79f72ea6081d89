"""``Idempotency-Key`` on run creation (IETF draft-ietf-httpapi-idempotency-key-header).

A client that retries ``POST /runs`` (or an A2A ``message/send``) after a timeout or a dropped
connection must not start a second run. With the header, each (tenant, key) starts at most
one run for ``KEY_TTL_S`` (24 h) and answers with that run again; the same key with another
body is a 422, as the draft suggests. ADR 0017.

The key's record is a tenant record (``records("idempotency")``, SQLite or Cosmos DB), named
by the key's digest and *created* (never replaced) by the first request: whichever instance
creates it owns the key, so concurrent requests agree on one body and one run id. A request
that finds the record but no run yet (the first one crashed, or is a few milliseconds ahead)
starts the record's run id, the very same instance; Durable refuses a second start of a
running instance, and an instance that exists is never started again. A key older than
``KEY_TTL_S`` starts a new generation, a new run, whose id is derived from the record both
racing requests read (the put that renews it is not a create).

A record says when it ``expires_at``; the retention sweep deletes it a day after that
(``convergio.retention``), so keys do not pile up forever. A first run id is random, never
derived from the key alone: a key used again after its record was deleted starts a new run,
not the id of one it started long ago.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from convergio.errors import InvalidRequest
from convergio.tenants import TenantRecords

__all__ = ["HEADER", "KEY_TTL_S", "IdempotencyKeyReused", "Claim", "claim_key", "key_of"]

HEADER: Final = "Idempotency-Key"
KEY_TTL_S: Final = 86_400.0
_KIND: Final = "idempotency"
_KEY: Final = re.compile(r'"?([\x21\x23-\x7e]{1,255})"?')  # an sf-string's characters, quotes optional


class IdempotencyKeyReused(InvalidRequest):
    """The key was used for a different request (draft section 2.7: 422)."""

    code = "idempotency_key_reused"
    status_code = 422


def key_of(headers: Any) -> str | None:
    """The request's ``Idempotency-Key``, or None.

    Raises:
        InvalidRequest: the header is there but is not 1-255 printable ASCII characters.
    """
    raw = headers.get(HEADER.lower()) if hasattr(headers, "get") else None
    if raw is None:
        return None
    found = _KEY.fullmatch(str(raw).strip())
    if found is None:
        message = f"{HEADER}: must be 1 to 255 printable ASCII characters"
        raise InvalidRequest(message, details=[{"path": f"headers.{HEADER}", "message": message}])
    return found.group(1)


def fingerprint(body: Any) -> str:
    """What makes two requests "the same": their JSON bodies, key order and spacing aside."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """A key's run: its id, and whether this request made the claim (else it repeats one)."""

    run_id: str
    first: bool


def _next_run_id(tenant_id: str, key: str, previous: Mapping[str, Any]) -> str:
    """The run id of a key's next generation: the same for every request that read ``previous``."""
    seed = f"{tenant_id}\x1f{key}\x1f{previous.get('generation', 0)}\x1f{previous.get('run_id', '')}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _expired(record: dict[str, Any], now: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(record.get("created_at")))
    except ValueError:
        return True
    return (now - created).total_seconds() >= KEY_TTL_S


async def claim_key(
    records: TenantRecords,
    tenant_id: str,
    key: str,
    body: Any,
    start: Callable[[str], Awaitable[None]],
    *,
    now: datetime | None = None,
) -> Claim:
    """The run for ``key``: started by ``start(run_id)`` unless one exists; the same run on a repeat.

    ``start`` must be idempotent for one run id (record it, start it unless it exists).

    Raises:
        IdempotencyKeyReused: the key was used with another body within ``KEY_TTL_S``.
    """
    now = now or datetime.now(UTC)
    name = hashlib.sha256(key.encode()).hexdigest()
    print_ = fingerprint(body)
    expires = (now + timedelta(seconds=KEY_TTL_S)).isoformat()
    fresh = {"fingerprint": print_, "created_at": now.isoformat(), "expires_at": expires}
    new = {**fresh, "run_id": uuid.uuid4().hex, "generation": 0}
    # The records are store calls (SQLite, Cosmos DB): off the event loop, as every handler's are.
    first = await asyncio.to_thread(records.create, tenant_id, name, new)
    record: dict[str, Any] | None = new if first else await asyncio.to_thread(records.get, tenant_id, name)
    if record is None:  # deleted between the two calls: claim it again
        return await claim_key(records, tenant_id, key, body, start, now=now)
    if not first and _expired(record, now):
        generation = int(record.get("generation", 0)) + 1
        record = {**fresh, "run_id": _next_run_id(tenant_id, key, record), "generation": generation}
        # A new period: a racing twin derives the same run id.
        await asyncio.to_thread(records.put, tenant_id, name, record)
        first = True
    if record.get("fingerprint") != print_:
        raise IdempotencyKeyReused(
            f"{HEADER} was used within the last 24 h for a different request; use a new key",
            details=[{"path": f"headers.{HEADER}", "message": "reused with a different body"}],
        )
    run_id = str(record["run_id"])
    if not record.get("started"):
        await start(run_id)  # also when repeating: the first request may have died before starting
        await asyncio.to_thread(records.put, tenant_id, name, {**record, "started": True})
    return Claim(run_id, first)
