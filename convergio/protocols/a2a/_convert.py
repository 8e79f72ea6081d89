"""What a published graph agent says in A2A terms: its card, a message as run input, a run as a task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from a2a.helpers.proto_helpers import get_data_parts, get_text_parts, new_data_part, new_text_part
from a2a.types import a2a_pb2 as pb

from .._types import TaskState

__all__ = ["AgentInfo", "RunSnapshot", "agent_card", "message_input", "task_of", "API_KEY_HEADER", "PB_STATE"]

API_KEY_HEADER = "x-api-key"
_SCHEME = "apiKey"
_MODES = ["text/plain", "application/json"]
PB_STATE: dict[TaskState, int] = {
    "submitted": pb.TASK_STATE_SUBMITTED,
    "working": pb.TASK_STATE_WORKING,
    "input_required": pb.TASK_STATE_INPUT_REQUIRED,
    "completed": pb.TASK_STATE_COMPLETED,
    "failed": pb.TASK_STATE_FAILED,
    "canceled": pb.TASK_STATE_CANCELED,
    "rejected": pb.TASK_STATE_REJECTED,
}


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """A named graph as an agent: what its card shows."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] | None = None
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A durable run as its A2A task sees it.

    Attributes:
        id: The run id, which is the task id.
        state: The task state the run maps to (``input_required`` while it awaits human input).
        context_id: The A2A conversation the task belongs to.
        output: The run's output once completed (text, or JSON data).
        error: Why it failed or was cancelled.
        waiting_for: The nodes awaiting human input (``input_required``).
        updated_at: When the run last changed: the task status timestamp ListTasks sorts on.
        created_at: When the run started (breaks ties between runs updated in the same second).
    """

    id: str
    state: TaskState
    context_id: str = ""
    output: Any = None
    error: str | None = None
    waiting_for: tuple[str, ...] = field(default=())
    updated_at: datetime | None = None
    created_at: datetime | None = None


def agent_card(info: AgentInfo, url: str, *, version: str) -> pb.AgentCard:
    """The card of one graph agent served at ``url`` (its JSON-RPC endpoint).

    The card declares the API key in the ``x-api-key`` header as the one security scheme.
    """
    description = info.description or f"The Convergio graph {info.name!r}."
    if info.input_schema is not None:
        schema = json.dumps(info.input_schema, sort_keys=True)
        skill_text = f"{description}\nInput (a JSON object in a text or data part): {schema}"
    else:
        skill_text = f"{description}\nInput: the message text."
    return pb.AgentCard(
        name=info.name,
        description=description,
        version=version,
        supported_interfaces=[pb.AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")],
        provider=pb.AgentProvider(organization="Convergio", url=url.split("/api/", 1)[0]),
        capabilities=pb.AgentCapabilities(streaming=True, push_notifications=False),
        security_schemes={
            _SCHEME: pb.SecurityScheme(
                api_key_security_scheme=pb.APIKeySecurityScheme(
                    location="header", name=API_KEY_HEADER, description="the tenant's Convergio API key"
                )
            )
        },
        security_requirements=[pb.SecurityRequirement(schemes={_SCHEME: pb.StringList()})],
        default_input_modes=_MODES,
        default_output_modes=_MODES,
        skills=[
            pb.AgentSkill(
                id=info.name,
                name=info.name,
                description=skill_text,
                tags=["convergio", "graph"],
                examples=list(info.examples)[:10],
                input_modes=_MODES,
                output_modes=_MODES,
            )
        ],
    )


def message_input(message: pb.Message) -> Any:
    """The run input a message carries: its one data part, a text that is a JSON object, or the text.

    Raises:
        ValueError: the message carries nothing usable, or several data parts.
    """
    data = get_data_parts(message.parts)
    if len(data) > 1:
        raise ValueError("message.parts: send one data part (the run input), not several")
    if data:
        return _integral(data[0])
    text = "\n".join(get_text_parts(message.parts)).strip()
    if not text:
        raise ValueError("message.parts: a text or data part with the run input is required")
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, dict):
            return value
    return text


def task_of(run: RunSnapshot, *, with_artifact: bool = True) -> pb.Task:
    """The A2A task of a run: its state, its output as an artifact, its error as a status message."""
    status = pb.TaskStatus(state=PB_STATE[run.state])  # type: ignore[arg-type]
    if run.updated_at is not None:
        status.timestamp.FromDatetime(run.updated_at.astimezone(UTC))
    if run.error and run.state in ("failed", "canceled", "rejected"):
        status.message.CopyFrom(_agent_message(run, [new_text_part(run.error)]))
    elif run.waiting_for:
        note = "waiting for human input: " + ", ".join(run.waiting_for)
        status.message.CopyFrom(_agent_message(run, [new_text_part(note)]))
    task = pb.Task(id=run.id, context_id=run.context_id, status=status)
    if with_artifact and run.state == "completed":
        task.artifacts.append(output_artifact(run))
    return task


def output_artifact(run: RunSnapshot) -> pb.Artifact:
    """The run's output: a text part for text, a data part for anything else."""
    output = run.output
    part = new_text_part(output) if isinstance(output, str) else new_data_part(output)
    return pb.Artifact(artifact_id=f"{run.id}-output", name="output", parts=[part])


def _agent_message(run: RunSnapshot, parts: Sequence[pb.Part]) -> pb.Message:
    return pb.Message(
        message_id=f"{run.id}-{run.state}",
        role=pb.ROLE_AGENT,
        parts=parts,
        task_id=run.id,
        context_id=run.context_id,
    )


def _integral(value: Any) -> Any:
    """Whole floats back to ints (protobuf carries every number as a double)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
