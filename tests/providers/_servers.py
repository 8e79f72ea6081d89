"""Loopback fakes of the providers' HTTP APIs: one Starlette app, served by uvicorn in a thread.

The app answers the routes each provider calls: OpenAI chat completions
(``/v1/chat/completions``), an Ollama-style compatible server under a custom base URL
(``/ollama/v1/chat/completions``), Azure OpenAI deployments
(``/openai/deployments/{deployment}/chat/completions?api-version=...``) and Anthropic
messages (``/v1/messages``). It records every request it sees and answers with the replies a
test queued (``FakeAPI.queue``), built by the helpers below in each wire format.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Reply = Callable[[], Awaitable[Response]]


@dataclass(frozen=True)
class Seen:
    """One request as the fake server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeAPI:
    """A recording, scriptable fake of every provider API at once."""

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[Seen] = []
        self._replies: list[Reply] = []
        self._answer: Callable[[Any], Response] | None = None
        self._lock = threading.Lock()
        routes = [
            "/v1/chat/completions",
            "/ollama/v1/chat/completions",
            "/openai/deployments/{deployment}/chat/completions",
            "/v1/messages",
        ]
        self.app = Starlette(routes=[Route(path, self._handle, methods=["POST"]) for path in routes])

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()
            self._replies.clear()
            self._answer = None

    def answer_with(self, answer: Callable[[Any], Response]) -> None:
        """Answer every request with ``answer(body)`` while nothing is queued: a provider whose
        reply depends on what was asked (an honest one bills no more output than ``max_tokens``)."""
        with self._lock:
            self._answer = answer

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def last(self) -> Seen:
        return self.seen[-1]

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.seen.append(Seen(request.url.path, dict(request.query_params), dict(request.headers), body))
            reply = self._replies.pop(0) if self._replies else None
            answer = self._answer
        if reply is None and answer is not None:
            return answer(body)
        if reply is None:
            return JSONResponse({"error": {"message": "no reply queued", "code": "test"}}, status_code=500)
        return await reply()


class LoopbackServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1, on a port the OS picks, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-provider", daemon=True)
        self.url = ""
        self.port = 0

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# -- replies --------------------------------------------------------------------------------


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    async def reply() -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers or {}))

    return reply


def slow_reply(seconds: float, body: Any) -> Reply:
    async def reply() -> Response:
        await asyncio.sleep(seconds)
        return JSONResponse(body)

    return reply


def sse_reply(frames: Iterable[tuple[str | None, Any]], *, pause_s: float = 0.0) -> Reply:
    """A ``text/event-stream`` answer; each frame is ``(event name or None, data)``.

    ``data`` is JSON-encoded unless it is a string (e.g. OpenAI's ``[DONE]``).
    """
    frames = list(frames)

    async def events() -> AsyncIterator[bytes]:
        for event, data in frames:
            text = data if isinstance(data, str) else json.dumps(data)
            head = f"event: {event}\n" if event else ""
            yield f"{head}data: {text}\n\n".encode()
            if pause_s:
                await asyncio.sleep(pause_s)

    async def reply() -> Response:
        return StreamingResponse(events(), media_type="text/event-stream")

    return reply


# -- OpenAI wire format ---------------------------------------------------------------------


def chat_completion(
    text: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (11, 7),
    model: str = "gpt-test",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        }
    return body


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "gpt-test") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_stream(
    pieces: list[str],
    *,
    usage: tuple[int, int] | None = (11, 7),
    tool_deltas: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
) -> list[tuple[str | None, Any]]:
    """SSE frames of a streamed chat completion, with or without the final usage chunk."""
    frames: list[tuple[str | None, Any]] = [(None, _chunk({"role": "assistant", "content": ""}))]
    frames += [(None, _chunk({"content": piece})) for piece in pieces]
    frames += [(None, _chunk({"tool_calls": [delta]})) for delta in tool_deltas or []]
    frames.append((None, _chunk({}, finish_reason)))
    if usage is not None:
        usage_chunk = _chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        }
        frames.append((None, usage_chunk))
    frames.append((None, "[DONE]"))
    return frames


def openai_error(status: int, code: str | None, message: str, type_: str = "invalid_request_error") -> Any:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


# -- Anthropic wire format ------------------------------------------------------------------


def anthropic_message(
    blocks: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (21, 9),
    model: str = "claude-test",
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def _event(kind: str, **fields: Any) -> tuple[str | None, Any]:
    return kind, {"type": kind, **fields}


def anthropic_stream(
    pieces: list[str],
    *,
    tool: tuple[str, str, list[str]] | None = None,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] | None = (21, 9),
) -> list[tuple[str | None, Any]]:
    """SSE frames of a streamed message: message_start ... message_stop."""
    message = anthropic_message([], stop_reason=stop_reason)
    message.update(stop_reason=None, usage={"input_tokens": usage[0], "output_tokens": 1} if usage else {})
    frames = [
        _event("message_start", message=message),
        _event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        _event("ping"),
    ]
    for piece in pieces:
        frames.append(_event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece}))
    frames.append(_event("content_block_stop", index=0))
    if tool is not None:
        call_id, name, parts = tool
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        frames.append(_event("content_block_start", index=1, content_block=block))
        for part in parts:
            delta = {"type": "input_json_delta", "partial_json": part}
            frames.append(_event("content_block_delta", index=1, delta=delta))
        frames.append(_event("content_block_stop", index=1))
    end: dict[str, Any] = {"delta": {"stop_reason": stop_reason, "stop_sequence": None}}
    if usage:
        end["usage"] = {"output_tokens": usage[1]}
    frames.append(_event("message_delta", **end))
    frames.append(_event("message_stop"))
    return frames


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}}
