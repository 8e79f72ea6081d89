"""What the host checks before any endpoint runs: keys for its own routes, the body size limit.

The Functions host authenticates a request before the function (or extension webhook) reads a
byte of its body, and Kestrel stops a body at ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`` (100 MB by
default). This ASGI middleware does both for the embedded host: a declared ``Content-Length``
over the limit is refused at once, a body without one is counted as the endpoint pulls it and
cut off (413) the moment it passes the limit, so nothing larger is ever held in memory. The key
checks here cover the host's own routes (Durable API, Event Grid, admin); HTTP triggers are
checked by their declared auth level once routing has found the function, still before reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._keys import HostKeys, Level, presented_key

__all__ = ["DEFAULT_BODY_LIMIT", "Gate", "Rule", "body_limit_from_env"]

DEFAULT_BODY_LIMIT = 100 * 1024 * 1024  # the Functions host's default maxRequestBodySize
_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
_NO_KEY = "a valid key is required (code= query parameter or x-functions-key header)"


def body_limit_from_env() -> int:
    """The limit in bytes: the app setting the Functions host reads, else its 100 MB default."""
    value = os.environ.get(_LIMIT_SETTING, "").strip()
    if not value:
        return DEFAULT_BODY_LIMIT
    limit = int(value)
    if limit <= 0:
        raise ValueError(f"{_LIMIT_SETTING} must be a positive number of bytes")
    return limit


@dataclass(frozen=True, slots=True)
class Rule:
    """Requests whose path is ``path`` or under ``path/`` need ``level`` (and that system key)."""

    path: str
    level: Level
    system_key: str = ""
    exempt: tuple[str, ...] = ()

    def covers(self, path: str) -> bool:
        return (path == self.path or path.startswith(self.path + "/")) and path not in self.exempt


class _TooLarge(Exception):
    """Raised from ``receive`` once a body passes the limit (not a ValueError: nobody eats it)."""


async def _send_refusal(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware: the body limit for every request, key checks for the host's own routes."""

    def __init__(self, app: ASGIApp, *, keys: HostKeys, body_limit: int, rules: Sequence[Rule]) -> None:
        self.app, self.keys, self.limit, self.rules = app, keys, body_limit, tuple(rules)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await _send_refusal(send, 413, "payload_too_large", self._too_large())
            return
        path = scope["path"]
        for rule in self.rules:
            if rule.covers(path):
                key = presented_key(headers, QueryParams(scope.get("query_string", b"")))
                if not self.keys.allows(key, rule.level, rule.system_key):
                    await _send_refusal(send, 401, "unauthorized", _NO_KEY)
                    return
                break
        received, started = 0, False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLarge:
            if started:
                raise
            await _send_refusal(send, 413, "payload_too_large", self._too_large())

    def _too_large(self) -> str:
        return f"the request body is larger than the limit of {self.limit} bytes"
