"""The ``run_agent`` activity's input as an :class:`AgentCall`, each agent's spec validated once.

Every call carries its agent's whole spec, and a graph run again (a named graph, a supervisor's
rounds, a retried node) sends the same specs again: validating one is most of an
``AgentCall``'s validation, more on a cold pool thread. So a process keeps the specs it
validated, keyed by the exact content of the agent's JSON: ``marshal`` at version 2 (it keeps
types, key order and float bits, so ``1``, ``1.0`` and ``True`` differ; before version 3 it
writes no back-references, so equal content gives equal bytes however the objects are shared;
it refuses anything but plain values, and such a call is validated as before). A hit passes
the kept spec to the model's validation as an instance, which pydantic takes as it is; the
call's other fields are validated as before. A spec that fails validation is not kept (its
errors come from a full validation every time).

A kept spec is shared by the calls that hit it: it is a frozen model, and nothing changes a spec
(the orchestrator shares the specs of its own memo the same way, ADR 0042). Specs hold graph
text (prompts' templates, instructions), never a key, an input or an output. The memo is bounded
by entries and by the bytes of its keys; the oldest entries go first.
"""

from __future__ import annotations

import marshal
import threading
from collections.abc import Mapping
from typing import Any

from convergio.graph import AgentSpec

from ._call import AgentCall

__all__ = ["MAX_SPECS_KEPT", "SPEC_BYTES_KEPT", "forget_specs", "parse_call"]

MAX_SPECS_KEPT = 4096
"""Agent specs a process keeps (a 1000-agent graph fits four times)."""
SPEC_BYTES_KEPT = 8 << 20
"""The keys' total size the memo keeps (about as much again for the specs themselves)."""


class _Specs:
    """A FIFO of validated specs by key. A hit is one ``dict.get`` (atomic under the GIL, no
    lock: 16 activity threads read it at once); an insertion and its evictions take the lock."""

    def __init__(self) -> None:
        self.items: dict[bytes, AgentSpec] = {}
        self.size = 0
        self.lock = threading.Lock()

    def put(self, key: bytes, spec: AgentSpec) -> None:
        if len(key) > SPEC_BYTES_KEPT:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = spec
            self.size += len(key)
            while self.size > SPEC_BYTES_KEPT or len(self.items) > MAX_SPECS_KEPT:
                oldest = next(iter(self.items))
                del self.items[oldest]
                self.size -= len(oldest)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


_specs = _Specs()
_MARSHAL_VERSION = 2
"""No back-references (version 3 added them): the bytes depend on the content alone."""


def parse_call(call: Mapping[str, Any]) -> AgentCall:
    """``AgentCall.model_validate(call)``, the agent's spec taken from the memo when this process
    validated the same spec before (the same model, the same errors)."""
    agent = call.get("agent") if isinstance(call, dict) else None
    if type(agent) is not dict:
        return AgentCall.model_validate(call)
    try:
        key = marshal.dumps(agent, _MARSHAL_VERSION)
    except ValueError:  # not plain JSON values: validated as before, not kept
        return AgentCall.model_validate(call)
    spec = _specs.items.get(key)
    if spec is not None:
        return AgentCall.model_validate({**call, "agent": spec})
    validated = AgentCall.model_validate(call)
    _specs.put(key, validated.agent)
    return validated


def forget_specs() -> None:
    """Drop every kept spec (tests)."""
    _specs.clear()
