"""Capabilities as host functions: each granted capability links its ``convergio.*`` imports.

A host function reads its arguments from guest memory, does its work for the tenant and plugin of
the running call (never ones the guest names), and writes any answer back into guest memory
through the guest's own ``alloc``. Refusals are answers (a negative code, or a JSON error), not
crashes; only a guest that hands over bad pointers is stopped, with a ``PluginTrap``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from convergio import _json as bounded_json

from ._abi import ERR_DENIED, ERR_NOT_FOUND, ERR_QUOTA, ERR_TOO_LARGE, HOST_MODULE, pack
from ._errors import PluginTrap
from ._http import fetch
from ._kv import PluginKV
from ._manifest import Capabilities

__all__ = ["CallContext", "LLMComplete", "LLMRequest", "define_capabilities"]

logger = logging.getLogger("convergio.plugins")

LOG_BYTES = 1024
"""A log line is cut at this many bytes."""
LOG_LINES = 64
"""Lines past this many in one call are dropped."""
REQUEST_BYTES = 64 * 1024
"""The largest JSON request a guest may pass to ``http_fetch`` or ``llm_complete``."""
HOST_CALLS = 16
"""The most ``http_fetch`` plus ``llm_complete`` calls in one plugin call."""


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """A completion a plugin asks for.

    Attributes:
        prompt: The user prompt.
        system: The system prompt, if any.
        max_tokens: At most this many output tokens (already capped by the grant).
    """

    prompt: str
    system: str | None
    max_tokens: int


LLMComplete = Callable[[LLMRequest], str]
"""The caller's completion function, e.g. the tenant's own provider within the agent's budget.

It returns the completion text, and raises to refuse (the message goes back to the guest).
"""


@dataclass(slots=True)
class CallContext:
    """Who is calling and what they may use, for one plugin call.

    Attributes:
        tenant_id: The tenant the call runs for.
        plugin: The plugin's name.
        grants: The capabilities the tenant granted this plugin.
        kv: The key-value store (needed when ``kv`` is granted).
        llm: The completion function (``llm_complete`` answers an error without one).
        deadline: ``time.monotonic()`` value after which the call is out of wall time.
        public_only: Hosted mode: ``http_fetch`` reaches public addresses only, whatever the
            grant lists (no cloud metadata endpoint, no loopback, no private network).
        log_lines: Lines logged so far.
        host_calls: ``http_fetch`` and ``llm_complete`` calls so far.
    """

    tenant_id: str
    plugin: str
    grants: Capabilities
    kv: PluginKV | None = None
    llm: LLMComplete | None = None
    deadline: float = field(default_factory=lambda: time.monotonic() + 2.0)
    public_only: bool = False
    log_lines: int = 0
    host_calls: int = 0


_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()


def define_capabilities(linker: wasmtime.Linker, context: CallContext) -> None:
    """Link the host functions of the granted capabilities, and only those.

    Args:
        linker: A fresh linker for one call.
        context: The call's tenant, plugin and grants.
    """
    grants = context.grants
    if grants.log is not None:
        linker.define_func(
            HOST_MODULE, "log", wasmtime.FuncType([_I32, _I32], []), _bind(_log, context), access_caller=True
        )
    if grants.kv is not None:
        linker.define_func(
            HOST_MODULE, "kv_get", wasmtime.FuncType([_I32, _I32], [_I64]), _bind(_kv_get, context), True
        )
        linker.define_func(
            HOST_MODULE,
            "kv_put",
            wasmtime.FuncType([_I32, _I32, _I32, _I32], [_I32]),
            _bind(_kv_put, context),
            True,
        )
    if grants.http is not None:
        linker.define_func(
            HOST_MODULE,
            "http_fetch",
            wasmtime.FuncType([_I32, _I32], [_I64]),
            _bind(_http_fetch, context),
            True,
        )
    if grants.llm is not None:
        linker.define_func(
            HOST_MODULE, "llm_complete", wasmtime.FuncType([_I32, _I32], [_I64]), _bind(_llm, context), True
        )


def _bind(function: Callable[..., Any], context: CallContext) -> Callable[..., Any]:
    def host_function(caller: wasmtime.Caller, *args: int) -> Any:
        return function(context, caller, *args)

    return host_function


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise PluginTrap("the module exports no memory")
    return memory


def read_guest(caller: wasmtime.Caller, ptr: int, length: int) -> bytes:
    """Copy ``length`` bytes at ``ptr`` out of guest memory, refusing out-of-bounds ranges.

    Raises:
        PluginTrap: the range is not inside the guest's memory.
    """
    memory = _memory(caller)
    ptr &= 0xFFFFFFFF
    length &= 0xFFFFFFFF
    if ptr + length > memory.data_len(caller):
        raise PluginTrap(f"host call with out-of-bounds memory range {ptr}+{length}")
    return bytes(memory.read(caller, ptr, ptr + length))


def write_guest(caller: wasmtime.Caller, data: bytes) -> int:
    """Copy ``data`` into memory the guest allocates with its ``alloc`` export.

    Returns:
        The packed ``ptr << 32 | len`` for the guest.

    Raises:
        PluginTrap: no ``alloc`` export, or it returned a range outside memory.
    """
    alloc = caller.get("alloc")
    if not isinstance(alloc, wasmtime.Func):
        raise PluginTrap("the module exports no alloc function")
    ptr = alloc(caller, len(data))
    if not isinstance(ptr, int):
        raise PluginTrap("alloc returned no pointer")
    ptr &= 0xFFFFFFFF
    memory = _memory(caller)
    if ptr + len(data) > memory.data_len(caller):
        raise PluginTrap(f"alloc({len(data)}) returned an out-of-bounds pointer {ptr}")
    memory.write(caller, data, ptr)
    return pack(ptr, len(data))


def _log(context: CallContext, caller: wasmtime.Caller, ptr: int, length: int) -> None:
    context.log_lines += 1
    if context.log_lines > LOG_LINES:
        return
    text = read_guest(caller, ptr, min(length & 0xFFFFFFFF, LOG_BYTES)).decode("utf-8", errors="replace")
    logger.info("plugin %s (tenant %s): %s", context.plugin, context.tenant_id, text)


def _kv_get(context: CallContext, caller: wasmtime.Caller, ptr: int, length: int) -> int:
    assert context.kv is not None, "kv granted without a store"
    if length & 0xFFFFFFFF > context.kv.key_bytes:
        return ERR_TOO_LARGE
    value = context.kv.get(context.tenant_id, context.plugin, read_guest(caller, ptr, length))
    return ERR_NOT_FOUND if value is None else write_guest(caller, value)


def _kv_put(context: CallContext, caller: wasmtime.Caller, kptr: int, klen: int, vptr: int, vlen: int) -> int:
    assert context.kv is not None, "kv granted without a store"
    if klen & 0xFFFFFFFF > context.kv.key_bytes or vlen & 0xFFFFFFFF > context.kv.value_bytes:
        return ERR_TOO_LARGE
    key, value = read_guest(caller, kptr, klen), read_guest(caller, vptr, vlen)
    outcome = context.kv.put(context.tenant_id, context.plugin, key, value)
    return {"ok": 0, "too_large": ERR_TOO_LARGE, "quota": ERR_QUOTA}.get(outcome, ERR_DENIED)


def _json_request(context: CallContext, caller: wasmtime.Caller, ptr: int, length: int) -> Any:
    context.host_calls += 1
    if context.host_calls > HOST_CALLS:
        return _refusal("too_many_calls", f"at most {HOST_CALLS} host calls per plugin call")
    if length & 0xFFFFFFFF > REQUEST_BYTES:
        return _refusal("too_large", f"requests are at most {REQUEST_BYTES} bytes")
    try:
        return bounded_json.loads(read_guest(caller, ptr, length).decode("utf-8"))
    except bounded_json.TooDeep as exc:
        return _refusal("bad_request", str(exc))
    except ValueError:  # UnicodeDecodeError, JSONDecodeError
        return _refusal("bad_request", "the request is not UTF-8 JSON")


def _http_fetch(context: CallContext, caller: wasmtime.Caller, ptr: int, length: int) -> int:
    request = _json_request(context, caller, ptr, length)
    if isinstance(request, _Refusal):
        answer = request.body
    else:
        assert context.grants.http is not None
        remaining = context.deadline - time.monotonic()
        if remaining <= 0:
            answer = _refusal("timeout", "the call is out of wall time").body
        else:
            answer = fetch(request, context.grants.http, timeout_s=remaining, public_only=context.public_only)
    return write_guest(caller, json.dumps(answer, ensure_ascii=False).encode())


def _llm(context: CallContext, caller: wasmtime.Caller, ptr: int, length: int) -> int:
    request = _json_request(context, caller, ptr, length)
    answer: dict[str, Any]
    if isinstance(request, _Refusal):
        answer = request.body
    elif context.llm is None:
        answer = _refusal("unavailable", "no model is available to this call").body
    elif not isinstance(request, dict) or not isinstance(request.get("prompt"), str):
        answer = _refusal("bad_request", 'expected {"prompt": "...", "system"?, "max_tokens"?}').body
    else:
        assert context.grants.llm is not None
        system = request.get("system")
        asked = request.get("max_tokens", context.grants.llm.max_tokens)
        max_tokens = min(asked, context.grants.llm.max_tokens) if isinstance(asked, int) and asked > 0 else 1
        try:
            text = context.llm(
                LLMRequest(request["prompt"], system if isinstance(system, str) else None, max_tokens)
            )
            answer = {"text": text}
        except Exception as exc:
            answer = _refusal("llm_failed", f"{type(exc).__name__}: {str(exc)[:200]}").body
    return write_guest(caller, json.dumps(answer, ensure_ascii=False).encode())


@dataclass(frozen=True, slots=True)
class _Refusal:
    body: dict[str, Any]


def _refusal(code: str, message: str) -> _Refusal:
    return _Refusal({"error": {"code": code, "message": message}})
