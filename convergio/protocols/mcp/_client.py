"""A remote MCP server as a ``ToolServer``: the official ``mcp`` client behind synchronous calls.

Activities run in worker threads without an event loop, so each call runs the SDK's async
client on a loop of its own (``asyncio.run``), connects, does one thing and disconnects: the
connection is as short-lived as the activity, and nothing outlives a crash. A call made from
a thread that already runs a loop is moved to a helper thread rather than nesting loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeVar

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ContentBlock, TextContent

from convergio.protocols._types import Endpoint, RemoteToolInfo

__all__ = ["MAX_LISTED_TOOLS", "MAX_RESULT_CHARS", "McpToolServer"]

MAX_LISTED_TOOLS = 256
"""Tools kept from one server's listing (more pages are not fetched)."""
MAX_RESULT_CHARS = 32_000
"""A tool's result text is cut here, so one answer cannot flood the model's context."""
_MAX_PAGES = 16

_T = TypeVar("_T")


class McpToolServer:
    """One MCP server, reached over streamable HTTP (or stdio, where the caller allows it).

    Args:
        endpoint: Where it is; ``headers`` go with every HTTP request, ``timeout_s`` bounds each
            whole call (connect, negotiate, request).
        label: How messages name the server (its registered name), never its URL, which
            may carry tokens in its query.
    """

    def __init__(self, endpoint: Endpoint, label: str = "mcp server") -> None:
        if endpoint.transport == "http" and not endpoint.url:
            raise ValueError("an http MCP endpoint needs a url")
        if endpoint.transport == "stdio" and not endpoint.command:
            raise ValueError("a stdio MCP endpoint needs a command")
        self._endpoint = endpoint
        self._label = label

    def list_tools(self) -> list[RemoteToolInfo]:
        """The tools the server offers now, at most ``MAX_LISTED_TOOLS``.

        Raises:
            ConnectionError: unreachable, timed out, or answered a protocol error (an HTTP error
                status included: a wrong URL or missing headers).
        """
        try:
            return self._run(self._list)
        except ValueError as exc:
            raise ConnectionError(str(exc)) from None

    def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """Call one tool; its content as text (``MAX_RESULT_CHARS`` at most).

        Raises:
            ConnectionError: unreachable or timed out.
            ValueError: the tool answered ``isError``, or the server refused the call (an
                unknown tool, bad arguments); the message is meant for the model.
        """
        result = self._run(lambda client: client.call_tool(name, arguments))
        text = result_text(result)
        if result.is_error:
            raise ValueError(text or "the tool reported an error")
        return text

    async def _list(self, client: Client) -> list[RemoteToolInfo]:
        tools: list[RemoteToolInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(
                RemoteToolInfo(tool.name, tool.description or "", dict(tool.input_schema))
                for tool in page.tools
            )
            cursor = page.next_cursor
            if cursor is None or len(tools) >= MAX_LISTED_TOOLS:
                break
        return tools[:MAX_LISTED_TOOLS]

    def _run(self, action: Callable[[Client], Awaitable[_T]]) -> _T:
        timeout = self._endpoint.timeout_s

        async def session() -> _T:
            with anyio.fail_after(timeout):
                async with AsyncExitStack() as stack:
                    client = await stack.enter_async_context(self._client(stack))
                    return await action(client)

        try:
            return _run_sync(session)
        except MCPError as exc:
            raise ValueError(_refused(self._label, exc)) from None
        except BaseException as exc:  # ExceptionGroups from the SDK's task groups included
            raise self._failure(exc) from None

    def _client(self, stack: AsyncExitStack) -> AbstractAsyncContextManager[Client]:
        endpoint = self._endpoint
        if endpoint.transport == "stdio":
            command, *args = endpoint.command
            return Client(StdioServerParameters(command=command, args=list(args)))
        http = httpx2.AsyncClient(headers=dict(endpoint.headers), timeout=endpoint.timeout_s)
        stack.push_async_callback(http.aclose)
        assert endpoint.url is not None  # checked in __init__
        return Client(streamable_http_client(endpoint.url, http_client=http))

    def _failure(self, exc: BaseException) -> BaseException:
        leaf = _leaf(exc)
        if isinstance(leaf, MCPError):
            return ValueError(_refused(self._label, leaf))
        if isinstance(leaf, TimeoutError):
            return ConnectionError(f"{self._label} did not answer within {self._endpoint.timeout_s:g} s")
        if isinstance(leaf, Exception):
            return ConnectionError(f"{self._label} could not be reached ({type(leaf).__name__})")
        return exc  # KeyboardInterrupt, SystemExit: not ours to translate


def result_text(result: CallToolResult) -> str:
    """A tool result as the text a model reads: its text blocks, or its structured content."""
    parts = [_block_text(block) for block in result.content]
    text = "\n".join(part for part in parts if part)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    if len(text) > MAX_RESULT_CHARS:
        text = text[: MAX_RESULT_CHARS - 15] + " ...(truncated)"
    return text


def _block_text(block: ContentBlock) -> str:
    if isinstance(block, TextContent):
        return block.text
    kind = getattr(block, "type", "content")
    mime = getattr(block, "mime_type", None)
    return f"[{kind}{f' {mime}' if mime else ''} omitted]"


def _refused(label: str, error: MCPError) -> str:
    return f"{label} refused the request: {error.message}"


def _leaf(exc: BaseException) -> BaseException:
    """The first real cause inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _run_sync(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion from synchronous code, whatever the calling thread runs."""

    async def main() -> _T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-call") as pool:
        return pool.submit(asyncio.run, main()).result()
