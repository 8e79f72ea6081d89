"""Graph nodes of ``kind: a2a``: a remote A2A agent does the node's work (pure, no I/O).

The node's prompt is rendered and sent by the ``a2a_send`` activity; when the remote task is not
done yet the run waits on a durable timer and the ``a2a_poll`` activity reads it again, until it
ends, the node's ``max_seconds`` passes, or the run ends. The task id comes back in the
activity's result, so it is in the orchestration history: a replay after a crash resumes polling
the same task and never sends the message again. The remote answer's text is the node output.

Options (``options`` of the node): ``poll_seconds`` (first wait, default 2; each wait doubles,
up to 60 s) and ``auth_header`` (where the ``connection``'s key goes, default ``x-api-key``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._spec import AgentSpec

__all__ = ["A2A_POLL", "A2A_SEND", "a2a_call", "a2a_problems", "poll_delay"]

A2A_SEND = "a2a_send"
A2A_POLL = "a2a_poll"
_BUILT_IN = frozenset({"offline", "managed"})
_MAX_WAIT_S = 60.0
_OPTIONS = frozenset({"poll_seconds", "auth_header"})


def a2a_problems(agent: AgentSpec, at: str, connections: frozenset[str]) -> Iterator[tuple[str, str]]:
    """What is wrong with a node's A2A fields (``url``, ``connection``, options), path first."""
    if agent.kind != "a2a":
        if agent.url is not None or agent.connection is not None:
            yield f"{at}.kind", "url and connection need kind: a2a"
        return
    if agent.url is None:
        yield f"{at}.url", "an a2a node needs the remote agent's url"
    else:
        parts = urlsplit(agent.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield f"{at}.url", "must be an http(s) URL with a host"
        elif parts.username is not None or parts.password is not None:
            yield f"{at}.url", "must not carry credentials; name a connection instead"
    if agent.tools or agent.workers or agent.guards:
        yield f"{at}.kind", "an a2a node delegates to a remote agent: no tools, workers or guards"
    name = agent.connection
    if name is not None and (name in _BUILT_IN or name not in connections):
        yield f"{at}.connection", f"unknown connection {agent.connection!r}"
    for option in sorted(set(agent.options) - _OPTIONS):
        yield f"{at}.options.{option}", "unknown option for an a2a node (known: auth_header, poll_seconds)"
    poll = agent.options.get("poll_seconds", 2)
    if not isinstance(poll, int | float) or isinstance(poll, bool) or not 0.1 <= poll <= _MAX_WAIT_S:
        yield f"{at}.options.poll_seconds", f"must be a number of seconds from 0.1 to {_MAX_WAIT_S:g}"
    header = agent.options.get("auth_header", "x-api-key")
    if not isinstance(header, str) or not header.strip() or not header.replace("-", "").isalnum():
        yield f"{at}.options.auth_header", "must be an HTTP header name"


def poll_delay(agent: AgentSpec, polls: int) -> float:
    """Seconds to wait before poll number ``polls`` (1-based): ``poll_seconds``, doubling, capped."""
    first = agent.options.get("poll_seconds", 2)
    seconds = float(first) if isinstance(first, int | float) else 2.0  # validated
    return min(_MAX_WAIT_S, seconds * 2.0 ** min(polls - 1, 10))


def a2a_call(
    request: Mapping[str, Any], agent: AgentSpec, call: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The input of ``a2a_send`` (no ``task_id`` yet) or ``a2a_poll`` (the task id known).

    Args:
        request: ``run_id``, ``tenant``, ``graph``, ``node_id`` and ``step`` of the call.
        agent: The node.
        call: The run's record of this call (``task_id`` once the remote task exists).
        context: What the prompt sees: ``input``, ``outputs``, ``event``.
    """
    body: dict[str, Any] = {
        **request,
        "attempt": call["attempt"],
        "url": agent.url,
        "connection": agent.connection,
        "auth_header": agent.options.get("auth_header", "x-api-key"),
        "timeout_s": 30.0,
    }
    if call.get("task_id"):
        return body | {"task_id": call["task_id"]}
    return body | {"prompt": agent.prompt or "", **context}
