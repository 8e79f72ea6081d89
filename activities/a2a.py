"""The ``a2a_send`` and ``a2a_poll`` activities: a graph node delegated to a remote A2A agent.

Thin: render the node's prompt, reach the agent through ``convergio.protocols.a2a.A2APeer`` (the
connection's key read from the secret store for this call only, the URL checked as provider
endpoints are), and return the remote task as a JSON outcome: ``completed`` with the answer,
``pending`` with the task id (the run polls again on a durable timer), or ``failed``. An agent
that cannot be reached raises, so the node's retries apply; a retry after the task exists polls.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from convergio.graph import TemplateError, render_prompt
from convergio.protocols import Endpoint, RemoteTask
from convergio.providers import check_endpoint
from convergio.secrets import SecretNotFound
from convergio.wiring import Components, components


class A2ACall(BaseModel):
    """What the run sends (see ``convergio.graph._a2a.a2a_call``)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    tenant: str
    node_id: str
    step: int
    url: str
    connection: str | None = None
    auth_header: str = "x-api-key"
    timeout_s: float = 30.0
    task_id: str | None = None
    prompt: str = ""
    input: JsonValue = None
    outputs: dict[str, JsonValue] = {}
    event: JsonValue = None


def a2a_send_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Send the node's rendered prompt; the remote task as an outcome."""
    request = A2ACall.model_validate(call)
    context = {"input": request.input, "outputs": request.outputs, "event": request.event, "task": None}
    try:
        text = render_prompt(request.prompt, context)
    except TemplateError as exc:
        return _failed(str(exc))
    return _attempt(
        request, lambda peer: peer.send(text, context_id=request.run_id, message_id=_message_id(request))
    )


def a2a_poll_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Read the remote task again."""
    request = A2ACall.model_validate(call)
    assert request.task_id is not None
    task_id = request.task_id
    return _attempt(request, lambda peer: peer.get(task_id))


def _attempt(request: A2ACall, act: Any) -> dict[str, Any]:
    from convergio.protocols.a2a import A2APeer, RemoteRejected  # the SDK loads on first use

    parts = components()
    try:
        peer = A2APeer(_endpoint(parts, request), check_url=lambda url: _check(parts, url))
        task: RemoteTask = act(peer)
    except (RemoteRejected, ValueError) as exc:  # a retry will not help: the node fails now
        return _failed(str(exc))
    except LookupError:
        return _failed(f"the remote agent no longer knows task {request.task_id!r}")
    return _outcome(task)


def _endpoint(parts: Components, request: A2ACall) -> Endpoint:
    headers: dict[str, str] = {}
    if request.connection:
        try:
            key = parts.secrets.get(request.tenant, request.connection)
        except SecretNotFound:
            raise ValueError(
                f"the key of connection {request.connection!r} is missing; set it again"
            ) from None
        headers[request.auth_header] = key.reveal()
    return Endpoint("a2a", request.url, headers=headers, timeout_s=request.timeout_s)


def _check(parts: Components, url: str) -> None:
    """Remote agents are reached under the rules of provider endpoints (https and public when hosted)."""
    settings = parts.settings
    check_endpoint(url, allowed_hosts=settings.provider_allowed_hosts, local_mode=not settings.hosted)


def _outcome(task: RemoteTask) -> dict[str, Any]:
    if task.state == "completed":
        return {"status": "completed", "output": task.output or "", "task_id": task.id, "usage": {}}
    if task.state == "input_required":
        return _failed(f"the remote task {task.id!r} asks for input, which an a2a node cannot give")
    if task.done:
        return _failed(f"the remote task ended {task.state}: {task.error or 'no reason given'}")
    return {"status": "pending", "task_id": task.id, "remote_state": task.state, "usage": {}}


def _failed(error: str) -> dict[str, Any]:
    return {"status": "failed", "error": error[:2000], "usage": {}}


def _message_id(request: A2ACall) -> str:
    """The same for a re-delivered activity, so an agent that dedups sees one message."""
    return f"{request.run_id}/{request.node_id}/{request.step}"
