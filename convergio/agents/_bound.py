"""How many output tokens one provider call may ask for, so no call can spend past a budget.

Every provider request carries ``max_output_tokens`` (ADR 0016): a request without one lets
the model write as much as it likes and the spend is only known afterwards, which is how a
monthly cap was overspent by two thirds. The bound is the least of

- what the token budgets leave (the agent's and the run's, passed in ``Limits.max_tokens``),
- the model's own output limit (``output_limits.json``: a request above it is a 400),
- what the money budgets can pay at the model's output price: an :class:`Allowance` (the
  tenant's monthly budget and managed-key cap, see ``convergio.quotas``) answers that, and
  may also name a cheaper model to call instead (a managed-key downgrade).

The prompt is priced by :func:`prompt_bound`, an upper bound on its tokens rather than an
estimate: a byte-level BPE token is at least one byte, so UTF-8 bytes never undercount, and a
reservation built on it is never too small for the prompt the provider will bill.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from convergio.providers import Message, ToolSpec, Usage

__all__ = ["Allowance", "Allowed", "Bound", "next_bound", "output_ceiling", "prompt_bound"]

_LIMITS_FILE = Path(__file__).with_name("output_limits.json")
_MESSAGE_BYTES = 16
"""Bytes counted per message for its role and delimiters (chat formats spend 3-4 tokens)."""


@dataclass(frozen=True, slots=True)
class Allowed:
    """The answer of an :class:`Allowance`: at most ``max_tokens`` output tokens (0: none, with
    ``reason``), from ``model`` when it is not ``None`` (a cheaper model than the one asked)."""

    max_tokens: int
    model: str | None = None
    reason: str = ""


class Allowance(Protocol):
    """What the money budgets let one agent call spend, asked before each of its provider calls."""

    def allow(self, *, model: str, prompt_tokens: int, want: int, used: Usage) -> Allowed:
        """The output tokens the next provider call may ask for (at most ``want``).

        Args:
            model: The model the call would use.
            prompt_tokens: An upper bound on the next request's prompt tokens.
            want: The output tokens the other limits allow.
            used: What this agent call's earlier provider calls used (provider counts).
        """
        ...


def prompt_bound(messages: Iterable[Message], tools: Iterable[ToolSpec] = ()) -> int:
    """An upper bound on a request's prompt tokens: its UTF-8 bytes, plus a little per message."""
    total = 0
    for message in messages:
        total += _MESSAGE_BYTES + len(message.content.encode())
        for call in message.tool_calls:
            total += len(call.name.encode()) + len(json.dumps(call.arguments, ensure_ascii=False).encode())
    for tool in tools:
        schema = json.dumps(tool.parameters, ensure_ascii=False)
        total += _MESSAGE_BYTES + len(f"{tool.name}{tool.description}{schema}".encode())
    return total


def output_ceiling(provider: str, model: str) -> int:
    """The most output tokens ``model`` accepts (the data file's ``default`` when unknown)."""
    default, models = _limits()
    found = models.get(f"{provider}:{model}") or models.get(f"{provider}:*")
    if found is None:  # a dated snapshot or deployment name: the longest known name it starts with
        prefix = f"{provider}:{model}"
        known = [key for key in models if prefix.startswith(key) and not key.endswith("*")]
        found = models[max(known, key=len)] if known else default
    return found


@cache
def _limits() -> tuple[int, Mapping[str, int]]:
    data = json.loads(_LIMITS_FILE.read_text(encoding="utf-8"))
    return int(data["default"]), {str(k): int(v) for k, v in data["models"].items()}


@dataclass(frozen=True, slots=True)
class Bound:
    """The next request's ``max_output_tokens`` (0: nothing affordable, ``reason`` says why), the
    model to ask (``None``: the agent's own) and whether the money budgets set the bound."""

    max_tokens: int
    model: str | None
    by_money: bool = False
    reason: str = ""


def next_bound(
    provider: str,
    model: str,
    cap: int | None,
    prompt: int,
    allowance: Allowance | None,
    used: Usage,
) -> Bound:
    """The bound of the next request: ``cap`` (what the token budgets leave, ``None``: no
    limit), the model's output limit and, with an ``allowance``, what the money budgets pay
    for a prompt of at most ``prompt`` tokens."""
    want = output_ceiling(provider, model) if cap is None else min(cap, output_ceiling(provider, model))
    if allowance is None:
        return Bound(want, None)
    allowed = allowance.allow(model=model, prompt_tokens=prompt, want=want, used=used)
    tokens = min(allowed.max_tokens, want)
    return Bound(max(tokens, 0), allowed.model, tokens < want, allowed.reason)
