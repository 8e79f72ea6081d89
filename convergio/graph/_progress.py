"""A run's compact custom status, and the progress journal that keeps every node off it.

Azure's Durable extension refuses a custom status over 16 KB of UTF-16 JSON (about 8,000
characters), and a full node table is about 110 KB at 500 nodes (ADR 0014). So the custom
status carries a bounded summary (counts per status, usage, the run error, who awaits input)
and a bounded *tail*: the newest node entries, route decisions and re-plans. Whatever the tail
cannot hold goes into the orchestration history: when the changes not yet written reach
``FLUSH_CHARS``, the run seals them into a *record* that the orchestrator passes through the
``record_progress`` activity, whose result the history keeps.

Every item carries the revision (``rev``) at which it last changed, so a reader folds the
baseline (every agent of the graph, waiting), the records and the tail in any order and keeps
the newest version of each item (``fold``). A small run never writes a record, and then the
status alone (with the graph) is the whole table.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "ERROR_CHARS",
    "FLUSH_CHARS",
    "RECORD_PROGRESS",
    "STATUS_LIMIT_UTF16",
    "TAIL_CHARS",
    "ProgressJournal",
    "compact_entry",
    "fold",
    "records_of",
]

RECORD_PROGRESS = "record_progress"
STATUS_LIMIT_UTF16 = 16 * 1024
"""Azure's limit on a custom status, in bytes of UTF-16 JSON text (the extension's SetCustomStatus)."""
TAIL_CHARS = 5_000
"""The most JSON characters of items the status carries; the rest of the summary is about 2,000."""
FLUSH_CHARS = 4_000
"""Unwritten changes beyond this are sealed into a record (below TAIL_CHARS, so they always show)."""
ERROR_CHARS = 1_000
AWAITING_SHOWN = 8
SECTIONS = ("nodes", "routes", "replans")


def _measure() -> Callable[[Any], int]:
    """The length of ``json.dumps(value)`` for what the journal measures (fresh dicts, never
    cyclic): the C encoder ``dumps`` builds, built once with its settings but no cycle markers
    (``JSONEncoder.encode`` builds a new one per call: a fifth of the measure). Without the
    accelerator, or if its internal signature changes, ``JSONEncoder.encode`` as before."""
    text = json.JSONEncoder(check_circular=False).encode
    make: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)
    probe = {"a": [1, 2.5, None, True, "\u00e9\u2028", float("nan"), {"b": ""}]}
    try:  # markers, default, strings, indent, separators, sort_keys, skipkeys, allow_nan
        if make is not None:
            strings = json.encoder.encode_basestring_ascii
            encode = make(None, json.JSONEncoder().default, strings, None, ": ", ", ", False, False, True)
            if sum(map(len, encode(probe, 0))) == len(json.dumps(probe)):
                return lambda value: sum(map(len, encode(value, 0)))
    except TypeError:  # another signature
        pass
    return lambda value: len(text(value))


_chars = _measure()
Key = tuple[str, str]  # (section, id): ("nodes", node id), ("routes", router id), ("replans", index)
_Item = tuple[dict[str, Any], int]  # (the value as shown, with its "rev"; its JSON length plus overhead)
assert FLUSH_CHARS < TAIL_CHARS, "unwritten changes must always fit the tail"


def compact_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A node entry without what the API's defaults restore (null times, no attempts, zero usage)."""
    out = {k: v for k, v in entry.items() if v is not None and not (k == "attempts" and v == 0)}
    if not any((out.get("usage") or {}).values()):
        out.pop("usage", None)
    return out


class ProgressJournal:
    """What changed since the run began, split into sealed records and the status' tail.

    Args:
        baseline: node id -> its compact entry before anything happened (what a reader assumes
            for every agent of the graph it started with).
        keep_records: False for a sub-graph, whose status nobody folds: sealed changes are
            dropped instead of written.
    """

    def __init__(self, baseline: Mapping[str, dict[str, Any]], *, keep_records: bool = True) -> None:
        self._last: dict[Key, dict[str, Any]] = {("nodes", k): v for k, v in baseline.items()}
        self._keep = keep_records
        self.rev = 0
        self.sealed = 0  # records made so far (their seq numbers are 1..sealed)
        self._pending: dict[Key, _Item] = {}  # in rev order, the newest last
        self._shown: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SECTIONS}  # the same, by section
        self._pending_chars = 0
        self._open: dict[int, dict[Key, _Item]] = {}  # seq -> its items
        # the open records' items as the tail walks them (newest record first, each newest
        # first), kept until a record is sealed or confirmed: (section, id, shown, chars)
        self._walk: list[tuple[str, str, dict[str, Any], int]] | None = None
        self._ready: list[dict[str, Any]] = []
        self._tail: dict[str, dict[str, Any]] | None = None  # the last tail, until something changes
        self.counts: dict[str, int] = {}
        for entry in baseline.values():
            self.counts[entry["status"]] = self.counts.get(entry["status"], 0) + 1
        self._awaiting: set[str] = set()

    def note(self, changes: Iterable[tuple[Key, dict[str, Any]]]) -> None:
        """Record one batch of changed items (one revision); unchanged values are ignored."""
        fresh = [(k, v) for k, v in changes if self._last.get(k) != v]
        if not fresh:
            return
        self.rev += 1
        for key, value in fresh:
            if key[0] == "nodes":
                self._count(key[1], self._last.get(key), value)
            self._last[key] = value
            old = self._pending.pop(key, None)  # re-inserted last: the dict stays in rev order
            if old is not None:
                self._pending_chars -= old[1]
                del self._shown[key[0]][key[1]]
            chars = _chars(value) + len(key[1]) + 16
            shown = value | {"rev": self.rev}
            self._pending[key] = (shown, chars)
            self._shown[key[0]][key[1]] = shown
            self._pending_chars += chars
        self._tail = None
        if self._pending_chars > FLUSH_CHARS:
            self._seal()

    def take_records(self) -> list[dict[str, Any]]:
        """Records sealed since the last call, for the orchestrator to write (``record_progress``)."""
        ready, self._ready = self._ready, []
        return ready

    def confirm(self, seq: int) -> None:
        """Record ``seq`` is in the history now: the tail no longer needs to carry its items."""
        if self._open.pop(seq, None) is not None:
            self._tail = self._walk = None

    def open_records(self) -> list[int]:
        return sorted(self._open)

    @property
    def confirmed(self) -> int:
        """How many sealed records are in the history: a reader that has folded that many from
        it needs no history read until this grows (the API's run view keeps them, issue 22)."""
        return self.sealed - len(self._open)

    def tail(self) -> dict[str, dict[str, Any]]:
        """The newest items, pending first, then those of records not yet confirmed, within TAIL_CHARS.

        Pending changes never exceed FLUSH_CHARS, so they always fit: an item is always in the
        tail, in a record, or both. The orchestrator asks after every completion, so the answer
        is kept until something changes, and its dicts are never changed after: callers must
        not change them either.
        """
        if self._tail is None:
            self._tail = self._build_tail()
        return self._tail

    def _build_tail(self) -> dict[str, dict[str, Any]]:
        # Pending items all fit (FLUSH_CHARS < TAIL_CHARS): each section, newest first.
        out = {section: dict(reversed(items.items())) for section, items in self._shown.items()}
        room = TAIL_CHARS - self._pending_chars
        if self._walk is None:
            self._walk = [
                (section, item_id, shown, chars)
                for seq in sorted(self._open, reverse=True)
                for (section, item_id), (shown, chars) in reversed(self._open[seq].items())
            ]
        for section, item_id, shown, chars in self._walk:
            target = out[section]
            if item_id in target:  # a newer version is shown already
                continue
            if chars > room:
                break
            room -= chars
            target[item_id] = shown
        return out

    def awaiting(self) -> list[str]:
        """Nodes waiting for human input (the first few, by id)."""
        return sorted(self._awaiting)[:AWAITING_SHOWN] if self._awaiting else []

    def _seal(self) -> None:
        items, self._pending, self._pending_chars = self._pending, {}, 0
        self._shown = {s: {} for s in SECTIONS}
        if not self._keep:
            return
        self.sealed += 1
        self._open[self.sealed] = items
        self._walk = None
        record: dict[str, Any] = {"seq": self.sealed, **{s: {} for s in SECTIONS}}
        for (section, item_id), (shown, _) in items.items():
            record[section][item_id] = shown
        self._ready.append(record)

    def _count(self, node_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        if old is not None:
            self.counts[old["status"]] -= 1
            if not self.counts[old["status"]]:
                del self.counts[old["status"]]
        self.counts[new["status"]] = self.counts.get(new["status"], 0) + 1
        if new["status"] == "awaiting_input":
            self._awaiting.add(node_id)
        else:
            self._awaiting.discard(node_id)


def records_of(history: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The progress records in an orchestration's history (``get_status`` with history and output).

    A record whose ``record_progress`` has completed is its ``TaskCompleted``'s result. One
    still open is a ``TaskScheduled`` the status API keeps as pending work, its ``Input`` (shown
    with ``showInput``) the record: the status may already count it while the tail cannot hold
    all of its items, and a reader that skipped it would show those nodes as they were before.
    """
    records = []
    for event in history or ():
        kind = event.get("EventType")
        if kind == "TaskCompleted" and event.get("FunctionName") == RECORD_PROGRESS:
            result = event.get("Result")
        elif kind == "TaskScheduled" and event.get("Name") == RECORD_PROGRESS:
            result = event.get("Input")
        else:
            continue
        if isinstance(result, str):  # an input as stored, or a host that leaves results serialised
            try:
                result = json.loads(result)
            except ValueError:
                continue
        if isinstance(result, dict):
            records.append(result)
    return records


def fold(
    agents: Iterable[str], records: Iterable[Mapping[str, Any]], tail: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Every item, newest version first: ``{"nodes": ..., "routes": ..., "replans": ...}``.

    ``agents`` are the graph's agents in spec order (waiting until an item says otherwise);
    items carry their ``rev``, which is dropped from the answer. Replans are keyed by index.
    """
    best: dict[str, dict[str, tuple[int, Any]]] = {s: {} for s in SECTIONS}
    for node_id in agents:
        best["nodes"][node_id] = (0, {"status": "waiting"})
    for source in [*records, tail]:
        for section in SECTIONS:
            items = source.get(section)
            if not isinstance(items, dict):
                continue
            for item_id, value in items.items():
                rev = value.get("rev", 0) if isinstance(value, dict) else 0
                known = best[section].get(item_id)
                if known is None or rev >= known[0]:
                    best[section][item_id] = (rev, value)
    return {
        section: {k: {f: v for f, v in value.items() if f != "rev"} for k, (_, value) in items.items()}
        for section, items in best.items()
    }
