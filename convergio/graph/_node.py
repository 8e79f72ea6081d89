"""One node of a graph run: its state, its row of the node table, and the run's small helpers.

The orchestrator touches nodes after every completion, so a node is a plain object
whose shown fields mark it changed as they are set (the progress journal then looks at changed
nodes only), and its compact row is built directly rather than by filtering the full one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ._spec import AgentSpec

__all__ = ["SHOWN", "ZERO", "Node", "event_value", "first_line", "iso", "left", "lesser"]

ZERO = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "tool_calls": 0}
SHOWN = frozenset({"status", "attempts", "started_at", "finished_at", "usage", "error", "calls", "reused"})
"""The node fields a node entry shows: setting one marks the node for the progress journal."""


class Node:
    """A node's state in one run; setting a field of ``SHOWN`` adds its id to ``changed``."""

    spec: AgentSpec
    changed: set[str]  # the run's nodes whose entry changed since the journal last looked
    status: str
    attempts: int
    calls: int
    started_at: str | None
    finished_at: str | None
    usage: dict[str, int]
    error: str | None
    output: Any
    event: Any
    rounds: list[list[dict[str, Any]]]
    tokens: set[str]
    reused: bool  # its output was kept from an earlier run (retry of failed agents)

    def __init__(self, spec: AgentSpec, changed: set[str]) -> None:
        # Set past __setattr__, in one call: a new node is the baseline every reader assumes,
        # not a change (a run of 500 nodes would pay 7,000 tracked sets). One update costs
        # half of 14 object.__setattr__ calls on slots (1.8 against 3.5 µs), paid for every
        # agent when a run starts, and on every replay on Azure.
        vars(self).update(
            spec=spec,
            changed=changed,
            status="waiting",
            attempts=0,
            calls=0,
            started_at=None,
            finished_at=None,
            usage=dict(ZERO),
            error=None,
            output=None,
            event=None,
            rounds=[],
            tokens=set(),
            reused=False,
        )

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in SHOWN:
            self.changed.add(self.spec.id)

    def entry(self) -> dict[str, Any]:
        """This node's row of the run's node table."""
        entry: dict[str, Any] = {
            "status": self.status,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "usage": self.usage,
        }
        if self.error:
            entry["error"] = self.error
        if self.calls:
            entry["calls"] = self.calls
        if self.reused:
            entry["reused"] = True
        return entry

    def compact(self) -> dict[str, Any]:
        """``compact_entry(self.entry())``, keys in the same order, without building the full row."""
        out: dict[str, Any] = {"status": self.status}
        if self.attempts != 0:
            out["attempts"] = self.attempts
        if self.started_at is not None:
            out["started_at"] = self.started_at
        if self.finished_at is not None:
            out["finished_at"] = self.finished_at
        if any(self.usage.values()):
            out["usage"] = self.usage
        if self.error:
            out["error"] = self.error
        if self.calls:
            out["calls"] = self.calls
        if self.reused:
            out["reused"] = True
        return out


def event_value(payload: Any) -> Any:
    """The value a client raised, as the API sent it.

    The API raises events with the SDK's ``raise_event``, which JSON-encodes the value twice, and
    Azure's extension keeps the second layer: the orchestrator receives a string holding JSON
    (azure-functions-durable-python issue 295). Decoding a string once restores the caller's
    value, whatever its type. A string that is not JSON is kept as it came (a hand-posted one).
    """
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def lesser(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def first_line(value: Any) -> str:
    return (str(value).strip().splitlines() or ["failed"])[0][:500]


@lru_cache(maxsize=64)
def iso(moment: datetime) -> str:
    """The orchestration clock as the run's timestamps show it (cached: one per resume, used often)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" in half the time (both cut to the millisecond)
    return moment.isoformat(timespec="milliseconds") + "Z"
