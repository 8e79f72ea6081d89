"""The A2A client adapter: a remote A2A agent as an ``AgentPeer``, over the official ``a2a-sdk``.

Activities run in worker threads and call it synchronously; each call runs the SDK's async
client on a private event loop (a thread of its own when the caller already runs a loop).
Messages go out with ``return_immediately`` so a long remote task never holds an activity:
the orchestrator polls ``get`` on a durable timer instead.

Errors say whether a retry can help: ``ConnectionError`` (unreachable, timed out, a 5xx) is
retried by the node's retry policy; ``RemoteRejected`` (a JSON-RPC refusal, or HTTP 401/403 on
the card or the JSON-RPC endpoint) fails the node at once, so a wrong key costs one request;
``LookupError`` when the agent no longer knows the task. Spec: A2A 1.0 over ``a2a-sdk`` 1.3.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import A2AError, TaskNotFoundError
from google.protobuf.json_format import MessageToDict

from .._types import Endpoint, RemoteTask, TaskState

__all__ = ["A2APeer", "RemoteRejected", "remote_task"]

T = TypeVar("T")

_STATES: dict[int, TaskState] = {
    pb.TASK_STATE_UNSPECIFIED: "working",
    pb.TASK_STATE_SUBMITTED: "submitted",
    pb.TASK_STATE_WORKING: "working",
    pb.TASK_STATE_INPUT_REQUIRED: "input_required",
    pb.TASK_STATE_AUTH_REQUIRED: "input_required",
    pb.TASK_STATE_COMPLETED: "completed",
    pb.TASK_STATE_FAILED: "failed",
    pb.TASK_STATE_CANCELED: "canceled",
    pb.TASK_STATE_REJECTED: "rejected",
}
_MAX_TEXT = 100_000
_REFUSED_CREDENTIALS = frozenset({401, 403})


class RemoteRejected(ConnectionError):
    """The agent answered a refusal a retry will not fix: a protocol error (bad params, no such
    method) or HTTP 401/403 (the key is wrong or lacks the right; sending it again cannot help,
    and retrying a refused key only looks like guessing to the remote)."""


class A2APeer:
    """A remote A2A agent at ``endpoint.url`` (its base URL: the card is at the well-known path).

    Args:
        endpoint: The agent's base URL, headers sent with every request (an API key), timeout.
        check_url: Called with every URL before it is contacted, the card's JSON-RPC URL
            included (hosted mode passes ``check_endpoint``); raises ``ValueError`` to refuse.
    """

    def __init__(self, endpoint: Endpoint, *, check_url: Callable[[str], None] | None = None) -> None:
        if endpoint.protocol != "a2a" or not endpoint.url:
            raise ValueError("an A2A peer needs an a2a endpoint with a url")
        self._endpoint = endpoint
        self._check = check_url or (lambda url: None)
        self._check(endpoint.url)

    def send(self, text: str, *, context_id: str | None = None, message_id: str | None = None) -> RemoteTask:
        """``AgentPeer.send``; a stable ``message_id`` lets an agent that dedups see a re-send as one."""
        message = pb.Message(
            message_id=message_id or uuid.uuid4().hex,
            role=pb.ROLE_USER,
            parts=[pb.Part(text=text)],
            context_id=context_id or "",
        )
        request = pb.SendMessageRequest(
            message=message, configuration=pb.SendMessageConfiguration(return_immediately=True)
        )

        async def call(client: Any) -> RemoteTask:
            last: RemoteTask | None = None
            async for event in client.send_message(request):
                if event.HasField("task"):
                    last = remote_task(event.task)
                elif event.HasField("message"):
                    text = _text(event.message.parts)
                    return RemoteTask(event.message.message_id, "completed", output=text)
            if last is None:
                raise ConnectionError("the agent answered neither a task nor a message")
            return last

        return _run(self._with_client(call))

    def get(self, task_id: str) -> RemoteTask:
        request = pb.GetTaskRequest(id=task_id, history_length=0)

        async def call(client: Any) -> RemoteTask:
            return remote_task(await client.get_task(request))

        return _run(self._with_client(call))

    def cancel(self, task_id: str) -> RemoteTask:
        async def call(client: Any) -> RemoteTask:
            return remote_task(await client.cancel_task(pb.CancelTaskRequest(id=task_id)))

        return _run(self._with_client(call))

    async def _with_client(self, call: Callable[[Any], Awaitable[T]]) -> T:
        endpoint = self._endpoint
        assert endpoint.url is not None
        async with httpx.AsyncClient(
            headers=endpoint.headers, timeout=endpoint.timeout_s, follow_redirects=False
        ) as http:
            try:
                card = await A2ACardResolver(http, endpoint.url.rstrip("/")).get_agent_card()
                for interface in card.supported_interfaces:
                    self._check(interface.url)
                client = ClientFactory(ClientConfig(httpx_client=http, streaming=False, polling=True)).create(
                    card
                )
                return await call(client)
            except TaskNotFoundError:
                raise LookupError("the agent knows no such task") from None
            except (A2AClientError, httpx.HTTPError) as exc:
                status = _http_status(exc)
                if status in _REFUSED_CREDENTIALS:
                    raise RemoteRejected(
                        f"A2A agent refused the credentials (HTTP {status}): check the key of the "
                        "node's connection and its auth_header"
                    ) from None
                raise ConnectionError(f"A2A agent unreachable: {_short(exc)}") from None
            except A2AError as exc:
                raise RemoteRejected(f"A2A agent refused: {_short(exc)}") from None
            except ValueError as exc:  # no compatible transport on the card, a refused URL
                raise RemoteRejected(f"A2A agent unusable: {_short(exc)}") from None


def remote_task(task: pb.Task) -> RemoteTask:
    """An SDK task as a ``RemoteTask``: the answer from its artifacts (else its status message)."""
    state = _STATES.get(task.status.state, "working")
    status_text = _text(task.status.message.parts) if task.status.HasField("message") else ""
    output = error = None
    if state == "completed":
        output = "\n".join(t for a in task.artifacts if (t := _text(a.parts))) or status_text
    elif state in ("failed", "rejected", "canceled"):
        error = status_text[:2000] or f"the remote task ended {state}"
    return RemoteTask(task.id, state, output=output, error=error, context_id=task.context_id or None)


def _text(parts: Any) -> str:
    chunks = []
    for part in parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            chunks.append(part.text)
        elif kind == "data":
            chunks.append(json.dumps(MessageToDict(part)["data"]))
    return "\n".join(chunks)[:_MAX_TEXT]


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error: the card resolver keeps it, the JSON-RPC transport
    chains the ``httpx.HTTPStatusError``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.HTTPStatusError):
            return seen.response.status_code
        status = getattr(seen, "status_code", None)
        if isinstance(status, int):
            return status
        seen = seen.__cause__ or seen.__context__
    return None


def _short(exc: BaseException) -> str:
    """An error's first line, trimmed (SDK messages may quote URLs; never headers)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, whatever the calling thread runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="a2a-client", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
