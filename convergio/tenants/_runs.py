"""The run index's rules, shared by both adapters: statuses, how an entry changes, cursors.

The index is what ``GET /api/v1/runs`` reads, so listing costs one query however many runs a
tenant has, instead of one durable status call per run. Its entries change at a few points of a
run's life (recorded, seen started, ended, cancelled), and those writes may come late or out
of order (the run's own end and a cancel race; a list's "Running", learnt from the durable
backend, may land after a fast run ended). One rule makes every order end the same: an ended
run never goes back to going. A start writes only the entry (``Pending``); the first list that
finds the run started writes ``Running`` (ADR 0025).
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
    "CANCEL_REASON_MAX",
    "FINISHED",
    "RUN_STATUSES",
    "USAGE_FIELDS",
    "answered_waits",
    "announced_waits",
    "awaits_input",
    "cancel_note",
    "changed_entry",
    "check_filters",
    "index_run_end",
    "position",
    "record_of",
    "split_position",
    "usage_of",
    "waits_change",
]

RUN_STATUSES: Final = ("Pending", "Running", "Completed", "Failed", "Terminated")
"""What ``status`` can be (the API's run statuses); ``""`` marks an entry of an older release."""
FINISHED: Final = frozenset({"Completed", "Failed", "Terminated"})
USAGE_FIELDS: Final = ("prompt_tokens", "completion_tokens", "total_tokens", "tool_calls")
_log = logging.getLogger("convergio.tenants")
_POSITION: Final = re.compile(r"(\d{4}-\d\d-\d\dT[0-9:.+\-]{8,40})\|(\d{20})")
CANCEL_REASON_MAX: Final = 200
"""A cancel's reason is caller text, kept this long at most (the list shows it as text)."""
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")
# Things that look like credentials (our keys, OpenAI/Anthropic keys, bearer tokens) are masked:
# a reason is shown to every teacher of the tenant, and people paste the wrong clipboard.
_SECRET: Final = re.compile(r"(?i)\b(?:cvg_|sk-|sk_|bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_WAIT_NAMES_MAX: Final = 64


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
    cancelled_by: str | None = None,
    cancel_reason: str | None = None,
) -> dict[str, Any] | None:
    """The fields an update writes, or None when it changes nothing (or would undo an end).

    ``current`` holds the entry's ``status``, ``finished_at``, ``usage`` and ``waits``. A
    finished run stays finished: a late "Running" is dropped. A finished status keeps the first
    end time unless the update brings one; a going one has none. ``cancelled_by`` /
    ``cancel_reason`` (a cancel, with ``Terminated``) are kept as :func:`cancel_note` makes them.

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
    fresh: dict[str, Any] = {"status": status, "finished_at": ended, "usage": counts}
    if cancelled_by is not None or cancel_reason is not None:
        fresh["cancelled_by"] = cancel_note(cancelled_by or "")[:64]
        fresh["cancel_reason"] = cancel_note(cancel_reason or "")
    fresh["awaiting_input"] = awaits_input(status, current.get("waits"))
    if all(_same(current, name, value) for name, value in fresh.items()):
        return None
    return {**fresh, "updated_at": now}


def _same(current: Mapping[str, Any], name: str, value: Any) -> bool:
    if name == "usage":
        return bool(dict(current.get("usage") or {}) == value)
    if name == "awaiting_input":
        return bool(current.get("awaiting_input")) is value
    return bool(current.get(name) == value or (not current.get(name) and not value))


def cancel_note(text: str) -> str:
    """Caller text made fit to keep and show: one line, no control characters, credentials
    masked, at most ``CANCEL_REASON_MAX`` characters. It stays text: the console never renders it
    as markup."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return _SECRET.sub("[redacted]", line)[:CANCEL_REASON_MAX]


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): int(v)
        for k, v in list(value.items())[:_WAIT_NAMES_MAX]
        if isinstance(v, int) and not isinstance(v, bool) and v > 0
    }


def awaits_input(status: str, waits: Any) -> bool:
    """Whether a run with this ``status`` and ``waits`` state waits for human input now."""
    if status in FINISHED or not isinstance(waits, Mapping):
        return False
    answered = _counts(waits.get("answered"))
    return any(n > answered.get(name, 0) for name, n in _counts(waits.get("target")).items())


def announced_waits(waits: Any, *, seq: int, target: Mapping[str, int]) -> dict[str, Any] | None:
    """The ``waits`` state after the orchestration's announcement ``seq``; None when it is not newer.

    ``target`` maps an event name to the events the run's waits on it have needed so far (events
    consumed plus waits open). Announcements may be delivered twice or late (an activity re-run):
    only a higher ``seq`` replaces the target.
    """
    state = waits if isinstance(waits, Mapping) else {}
    if seq <= int(state.get("seq") or 0):
        return None
    return {"seq": seq, "target": _counts(target), "answered": _counts(state.get("answered"))}


def waits_change(
    current: Mapping[str, Any], waits: dict[str, Any] | None, *, now: str
) -> dict[str, Any] | None:
    """The fields a new ``waits`` state writes into an entry (None: nothing to write)."""
    if waits is None or waits == current.get("waits"):
        return None
    awaiting = awaits_input(str(current.get("status") or ""), waits)
    return {"waits": waits, "awaiting_input": awaiting, "updated_at": now}


def answered_waits(waits: Any, name: str) -> dict[str, Any]:
    """The ``waits`` state after the API raised one event ``name`` into the run."""
    state = dict(waits) if isinstance(waits, Mapping) else {}
    answered = _counts(state.get("answered"))
    if name in answered or len(answered) < _WAIT_NAMES_MAX:
        answered[name] = answered.get(name, 0) + 1
    return {"seq": int(state.get("seq") or 0), "target": _counts(state.get("target")), "answered": answered}


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
        awaiting_input=bool(fields.get("awaiting_input")),
        cancelled_by=str(fields.get("cancelled_by") or ""),
        cancel_reason=str(fields.get("cancel_reason") or ""),
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
