"""Guards: tools every text passes through on its way to the model and on its way out.

A guard is an ordinary tool (built in, or a tenant's plugin) called with ``{"text", "stage"}``
— ``prompt`` before a text reaches the model, ``output`` before an answer leaves the agent —
that answers the text to use (redaction), or a JSON object ``{"text", "blocked", "reason"}``.
A guard that fails or blocks stops the text: an unchecked text must never reach the model
or the run's output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from convergio.tools import Tool, ToolError, call_tool

__all__ = ["Blocked", "Guards", "Stage"]

Stage = Literal["prompt", "output"]


class Blocked(Exception):
    """A guard refused a text, or failed while checking it; the message says which and why."""


class Guards:
    """The guards of one agent call, in order, counting their calls (they are billed as tool calls)."""

    def __init__(self, tools: Sequence[Tool] = ()) -> None:
        self._tools = tuple(tools)
        self.calls = 0

    def check(self, text: str, stage: Stage) -> str:
        """The text after every guard.

        Raises:
            Blocked: a guard blocked the text or failed.
        """
        for guard in self._tools:
            self.calls += 1
            try:
                answer = call_tool(guard, {"text": text, "stage": stage})
            except ToolError as exc:
                raise Blocked(f"guard {exc}") from None
            text, reason = _verdict(answer)
            if reason is not None:
                raise Blocked(f"blocked by guard {guard.name} ({stage}): {reason}")
        return text


def _verdict(answer: str) -> tuple[str, str | None]:
    """(text to use, why it is blocked or ``None``) from a guard's answer."""
    try:
        verdict = json.loads(answer)
    except ValueError:
        return answer, None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("text"), str):
        return answer, None
    if verdict.get("blocked") is True:
        reason = verdict.get("reason")
        return verdict["text"], reason if isinstance(reason, str) and reason else "no reason given"
    return verdict["text"], None
