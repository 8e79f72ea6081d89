"""An MCP server the tests start: the SDK's own ``MCPServer`` on loopback, behind a header check.

It speaks the SDK's default streamable HTTP (stateful sessions, SSE answers), the shape a
tenant's real server most likely has, and records the tool calls it serves.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER = "x-docs-token"


class ToolServer:
    """The ``docs`` server: ``add``, ``shout``, ``broken`` (fails) and ``slow``, at ``url``."""

    def __init__(self, token: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0
        self.token = token
        self.url = ""
        server = MCPServer("docs")

        @server.tool(description="Add two integers.")
        def add(a: int, b: int) -> str:
            self.calls.append(("add", {"a": a, "b": b}))
            return str(a + b)

        @server.tool(description="Shout a text back.")
        def shout(text: str) -> str:
            self.calls.append(("shout", {"text": text}))
            return f"{text.upper()}!"

        @server.tool(description="Always fails.")
        def broken() -> str:
            self.calls.append(("broken", {}))
            raise ToolError("the index is offline")

        @server.tool(description="Answers after a while.")
        async def slow(seconds: float) -> str:
            self.calls.append(("slow", {"seconds": seconds}))
            await anyio.sleep(seconds)
            return "late"

        self.app = self._guarded(server.streamable_http_app(json_response=False))
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mcp-tool-server", daemon=True)

    def _guarded(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and self.token is not None:
                sent = dict(scope["headers"]).get(TOKEN_HEADER.encode(), b"").decode()
                if sent != self.token:
                    self.refused += 1
                    await send({"type": "http.response.start", "status": 401, "headers": []})
                    await send({"type": "http.response.body", "body": b"unauthorized"})
                    return
            await app(scope, receive, send)

        return guarded

    def __enter__(self) -> ToolServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP tool server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
