"""The run index's rules, shared by both adapters: statuses, how an entry changes, cursors.

The index is what ``GET /api/v1/runs`` reads, so listing costs one query however many runs a
tenant has, instead of one durable status call per run. Its entries change at a few points of a
run's life (recorded, started, ended, cancelled), and those writes may come late or out of
order (the run's own end and a cancel race; a start's "Running" may land after a fast run
ended). One rule makes every order end the same: an ended run never goes back to going.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from convergio.tenants._models import RunRecord

if TYPE_CHECKING:
    from convergio.tenants._store import TenantStore

__all__ = [
    "FINISHED",
    "RUN_STATUSES",
    "USAGE_FIELDS",
    "changed_entry",
    "check_filters",
    "index_run_end",
    "position",
    "record_of",
    "split_position",
    "usage_of",
]

RUN_STATUSES: Final = ("Pending", "Running", "Completed", "Failed", "Terminated")
"""What ``status`` can be (the API's run statuses); ``""`` marks an entry of an older release."""
FINISHED: Final = frozenset({"Completed", "Failed", "Terminated"})
USAGE_FIELDS: Final = ("prompt_tokens", "completion_tokens", "total_tokens", "tool_calls")
_log = logging.getLogger("convergio.tenants")
_POSITION: Final = re.compile(r"(\d{4}-\d\d-\d\dT[0-9:.+\-]{8,40})\|(\d{20})")


def position(created_at: str, seq: int) -> str:
    """An entry's place in newest-first order: its start, then a number that grows per recording."""
    return f"{created_at}|{seq:020d}"


def split_position(cursor: str) -> tuple[str, int]:
    """The (created_at, seq) of a :func:`position`.

    Raises:
        ValueError: ``cursor`` is not a position of this index (the message names ``before``).
    """
    match = _POSITION.fullmatch(cursor)
    if match is None:
        raise ValueError("before: not a position in the run index")
    return match.group(1), int(match.group(2))


def check_filters(status: str | None, before: str | None) -> None:
    """Refuse a status that is not one (``""`` finds entries whose status is not known yet).

    Raises:
        ValueError: an unknown ``status`` or a malformed ``before``.
    """
    if status is not None and status != "" and status not in RUN_STATUSES:
        raise ValueError(f"status: must be one of {', '.join(RUN_STATUSES)}")
    if before is not None:
        split_position(before)


def usage_of(value: Any) -> dict[str, int]:
    """The token counts the index keeps (non-negative ints of ``USAGE_FIELDS``; others dropped)."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, int] = {}
    for name in USAGE_FIELDS:
        count = value.get(name)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            out[name] = count
    return out


def changed_entry(
    current: Mapping[str, Any],
    *,
    status: str,
    finished_at: str | None,
    usage: Mapping[str, int] | None,
    now: str,
) -> dict[str, Any] | None:
    """The fields an update writes, or None when it changes nothing (or would undo an end).

    ``current`` holds the entry's ``status``, ``finished_at`` and ``usage``. A finished run
    stays finished: a late "Running" is dropped. A finished status keeps the first end time
    unless the update brings one; a going one has none.

    Raises:
        ValueError: ``status`` is not one of ``RUN_STATUSES``.
    """
    if status not in RUN_STATUSES:
        raise ValueError(f"status: must be one of {', '.join(RUN_STATUSES)}")
    was = str(current.get("status") or "")
    if was in FINISHED and status not in FINISHED:
        return None
    if status in FINISHED:
        ended = finished_at or (current.get("finished_at") if was in FINISHED else None) or now
    else:
        ended = None
    counts = dict(current.get("usage") or {}) if usage is None else usage_of(usage)
    if was == status and current.get("finished_at") == ended and dict(current.get("usage") or {}) == counts:
        return None
    return {"status": status, "finished_at": ended, "usage": counts, "updated_at": now}


def record_of(fields: Mapping[str, Any], tenant_id: str, cursor: str) -> RunRecord:
    """A :class:`RunRecord` from an adapter's row or document (absent fields: an older release's)."""
    return RunRecord(
        run_id=str(fields["run_id"]),
        tenant_id=tenant_id,
        graph_name=str(fields["graph_name"]),
        created_at=str(fields["created_at"]),
        status=str(fields.get("status") or ""),
        finished_at=fields.get("finished_at") or None,
        updated_at=str(fields.get("updated_at") or fields["created_at"]),
        usage=usage_of(fields.get("usage")),
        started_by=str(fields.get("started_by") or ""),
        cursor=cursor,
    )


def index_run_end(store: TenantStore, summary: Mapping[str, Any]) -> None:
    """Write a root run's end (its ``GraphRun.summary``) into the run index, from the run itself.

    Best effort: this runs in the run's last activity, and a store outage must not fail a run
    that has finished; the API repairs the entry from the run's durable state when it reads it.
    """
    status = "Failed" if summary.get("status") == "failed" else "Completed"
    try:
        store.update_run(
            str(summary["run_id"]),
            status=status,
            finished_at=summary.get("finished_at") or None,
            usage=summary.get("usage") if isinstance(summary.get("usage"), Mapping) else None,
        )
    except Exception:
        _log.warning("run index: the end of %s not written", summary.get("run_id"), exc_info=True)
