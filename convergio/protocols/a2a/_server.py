"""Named graphs published as A2A agents: the SDK's JSON-RPC dispatcher over durable runs.

Each task is a durable run (the task id is the run id); nothing lives in this process between
requests, so any instance answers any request. ``SendMessage`` starts a run and, unless the
client asks to return at once, waits a bounded while for it to end; ``GetTask`` reads the run,
``ListTasks`` pages through the caller's runs of the graph (``_listing``), ``CancelTask``
terminates it, ``SendStreamingMessage``/``SubscribeToTask`` stream its state changes. Every
request is checked before the SDK's dispatcher sees it (``_params``), so a malformed one gets
the JSON-RPC error A2A 1.0 (section 9.5) names, with a message naming the field.

The caller supplies ``GraphAgents`` for the tenant of the current request: this module
knows nothing of tenants, the Durable client or the graph library.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Protocol

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import RequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes import DefaultServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import (
    InternalError,
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._jsonrpc import JsonRpcRefusal
from .._types import TERMINAL_TASK_STATES
from ._convert import AgentInfo, RunSnapshot, agent_card, message_input, output_artifact, task_of
from ._listing import list_page, task_query
from ._params import refusal_response, screen_request

__all__ = ["GraphAgents", "GraphAgentHandler", "build_a2a_app"]

_log = logging.getLogger("convergio.protocols.a2a")
_PAUSED = TERMINAL_TASK_STATES | {"input_required"}


class GraphAgents(Protocol):
    """The graphs one caller may reach, and their runs. Raise ``ValueError`` for bad input
    (the message goes to the client), ``LookupError`` for an unknown or foreign run."""

    def describe(self, graph: str) -> AgentInfo | None:
        """The agent a graph publishes, or ``None`` when there is no such graph."""
        ...

    async def start(self, graph: str, run_input: Any, *, context_id: str) -> RunSnapshot:
        """Validate the input and start a run of ``graph``."""
        ...

    async def status(self, graph: str, run_id: str) -> RunSnapshot | None:
        """The run now; ``None`` when this caller has no such run of this graph."""
        ...

    async def cancel(self, graph: str, run_id: str) -> RunSnapshot | None:
        """Terminate the run; ``None`` as ``status``. Raise ``TaskNotCancelableError`` when it ended."""
        ...

    async def runs_of(self, graph: str) -> Sequence[RunSnapshot]:
        """This caller's runs of ``graph`` (``ListTasks``), each with its ``updated_at``; an
        implementation may bound how far back it looks, and says so."""
        ...


class GraphAgentHandler(RequestHandler):
    """The A2A methods for graph agents, over ``GraphAgents``.

    Args:
        agents: The current request's ``GraphAgents`` (read once per call).
        send_wait_s: How long a blocking ``SendMessage`` waits for the run to end before it
            answers with the task still working (Functions HTTP calls are time-limited).
        stream_limit_s: How long a stream follows a run before it ends with its current state.
        poll_s: How often a waiting call or a stream reads the run.
    """

    def __init__(
        self,
        agents: Callable[[], GraphAgents],
        *,
        send_wait_s: float = 25.0,
        stream_limit_s: float = 200.0,
        poll_s: float = 0.25,
    ) -> None:
        self._agents = agents
        self.send_wait_s = send_wait_s
        self.stream_limit_s = stream_limit_s
        self.poll_s = poll_s

    # -- messages -------------------------------------------------------------------

    async def on_message_send(self, params: pb.SendMessageRequest, context: ServerCallContext) -> pb.Task:
        graph = _graph(context)
        run = await self._start(graph, params)
        if not params.configuration.return_immediately:
            run = await self._follow(graph, run, self.send_wait_s, lambda _: None)
        return task_of(run)

    async def on_message_send_stream(
        self, params: pb.SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Any, None]:
        graph = _graph(context)
        run = await self._start(graph, params)
        yield task_of(run)
        async for event in self._stream(graph, run):
            yield event

    async def on_subscribe_to_task(
        self, params: pb.SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Any, None]:
        graph = _graph(context)
        run = await self._status(graph, params.id)
        if run.state in TERMINAL_TASK_STATES:
            raise UnsupportedOperationError(f"task {params.id!r} has ended ({run.state}); use GetTask")
        yield task_of(run)
        async for event in self._stream(graph, run):
            yield event

    # -- tasks ----------------------------------------------------------------------

    async def on_get_task(self, params: pb.GetTaskRequest, context: ServerCallContext) -> pb.Task | None:
        return task_of(await self._status(_graph(context), params.id))

    async def on_cancel_task(
        self, params: pb.CancelTaskRequest, context: ServerCallContext
    ) -> pb.Task | None:
        graph = _graph(context)
        try:
            run = await self._agents().cancel(graph, params.id)
        except (TaskNotCancelableError, TaskNotFoundError):
            raise
        except Exception:
            _log.error("cancelling an A2A task failed", exc_info=True)
            raise InternalError("Internal Server Error") from None
        if run is None:
            raise TaskNotFoundError(f"no task {params.id!r}")
        return task_of(run)

    async def on_list_tasks(
        self, params: pb.ListTasksRequest, context: ServerCallContext
    ) -> pb.ListTasksResponse:
        query = task_query(params)
        try:
            runs = await self._agents().runs_of(_graph(context))
        except Exception:
            _log.error("listing A2A tasks failed", exc_info=True)
            raise InternalError("Internal Server Error") from None
        page, token, total = list_page(runs, query)
        tasks = [task_of(run, with_artifact=query.include_artifacts) for run in page]
        return pb.ListTasksResponse(tasks=tasks, next_page_token=token, page_size=len(page), total_size=total)

    async def on_create_task_push_notification_config(
        self, params: pb.TaskPushNotificationConfig, context: ServerCallContext
    ) -> pb.TaskPushNotificationConfig:
        raise UnsupportedOperationError("push notifications: use the run webhooks of /api/v1/hooks")

    async def on_get_task_push_notification_config(
        self, params: pb.GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> pb.TaskPushNotificationConfig:
        raise UnsupportedOperationError("push notifications are not supported")

    async def on_list_task_push_notification_configs(
        self, params: pb.ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> pb.ListTaskPushNotificationConfigsResponse:
        raise UnsupportedOperationError("push notifications are not supported")

    async def on_delete_task_push_notification_config(
        self, params: pb.DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise UnsupportedOperationError("push notifications are not supported")

    async def on_get_extended_agent_card(
        self, params: pb.GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> pb.AgentCard:
        raise UnsupportedOperationError("there is no extended card: the public card says everything")

    # -- helpers --------------------------------------------------------------------

    async def _start(self, graph: str, params: pb.SendMessageRequest) -> RunSnapshot:
        message = params.message
        if message.task_id:
            raise UnsupportedOperationError(
                "a message continues no task here: each message starts a run (human input goes to "
                "POST /api/v1/runs/{id}/events/{name})"
            )
        try:
            run_input = message_input(message)
            return await self._agents().start(graph, run_input, context_id=message.context_id or "")
        except ValueError as exc:
            raise InvalidParamsError(str(exc)[:2000]) from None
        except Exception:
            _log.error("starting an A2A task failed", exc_info=True)
            raise InternalError("Internal Server Error") from None

    async def _status(self, graph: str, run_id: str) -> RunSnapshot:
        try:
            run = await self._agents().status(graph, run_id)
        except LookupError:
            run = None
        except Exception:
            _log.error("reading an A2A task failed", exc_info=True)
            raise InternalError("Internal Server Error") from None
        if run is None:
            raise TaskNotFoundError(f"no task {run_id!r}")
        return run

    async def _follow(
        self, graph: str, run: RunSnapshot, limit_s: float, seen: Callable[[RunSnapshot], None]
    ) -> RunSnapshot:
        """Read the run until it pauses or ends, or ``limit_s`` passes; ``seen`` gets every change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while run.state not in _PAUSED and loop.time() < deadline:
            await asyncio.sleep(self.poll_s)
            now = await self._status(graph, run.id)
            if now.state != run.state or now.waiting_for != run.waiting_for:
                seen(now)
            run = now
        return run

    async def _stream(self, graph: str, run: RunSnapshot) -> AsyncGenerator[Any, None]:
        """State changes as status events (the output as an artifact event first), until the run
        pauses or ends, or the stream's time is up."""
        deadline = asyncio.get_running_loop().time() + self.stream_limit_s
        while run.state not in _PAUSED and asyncio.get_running_loop().time() < deadline:
            changes: list[RunSnapshot] = []
            run = await self._follow(graph, run, self.poll_s * 4, changes.append)
            for change in changes:
                if change.state == "completed":
                    artifact = output_artifact(change)
                    yield pb.TaskArtifactUpdateEvent(
                        task_id=run.id, context_id=run.context_id, artifact=artifact, last_chunk=True
                    )
                status = task_of(change, with_artifact=False).status
                yield pb.TaskStatusUpdateEvent(task_id=run.id, context_id=run.context_id, status=status)


def _graph(context: ServerCallContext) -> str:
    return str(context.state["graph"])


class _ContextBuilder(DefaultServerCallContextBuilder):
    """The graph named in the path goes into the call context (the dispatcher does not pass the request)."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state["graph"] = request.path_params["graph"]
        return context


def build_a2a_app(
    agents: Callable[[], GraphAgents],
    *,
    prefix: str,
    version: str,
    handler: GraphAgentHandler | None = None,
) -> Starlette:
    """An ASGI app serving every graph at ``{prefix}/{graph}`` (JSON-RPC, A2A 1.0 and 0.3 names)
    and its card at ``{prefix}/{graph}/.well-known/agent-card.json``.

    Args:
        agents: The current request's ``GraphAgents`` (the caller authenticates first).
        prefix: The path the app is served under, e.g. ``/api/a2a``.
        version: The version the cards show.
        handler: The request handler (tests tune its timings); one is built by default.
    """
    prefix = "/" + prefix.strip("/")
    handler = handler or GraphAgentHandler(agents)
    dispatcher = JsonRpcDispatcher(handler, context_builder=_ContextBuilder(), enable_v0_3_compat=True)

    async def card(request: Request) -> Response:
        graph = request.path_params["graph"]
        info = agents().describe(graph)
        if info is None:
            return _not_found(graph)
        url = str(request.url_for("a2a_rpc", graph=graph))
        return JSONResponse(agent_card_to_dict(agent_card(info, url, version=version)))

    async def rpc(request: Request) -> Response:
        graph = request.path_params["graph"]
        if agents().describe(graph) is None:
            return _not_found(graph)
        try:
            screen_request(await request.body())  # the dispatcher reads the same, cached, body
        except JsonRpcRefusal as refusal:
            return JSONResponse(refusal_response(refusal))
        return await dispatcher.handle_requests(request)

    return Starlette(
        routes=[
            Route(f"{prefix}/{{graph}}/.well-known/agent-card.json", card, methods=["GET"]),
            Route(f"{prefix}/{{graph}}", rpc, methods=["POST"], name="a2a_rpc"),
        ]
    )


def _not_found(graph: str) -> Response:
    body = {"error": {"code": "not_found", "message": f"no agent named {graph!r}"}}
    return JSONResponse(body, status_code=404)
