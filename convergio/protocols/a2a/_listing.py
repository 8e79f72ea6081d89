"""``ListTasks`` (A2A 1.0, section 3.1.4): filters, order and cursor pages over a caller's runs.

What the spec asks and how it is met here, with no state between calls:

- only tasks visible to the caller: ``GraphAgents.runs_of`` returns the caller's runs of the graph;
- filters ``contextId``, ``status`` and ``statusTimestampAfter`` (at or after; compared to the
  whole second, the precision Durable's status API reports, so a task is never missed);
- newest status timestamp first (ties: the later started first, then the id), with cursor
  pages: ``pageSize`` 1-100, 50 by default; ``nextPageToken`` is the position after a page's
  last task (its timestamp, start and id), ``""`` on the last page; ``totalSize`` counts every
  match, ``pageSize`` the tasks returned;
- ``historyLength`` must not be negative (tasks carry no message history here: a run's input
  is its own record), ``includeArtifacts`` adds the output artifact.

Invalid values are ``InvalidParamsError`` (-32602) naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import InvalidParamsError

from .._types import TaskState
from ._convert import PB_STATE, RunSnapshot

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "TaskQuery", "list_page", "task_query"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATE_OF = {number: state for state, number in PB_STATE.items()}
_CURSOR_PREFIX = "t1."

_Key = tuple[datetime, datetime, str]


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """A ``ListTasksRequest`` checked: what to keep and where the page starts."""

    context_id: str = ""
    state: TaskState | None = None
    any_state: bool = True
    after: datetime | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    start_after: _Key | None = None
    include_artifacts: bool = False


def task_query(params: pb.ListTasksRequest) -> TaskQuery:
    """The query a request asks for.

    Raises:
        InvalidParamsError: ``pageSize`` outside 1-100, a negative ``historyLength``, a
            ``pageToken`` this server did not issue.
    """
    size = params.page_size if params.HasField("page_size") else DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParamsError(f"Invalid params: pageSize: must be from 1 to {MAX_PAGE_SIZE}")
    if params.HasField("history_length") and params.history_length < 0:
        raise InvalidParamsError("Invalid params: historyLength: must not be negative")
    after = None
    if params.HasField("status_timestamp_after"):
        after = params.status_timestamp_after.ToDatetime(tzinfo=UTC).replace(microsecond=0)
    number = int(params.status)
    return TaskQuery(
        context_id=params.context_id,
        state=_STATE_OF.get(number),
        any_state=number == pb.TASK_STATE_UNSPECIFIED,
        after=after,
        page_size=size,
        start_after=_decode(params.page_token) if params.page_token else None,
        include_artifacts=params.include_artifacts,
    )


def list_page(runs: Iterable[RunSnapshot], query: TaskQuery) -> tuple[list[RunSnapshot], str, int]:
    """The page of ``runs`` the query selects, the next page's token (``""`` when none), and the
    number of runs matching the filters across all pages."""
    matching = sorted((r for r in runs if _matches(r, query)), key=_key, reverse=True)
    rest = matching
    if query.start_after is not None:
        rest = [r for r in matching if _key(r) < query.start_after]
    page = rest[: query.page_size]
    token = _encode(_key(page[-1])) if len(rest) > len(page) else ""
    return page, token, len(matching)


def _matches(run: RunSnapshot, query: TaskQuery) -> bool:
    if query.context_id and run.context_id != query.context_id:
        return False
    if not query.any_state and run.state != query.state:
        return False
    return query.after is None or _aware(run.updated_at) >= query.after


def _key(run: RunSnapshot) -> _Key:
    return (_aware(run.updated_at), _aware(run.created_at), run.id)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return _EPOCH
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _encode(key: _Key) -> str:
    raw = json.dumps([key[0].isoformat(), key[1].isoformat(), key[2]], separators=(",", ":"))
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str) -> _Key:
    refused = InvalidParamsError("Invalid params: pageToken: not a token from an earlier ListTasks answer")
    if not token.startswith(_CURSOR_PREFIX) or len(token) > 1024:
        raise refused
    body = token[len(_CURSOR_PREFIX) :]
    try:
        updated, created, run_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        key = (_aware(datetime.fromisoformat(updated)), _aware(datetime.fromisoformat(created)), run_id)
    except (ValueError, TypeError, binascii.Error):
        raise refused from None
    if not isinstance(run_id, str):
        raise refused
    return key
